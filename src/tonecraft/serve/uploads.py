"""Uploaded reference audio (melody or continuation prompt): size-capped, decoded before it is accepted.

The bytes are written (atomically, `fileio`) under a server-made id with an extension from a fixed list,
decoded with `audio.load_audio` (the checks every tonecraft input gets) and refused with a clear message when
they are not audio or are too long; only then is the upload recorded and its id returned.
"""
from __future__ import annotations

from pathlib import Path

from ..audio import load_audio
from ..errors import TonecraftError
from ..fileio import atomic_write_bytes
from .jobs import new_id
from .store import Store

MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_UPLOAD_SECONDS = 120.0
EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif")


class UploadRejected(Exception):
    """An upload that is not accepted; the message says why."""


def read_capped(stream, limit: int | None = None) -> bytes:
    """Read a file-like object, refusing more than `limit` (default MAX_UPLOAD_BYTES) without reading it all."""
    limit = MAX_UPLOAD_BYTES if limit is None else limit
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise UploadRejected(f"the upload is larger than the {limit / 2**20:g} MiB limit")
    if not data:
        raise UploadRejected("the upload is empty")
    return data


def accept_upload(store: Store, folder: Path, filename: str | None, data: bytes) -> dict:
    """Store `data`, check that it decodes as audio within the limits, record it; returns its description."""
    ext = Path(filename or "").suffix.lower()
    ext = ext if ext in EXTENSIONS else ".bin"
    upload_id = new_id("u")
    path = folder / f"{upload_id}{ext}"
    atomic_write_bytes(path, data)
    try:
        wav, sr = load_audio(path)
    except TonecraftError as exc:
        path.unlink(missing_ok=True)
        # the message names our file; say it about the upload instead
        raise UploadRejected("the upload is not readable audio: " + str(exc).replace(str(path), "file")) from None
    seconds = wav.shape[-1] / sr
    if seconds > MAX_UPLOAD_SECONDS:
        path.unlink(missing_ok=True)
        raise UploadRejected(f"the upload is {seconds:.1f} s long; the limit is {MAX_UPLOAD_SECONDS:.0f} s")
    name = (filename or "upload")[:200]
    store.add_upload(upload_id, name, path.name, seconds, sr, int(wav.shape[0]))
    return {"id": upload_id, "name": name, "seconds": round(seconds, 3), "sample_rate": sr,
            "channels": int(wav.shape[0])}
