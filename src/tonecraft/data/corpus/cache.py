"""Cache of music21 -> MIDI conversions under the corpus folder (parse each piece once, ever).

Per piece: `<piece>.mid` plus `<piece>.json` (facts, or the conversion error). The JSON is written
last, so a piece is cached exactly when its JSON exists; a cached error is not retried.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ...fileio import atomic_write_bytes

CACHE_VERSION = 1


class CachedFailure(Exception):
    """This piece failed to convert on an earlier run."""


class PieceCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _paths(self, piece_id: str) -> tuple[Path, Path]:
        rel = re.sub(r"[^A-Za-z0-9._/-]", "_", piece_id.replace("#", "_"))
        base = self.root / rel
        return base.with_name(base.name + ".mid"), base.with_name(base.name + ".json")

    def get(self, piece_id: str) -> tuple[bytes, dict] | None:
        mid, meta = self._paths(piece_id)
        if not meta.exists():
            return None
        try:
            facts = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if facts.get("cache_version") != CACHE_VERSION:
            return None
        if "error" in facts:
            raise CachedFailure(facts["error"])
        try:
            return mid.read_bytes(), facts
        except OSError:
            return None

    def put(self, piece_id: str, data: bytes, facts: dict) -> None:
        mid, meta = self._paths(piece_id)
        atomic_write_bytes(mid, data)
        atomic_write_bytes(meta, json.dumps({**facts, "cache_version": CACHE_VERSION}, indent=1).encode())

    def put_failure(self, piece_id: str, error: str) -> None:
        _, meta = self._paths(piece_id)
        body = {"piece_id": piece_id, "error": error, "cache_version": CACHE_VERSION}
        atomic_write_bytes(meta, json.dumps(body, indent=1).encode())
