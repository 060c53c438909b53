"""A tiny SFX corpus on disk (the layout of `tonecraft corpus sfx`): short decaying "impact" bursts and
continuous "weather" noise, with sidecars holding description, category and source."""
import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16_000


def chirp(seconds: float, f0: float, f1: float, sr: int = SR, square: bool = True) -> np.ndarray:
    """An exponential pitch sweep f0 -> f1 Hz (a square wave: every harmonic sweeps with it), decaying."""
    t = np.arange(int(seconds * sr)) / sr
    k = np.log(f1 / f0) / seconds
    phase = 2 * np.pi * f0 * (np.exp(k * t) - 1) / k
    x = np.sign(np.sin(phase)) if square else np.sin(phase)
    return (0.4 * x * np.exp(-t / seconds)).astype(np.float32)


def sfx_clip(kind: str, seed: int, sr: int = SR) -> np.ndarray:
    """'impact': 0.3 s of bright noise decaying in ~40 ms; 'weather': 3 s of steady low-passed noise;
    'laser': a 0.3 s falling square-wave sweep."""
    rng = np.random.default_rng(seed)
    if kind == "laser":
        return chirp(0.3, 1800.0 + 100 * (seed % 5), 300.0, sr)
    if kind == "impact":
        n = int(0.3 * sr)
        x = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.04 * sr))
        return (0.5 * x).astype(np.float32)
    n = int(3.0 * sr)
    x = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same")
    return (0.2 * x).astype(np.float32)


CAPTIONS = {"impact": "a metal impact", "weather": "heavy rain falling", "laser": "a falling laser zap"}
CATEGORIES = {"impact": "impact", "weather": "weather", "laser": "weapon"}


def write_sfx_corpus(root: Path, per_split: dict[str, int] | None = None,
                     kinds: tuple[str, ...] = ("impact", "weather")) -> Path:
    """`per_split` clips per split, cycling through `kinds`; each a recording of its own."""
    per_split = per_split or {"train": 2, "valid": 6, "test": 6}
    i = 0
    for split, n in per_split.items():
        lines = []
        for j in range(n):
            kind = kinds[j % len(kinds)]
            rel = f"audio/{split}/{i:04d}.flac"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            x = sfx_clip(kind, i)
            sf.write(path, x, SR)
            side = {"description": CAPTIONS[kind], "category": CATEGORIES[kind], "name": f"{i:04d}", "split": split,
                    "source": {"kind": "procedural", "generator": kind}, "duration": len(x) / SR,
                    "sample_rate": SR}
            path.with_suffix(".json").write_text(json.dumps(side))
            lines.append(json.dumps({"path": rel, "duration": len(x) / SR, "sample_rate": SR, "channels": 1}))
            i += 1
        (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return root
