"""Atomic clip files (audio, then sidecar JSON as the completion mark) and the split manifests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...fileio import atomic_path, atomic_write_text

AUDIO_FORMATS = {"flac": ("FLAC", "PCM_16", ".flac"), "wav": ("WAV", "PCM_16", ".wav")}
SPLITS = ("train", "valid", "test")


def write_clip(audio_path: Path, pcm: np.ndarray, sample_rate: int, fmt: str, sidecar: dict) -> None:
    """Audio first (temp + rename), then the sidecar: a clip is complete iff its sidecar exists."""
    import soundfile as sf

    major, subtype, _ = AUDIO_FORMATS[fmt]
    with atomic_path(audio_path) as tmp:
        sf.write(tmp, pcm, sample_rate, format=major, subtype=subtype)
    atomic_write_text(sidecar_of(audio_path), json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n")


def sidecar_of(audio_path: Path) -> Path:
    """audiocraft's convention: `clip.flac` -> `clip.json`."""
    return audio_path.with_suffix(".json")


def write_manifests(out: Path, entries: list[tuple[int, str, str, float, int]]) -> dict[str, int]:
    """entries: (index, split, path relative to `out`, duration, sample_rate) -> train/valid/test.jsonl.

    Lines follow tonecraft's (and audiocraft's) AudioMeta; relative paths resolve against the
    manifest's folder, so the corpus folder can be moved as a whole."""
    from ..manifest import AudioMeta, write_manifest

    counts = {}
    for split in SPLITS:
        rows = sorted((e for e in entries if e[1] == split), key=lambda e: e[0])
        metas = [AudioMeta(path=p, duration=d, sample_rate=sr, channels=1) for _, _, p, d, sr in rows]
        write_manifest(out / f"{split}.jsonl", metas)
        counts[split] = len(metas)
    return counts
