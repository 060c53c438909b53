"""Probe labels of a corpus clip, read from its sidecar: instrument family and tempo bucket
(`data.corpus.attributes`), and the clips of a corpus split with them."""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..data.corpus.attributes import (FAMILIES, FAST_FROM, SLOW_BELOW, TEMPO_BUCKETS,  # noqa: F401 (re-exported)
                                      instrument_family, tempo_bucket)
from ..data.manifest import read_manifest, sidecar_path
from ..errors import ConfigError


@dataclass
class Clip:
    path: str
    description: str
    bpm: float | None
    family: str | None
    tempo: str | None
    piece: str
    info: dict = field(default_factory=dict, repr=False)


def clip_from_sidecar(audio_path: str | os.PathLike, info: dict) -> Clip:
    bpm = info.get("bpm")
    return Clip(path=str(audio_path), description=str(info.get("description") or ""),
                bpm=float(bpm) if bpm is not None else None, family=instrument_family(info.get("instrument")),
                tempo=tempo_bucket(bpm), piece=str(info.get("piece_id") or info.get("name") or audio_path), info=info)


def load_split(corpus: str | os.PathLike, splits: str | list[str], n: int | None = None, seed: int = 0) -> list[Clip]:
    """Clips of one or more splits (`<corpus>/<split>.jsonl`) that have a sidecar with a description.

    With `n`, a seeded random subset of `n` clips (sorted by path first, so the choice only depends on the
    manifest's content and the seed, not on its line order); clips keep a stable order."""
    if isinstance(splits, str):
        splits = [s for s in splits.split(",") if s]
    clips = []
    for split in splits:
        manifest = Path(corpus) / f"{split}.jsonl"
        if not manifest.exists():
            continue
        for meta in read_manifest(manifest):
            side = Path(meta.info_path) if meta.info_path else sidecar_path(meta.path)
            if side is None or not side.exists() or not Path(meta.path).exists():
                continue  # clip still being written
            try:
                info = json.loads(side.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if info.get("description"):
                clips.append(clip_from_sidecar(meta.path, info))
    clips.sort(key=lambda c: c.path)
    return subset(clips, n, seed)


def subset(clips: list[Clip], n: int | None, seed: int = 0) -> list[Clip]:
    """A seeded random subset of `n` clips in their original order (all of them when n is None or larger)."""
    if n is None or n >= len(clips):
        return list(clips)
    keep = sorted(random.Random(seed).sample(range(len(clips)), n))
    return [clips[i] for i in keep]


def read_prompt_rows(path: str | os.PathLike, kind: str, fields: str) -> list[tuple[dict, str]]:
    """The rows of a hand-written prompt file (one JSON object per line with a non-empty "prompt"), each with
    its "file:line" for error messages; a `ConfigError` naming the file and line for anything malformed, so a
    long evaluation never starts on a bad file. `kind` and `fields` only word the messages."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{kind} file {path} not found (one JSON object per line: {fields})")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{where}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: expected a JSON object, got {type(row).__name__}")
        prompt = row.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ConfigError(f"{where}: 'prompt' must be a non-empty string")
        rows.append((row, where))
    if not rows:
        raise ConfigError(f"{kind} file {path} holds no prompts")
    return rows
