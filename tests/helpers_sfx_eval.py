"""A tiny SFX corpus on disk (the layout of `tonecraft corpus sfx`): short decaying "impact" bursts and
continuous "weather" noise, with sidecars holding description, category and source."""
import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16_000


def sfx_clip(kind: str, seed: int, sr: int = SR) -> np.ndarray:
    """'impact': 0.3 s of bright noise decaying in ~40 ms; 'weather': 3 s of steady low-passed noise."""
    rng = np.random.default_rng(seed)
    if kind == "impact":
        n = int(0.3 * sr)
        x = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.04 * sr))
        return (0.5 * x).astype(np.float32)
    n = int(3.0 * sr)
    x = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same")
    return (0.2 * x).astype(np.float32)


def write_sfx_corpus(root: Path, per_split: dict[str, int] | None = None) -> Path:
    """`per_split` clips per split, alternating impact / weather; each a recording of its own."""
    per_split = per_split or {"train": 2, "valid": 6, "test": 6}
    i = 0
    for split, n in per_split.items():
        lines = []
        for j in range(n):
            kind = ("impact", "weather")[j % 2]
            rel = f"audio/{split}/{i:04d}.flac"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            x = sfx_clip(kind, i)
            sf.write(path, x, SR)
            side = {"description": "a metal impact" if kind == "impact" else "heavy rain falling",
                    "category": kind, "name": f"{i:04d}", "split": split,
                    "source": {"kind": "procedural", "generator": kind}, "duration": len(x) / SR,
                    "sample_rate": SR}
            path.with_suffix(".json").write_text(json.dumps(side))
            lines.append(json.dumps({"path": rel, "duration": len(x) / SR, "sample_rate": SR, "channels": 1}))
            i += 1
        (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return root
