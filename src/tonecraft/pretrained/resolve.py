"""Directory-level resolution of multi-file hub models (MusicGen repos, T5), on top of `hub.py`.

`hub.resolve_repo_files` finds the first complete file set (cache first when offline, else download)
and raises ModelNotFoundError naming the files needed. Here we add what directory loaders need:
optional extras fetched best-effort (tokenizer config, generation config) and the shards listed in a
`*.index.json`, all landing in the same snapshot folder.
"""
from __future__ import annotations

import json
import typing as tp
from pathlib import Path

from . import hub


def resolve_dir(repo_id: str, alternatives: tp.Sequence[tp.Sequence[str]], optional: tp.Sequence[str] = (),
                name: str | None = None) -> Path:
    """Snapshot folder holding one complete file set of `repo_id` (+ shards + whatever `optional` exists)."""
    files = hub.resolve_repo_files(repo_id, alternatives, name=name)
    folder = next(iter(files.values())).parent
    shards: list[str] = []
    for fname, path in files.items():
        if fname.endswith(".index.json"):
            try:
                shards += sorted(set(json.loads(path.read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # the loader reports the malformed index
    if shards:
        hub.resolve_repo_files(repo_id, [shards], name=name)
    for fname in optional:
        if fname in files:
            continue
        try:
            hub.resolve_repo_files(repo_id, [[fname]], name=name)
        except Exception:  # noqa: BLE001 - optional file: absent is fine
            pass
    return folder


__all__ = ["resolve_dir"]
