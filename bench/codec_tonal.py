"""Stationary tonal artefacts of one or more codecs (issue 18): spectral peaks in the decoded audio that the
input does not have, for a silent input, white noise and real held-out clips (`tonecraft.eval.tonal_artefacts`).

    .venv/bin/python bench/codec_tonal.py --codec tonecraft-default --corpus $DATA/corpus-v1 --clips 20
    .venv/bin/python bench/codec_tonal.py --codec tonecraft-default snapshots/codec_v4 --corpus $DATA/corpus-v1

--codec: codec names, folders or codec training checkpoints (a model folder's codec is its `codec/`).
--corpus: a corpus folder (`tonecraft corpus music` or `sfx`); its test clips are the real inputs.
One thread, deterministic (seeded noise, seeded clip choice).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--codec", nargs="+", required=True, help="codec names / folders / checkpoint.pt")
    p.add_argument("--corpus", default=None, help="corpus folder whose test clips are the real inputs")
    p.add_argument("--split", default="test")
    p.add_argument("--clips", type=int, default=20, help="real clips (seeded choice)")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the full report here")
    return p.parse_args(argv)


def measure(codec, inputs: dict[str, list[np.ndarray]], sample_rate: int) -> dict:
    from tonecraft.eval.codec_metrics import codec_roundtrip
    from tonecraft.eval.tonal_artefacts import artefact_peaks, summarize_clips

    out = {}
    for name, clips in inputs.items():
        per_clip = [artefact_peaks(x, codec_roundtrip(codec, x, sample_rate), sample_rate) for x in clips]
        loudest = max((p for peaks in per_clip for p in peaks), key=lambda p: p["level_dbfs"], default=None)
        out[name] = {**summarize_clips(per_clip), "loudest": loudest, "peaks": per_clip}
    return out


def main(argv=None) -> int:
    from tonecraft.audio import load_audio
    from tonecraft.errors import TonecraftError
    from tonecraft.eval.report import write_json
    from tonecraft.eval.runner import load_eval_codec

    a = parse_args(argv)
    torch.set_num_threads(1)
    rows, report = [], {"config": vars(a), "codecs": {}}
    try:
        for spec in a.codec:
            codec = load_eval_codec(spec)
            sr = int(codec.sample_rate)
            n = int(a.seconds * sr)
            rng = np.random.default_rng(a.seed)
            inputs = {"silence": [np.zeros(n, np.float32)],
                      "white noise -20 dBFS": [(0.1 * rng.standard_normal(n)).astype(np.float32) for _ in range(3)]}
            if a.corpus:
                from tonecraft.eval.labels import load_split

                clips = load_split(a.corpus, a.split, a.clips, a.seed)
                inputs[f"real {a.split} clips"] = [load_audio(c.path, sample_rate=sr, channels=1,
                                                              duration=a.seconds)[0][0].numpy() for c in clips]
            t0 = time.perf_counter()
            res = measure(codec, inputs, sr)
            report["codecs"][spec] = {"sample_rate": sr, "seconds": time.perf_counter() - t0, **res}
            for name, r in res.items():
                loud = r["loudest"]
                tones = ", ".join(f"{t['hz'] / 1000:.2f} kHz ({t['share']:.0%})" for t in r["stationary"][:6])
                rows.append(f"| {spec} | {name} | {r['n_clips']} | {r['share_with_artefacts']:.2f} | "
                            f"{r['median_peaks']:g} | "
                            + (f"{loud['hz'] / 1000:.2f} kHz at {loud['level_dbfs']:.0f} dBFS; median "
                               f"{r['median_loudest_below_max_db']:.0f} dB under the clip's maximum" if loud else "-")
                            + f" | {len(r['stationary'])}{': ' + tones if tones else ''}"
                            + (" ..." if len(r["stationary"]) > 6 else "") + " |")
    except TonecraftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("| codec | input | clips | share with artefact peaks | median peaks per clip | loudest artefact | "
          "stationary tones: count, the lowest (share of clips) |")
    print("| --- | --- | ---: | ---: | ---: | --- | --- |")
    print("\n".join(rows))
    if a.json:
        print(f"wrote {write_json(a.json, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
