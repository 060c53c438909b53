"""Spectrograms of sound-effect models' lasers side by side (issue 15): what the glide measure misses on generated
audio, a falling tone under the LM's haze, shows here as a line.

    .venv/bin/python bench/sfx_laser_sheet.py --model tonecraft-sfx-default OTHER_MODEL_DIR -o lasers.png

One row per model x prompt, one column per seed (`torch.manual_seed(seed)` before each clip); each panel is the
first `--seconds` of a 1 s clip, 0-4 kHz, 512-point FFT, with its glide measure (default / tonal reading) in the
title. Each model generates with its own defaults unless --temperature / --top-k are given. Needs matplotlib.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

from tonecraft.eval.glide import pitch_glides  # noqa: E402
from tonecraft.eval.sfx import GLIDE_PROMPTS  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", nargs="+", default=["tonecraft-sfx-default"], help="AudioGen names or folders")
    p.add_argument("--prompts", nargs="+", default=list(GLIDE_PROMPTS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=0.5, help="shown of each 1 s clip")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("-o", "--output", required=True, help="PNG file")
    return p.parse_args(argv)


def generate_rows(a: argparse.Namespace) -> list[tuple[str, list]]:
    from tonecraft.models import load_model

    torch.set_num_threads(1)
    rows = []
    for name in a.model:
        model = load_model(name)  # packaged AudioGen or a raw LM export folder
        overrides = {k: v for k, v in (("temperature", a.temperature), ("top_k", a.top_k)) if v is not None}
        model.set_generation_params(duration=1.0, **overrides)
        for prompt in a.prompts:
            panels = []
            for seed in range(a.seeds):
                torch.manual_seed(seed)
                wav = model.generate([prompt])[0].mean(0).numpy()
                g, gt = pitch_glides(wav, model.sample_rate)
                panels.append((f"seed {seed}: {g.semitones:+.0f} st / tonal {gt.semitones:+.0f} st", wav,
                               model.sample_rate))
            rows.append((f"{os.path.basename(str(name).rstrip('/'))}: '{prompt}'", panels))
    return rows


def main(argv=None) -> int:
    a = parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = generate_rows(a)
    fig, axes = plt.subplots(len(rows), a.seeds, figsize=(4.2 * a.seeds, 2.2 * len(rows)), squeeze=False)
    for r, (label, panels) in enumerate(rows):
        for c, (title, wav, sr) in enumerate(panels):
            ax = axes[r][c]
            ax.specgram(wav[: int(a.seconds * sr)] + 1e-9, NFFT=512, Fs=sr, noverlap=480, vmin=-100)
            ax.set_ylim(0, 4000)
            ax.set_title(f"{label}\n{title}", fontsize=8)
    fig.tight_layout()
    fig.savefig(a.output, dpi=60)
    print(f"wrote {a.output} ({len(rows)} rows x {a.seeds} seeds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
