"""A tiny labelled music corpus on disk (flute = sustained sines, banjo = decaying plucks; 70 or 140 bpm), laid
out as `tonecraft corpus music` writes one: the probes and the evaluation runners read it."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

SR = 32_000


def notes(kind: str, bpm: float, seconds: float, seed: int) -> np.ndarray:
    """One note per beat: 'flute' = sustained sine, 'banjo' = bright decaying pluck."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    beat = 60.0 / bpm
    for k, start in enumerate(np.arange(0.0, seconds, beat)):
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        tt = t - start
        on = tt >= 0
        if kind == "flute":
            env = np.where(on, np.minimum(tt / 0.05, 1.0) * np.exp(-tt * 1.0), 0.0) * (tt < beat)
            out += env * np.sin(2 * np.pi * f0 * 2 * t)
        else:
            env = np.where(on, np.exp(-tt * 12.0), 0.0)
            out += env * sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 9))
    return (0.1 * out / (np.abs(out).max() + 1e-9)).astype(np.float32)


def write_corpus(root, n_train=8, n_test=4, seconds=3.0):
    lines = {"train": [], "test": []}
    i = 0
    for split, n in (("train", n_train), ("test", n_test)):
        for j in range(n):
            kind = ("flute", "banjo")[j % 2]
            bpm = (70, 140)[(j // 2) % 2]
            rel = f"audio/{split}/{i:04d}.flac"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, notes(kind, bpm, seconds, i), SR)
            side = {"description": f"tune played on {kind}, {bpm} bpm", "instrument": kind, "bpm": bpm,
                    "piece_id": f"piece{i // 2}"}
            path.with_suffix(".json").write_text(json.dumps(side))
            lines[split].append(json.dumps({"path": rel, "duration": seconds, "sample_rate": SR, "channels": 1}))
            i += 1
    for split, ls in lines.items():
        (root / f"{split}.jsonl").write_text("\n".join(ls) + "\n")
    (root / "valid.jsonl").write_text("")
    return root
