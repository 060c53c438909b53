"""How well does the beat tracker read the tempo of *real* corpus clips? (issue 18: "slow is never slow")

The paraphrase evaluation measures generated clips' tempo with librosa (`eval.tempo.estimate_bpm`: `beat_track`,
whose tempo prior centres on 120 bpm). Before reading "prompts at <= 70 bpm measured at <= 90 bpm" on generated
audio, read it on the corpus's own renders, whose bpm is known exactly: per group of clips (asked <= 70 bpm,
between, >= 130 bpm), the share read at <= 90 bpm, the share within 8 % of the asked bpm and the median reading,
for the evaluation's estimator and two others (a uniform tempo prior; the prior centred on 90 bpm).

    .venv/bin/python bench/tempo_calibration.py --corpus $DATA/corpus-v1 --n 40
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

GROUPS = (("asked <= 70 bpm", 0, 70), ("71-129 bpm", 71, 129), ("asked >= 130 bpm", 130, 999))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="a `tonecraft corpus music` folder")
    p.add_argument("--n", type=int, default=40, help="clips per group (seeded draw over all splits)")
    p.add_argument("--duration", type=float, default=8.0, help="seconds read of each clip (the evaluation's)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def estimates(path: Path, seconds: float) -> tuple[float, float, float]:
    """(evaluation's estimator, uniform prior, prior centred on 90 bpm) of one clip."""
    import librosa
    import scipy.stats

    from tonecraft.audio import load_audio
    from tonecraft.eval.features import HOP, SAMPLE_RATE, onset_envelope, prepare
    from tonecraft.eval.tempo import estimate_bpm

    wav, _ = load_audio(path, sample_rate=SAMPLE_RATE, channels=1)
    env = onset_envelope(prepare(wav[0].numpy(), SAMPLE_RATE, seconds))
    kw = dict(onset_envelope=env, sr=SAMPLE_RATE, hop_length=HOP)
    uniform = librosa.feature.tempo(prior=scipy.stats.uniform(30, 270), **kw)
    centred = librosa.feature.tempo(start_bpm=90, **kw)
    return estimate_bpm(env=env), float(np.atleast_1d(uniform)[0]), float(np.atleast_1d(centred)[0])


def main(argv=None) -> int:
    a = parse_args(argv)
    warnings.filterwarnings("ignore")
    sidecars = sorted(Path(a.corpus).glob("audio/*/*/*.json"))
    random.Random(a.seed).shuffle(sidecars)
    rows = [(p, json.loads(p.read_text()).get("bpm")) for p in sidecars]
    print(f"{len(rows)} clips in {a.corpus}; {a.n} per group, first {a.duration:g} s")
    print("| clips | estimator | n | read <= 90 bpm | within 8 % | median reading (asked) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, lo, hi in GROUPS:
        group = [(p, b) for p, b in rows if b and lo <= b <= hi][: a.n]
        if not group:
            continue
        est = np.array([estimates(p.with_suffix(".flac"), a.duration) for p, _ in group])
        bpm = np.array([b for _, b in group], dtype=float)
        for j, label in enumerate(("beat_track (the evaluation's)", "uniform prior", "prior at 90 bpm")):
            e = est[:, j]
            print(f"| {name} | {label} | {len(e)} | {np.mean(e <= 90):.2f} | "
                  f"{np.mean(np.abs(e - bpm) <= 0.08 * bpm):.2f} | {np.median(e):.0f} ({np.median(bpm):.0f}) |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
