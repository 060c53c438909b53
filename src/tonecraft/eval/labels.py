"""Probe labels of a corpus clip, read from its sidecar: instrument family and tempo bucket.

Families merge the corpus instrument table (`data/corpus/instruments.py`) into timbre groups a probe can
hear: keyboard (pianos, harpsichord, organs), mallet (celesta, music box, vibraphone, marimba, xylophone),
plucked (guitars, banjo, harp, hammered dulcimer), strings (violin, fiddle, viola, cello, string ensembles),
winds (woodwinds, brass, saxophones), reed (accordion, harmonica, bandoneon, bagpipe), synth (synth leads),
voice (choir), band (MMA grooves: several instruments, listed with commas).
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..data.manifest import read_manifest, sidecar_path
from ..errors import ConfigError

FAMILIES = ("keyboard", "mallet", "plucked", "strings", "winds", "reed", "synth", "voice", "band")
_MERGE = {"keyboard": "keyboard", "organ": "keyboard", "mallet": "mallet", "plucked": "plucked",
          "strings": "strings", "woodwind": "winds", "brass": "winds", "reed": "reed", "synth": "synth",
          "voice": "voice"}
_ENSEMBLES = {"string quartet": "strings", "string orchestra": "strings", "brass quartet": "winds",
              "woodwind quartet": "winds", "saxophone quartet": "winds", "church organ": "keyboard",
              "choir": "voice", "piano": "keyboard", "organ": "keyboard", "guitar": "plucked"}
TEMPO_BUCKETS = ("slow", "medium", "fast")
SLOW_BELOW = 90.0   # bpm < 90: slow
FAST_FROM = 120.0   # bpm >= 120: fast; in between: medium


def _instrument_table() -> dict[str, str]:
    from ..data.corpus.instruments import INSTRUMENTS

    table = {}
    for inst in INSTRUMENTS.values():
        fam = _MERGE.get(inst.family)
        if "saxophone" in inst.name:
            fam = "winds"
        if fam:
            table[inst.name] = fam
    table.update(_ENSEMBLES)
    return table


_TABLE: dict[str, str] | None = None


def instrument_family(instrument: str | None) -> str | None:
    """Family of a sidecar `instrument` value; None when unknown (such clips are left out of the probe)."""
    global _TABLE
    if not instrument:
        return None
    if _TABLE is None:
        _TABLE = _instrument_table()
    name = instrument.strip().lower()
    if name in _TABLE:
        return _TABLE[name]
    if "," in name:  # an MMA band: "piano, bass, drums"
        return "band"
    for key, fam in _TABLE.items():  # "solo violin" / "violin solo"
        if key in name:
            return fam
    return None


def tempo_bucket(bpm: float | None, slow_below: float = SLOW_BELOW, fast_from: float = FAST_FROM) -> str | None:
    if bpm is None:
        return None
    bpm = float(bpm)
    return "slow" if bpm < slow_below else "fast" if bpm >= fast_from else "medium"


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
