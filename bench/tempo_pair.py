"""Does one prompt pair differ in tempo? Generates N clips per prompt (same seed) with a model and prints, per
prompt, the librosa beat-tracking tempo and the onset rate of each clip and their medians.

    .venv/bin/python bench/tempo_pair.py "slow church organ chorale in G minor" \
        "fast church organ chorale in G minor" --n 6 --duration 8

(The corpus-wide tempo measurements are bench/eval_default.py.)
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("prompts", nargs=2)
    p.add_argument("--model", default="tonecraft-default")
    p.add_argument("--n", type=int, default=6, help="clips per prompt (one batch)")
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    import librosa

    from tonecraft.eval.tempo import estimate_bpm
    from tonecraft.models import MusicGen

    model = MusicGen.from_pretrained(a.model)
    model.set_generation_params(duration=a.duration)
    for prompt in a.prompts:
        wav = model.generate([prompt] * a.n, seed=a.seed)
        bpm = [estimate_bpm(w.numpy(), model.sample_rate) for w in wav]
        rate = [len(librosa.onset.onset_detect(y=w[0].numpy(), sr=model.sample_rate)) / a.duration for w in wav]
        print(f"{prompt!r}: tempo {np.round(bpm).tolist()} median {np.median(bpm):.0f} bpm; "
              f"onsets/s {np.round(rate, 1).tolist()} median {np.median(rate):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
