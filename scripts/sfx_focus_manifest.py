"""A codec training manifest of the SFX corpus that dwells on the synthesiser's pitched sounds (issue 15).

Why: the sfxr-style sounds (laser, pick-up, power-up, jump, blip, alarm) are a second of file around a
0.1-0.4 s sound, and a uniform 0.5 s crop of such a file is mostly silence; with them a few percent of the
clips, the codec sees a pitch sweep in well under 1 % of its training audio and turns lasers into noise bursts.
This writes a copy of the train manifest where those clips' `duration` ends shortly after their sound (so a crop
starts on it) and their `weight` is raised, for `data.sample_on_weight=true`.

    .venv/bin/python scripts/sfx_focus_manifest.py $DATA/sfx-v1 --weight 4
    # -> $DATA/sfx-v1/train_focus.jsonl (same folder: the manifest's relative paths stay valid)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

PITCHED = ("laser", "pickup", "powerup", "jump", "blip", "alarm")


def sound_end(path: Path, floor_db: float = -50.0) -> float:
    """Seconds to the last sample within `floor_db` of the clip's peak."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    a = np.abs(x).max(axis=1)
    loud = np.nonzero(a > a.max() * 10 ** (floor_db / 20))[0] if a.max() > 0 else np.array([len(a) - 1])
    return float(loud[-1] + 1) / sr


def focus_line(meta: dict, corpus: Path, weight: float, tail: float) -> dict:
    sidecar = corpus / meta["path"].replace(".flac", ".json")
    if "/synth/" not in meta["path"] or not sidecar.exists():
        return meta
    gen = json.loads(sidecar.read_text()).get("source", {}).get("generator")
    if gen not in PITCHED:
        return meta
    end = min(meta["duration"], sound_end(corpus / meta["path"]) + tail)
    return {**meta, "duration": round(end, 3), "weight": weight}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", type=Path)
    p.add_argument("--weight", type=float, default=4.0, help="sampling weight of the pitched synthesiser clips")
    p.add_argument("--tail", type=float, default=0.1, help="seconds kept after a pitched clip's sound ends")
    p.add_argument("--out", default="train_focus.jsonl")
    a = p.parse_args(argv)
    lines = [json.loads(s) for s in (a.corpus / "train.jsonl").read_text().splitlines() if s.strip()]
    out = [focus_line(m, a.corpus, a.weight, a.tail) for m in lines]
    n = sum(1 for m in out if m.get("weight"))
    tmp = a.corpus / (a.out + ".tmp")
    tmp.write_text("".join(json.dumps(m) + "\n" for m in out))
    tmp.replace(a.corpus / a.out)
    print(f"{a.corpus / a.out}: {len(out)} clips, {n} pitched synthesiser clips at weight {a.weight}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
