"""RIFF WAVE chunks: list them, read one, add / replace / remove one, rewriting the file atomically.

Why our own: python-soundfile exposes neither the `smpl` loop chunk (what samplers and game engines read
for loop points) nor arbitrary chunks, so loop points and labels (LIST/INFO) are written after the audio
by rewriting the chunk list. Audio bytes are copied in blocks (never held in memory) into
`fileio.AtomicFile`: the file is either the old one or the new one, never a mix.

Layout: "RIFF" <u32 size> "WAVE", then chunks <4-byte id> <u32 payload size> <payload> [pad byte if odd].
Plain RIFF only (not RF64 / RIFX); a `data` chunk whose size runs past the end of the file (a stream cut
short, a 0xFFFFFFFF placeholder) is read up to the end of the file, any other overrun is an error.
"""
from __future__ import annotations

import os
import struct
import typing as tp
from dataclasses import dataclass
from pathlib import Path

from .errors import AudioError
from .fileio import AtomicFile, check_input_file

_COPY_BLOCK = 1 << 20
MAX_RIFF_BYTES = 0xFFFFFFFF


@dataclass(frozen=True)
class Chunk:
    """One chunk: its 4-character id, where its header starts in the file and its payload size in bytes."""

    id: str
    offset: int
    size: int

    @property
    def data_offset(self) -> int:
        return self.offset + 8


def _check_id(chunk_id: str) -> bytes:
    raw = chunk_id.encode("latin-1", "replace")
    if len(raw) != 4:
        raise AudioError(f"a RIFF chunk id has 4 characters, got {chunk_id!r}")
    return raw


def list_chunks(path: str | os.PathLike) -> list[Chunk]:
    """The chunks of a RIFF WAVE file in file order; AudioError if it is not one or is truncated."""
    path = check_input_file(path, AudioError, "a WAV file")
    file_size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            kind = "RF64" if head[:4] == b"RF64" else "RIFX" if head[:4] == b"RIFX" else "not RIFF WAVE"
            raise AudioError(f"{path}: cannot edit WAV chunks ({kind}); only plain RIFF WAVE files")
        chunks, pos = [], 12
        while pos + 8 <= file_size:
            f.seek(pos)
            cid, size = struct.unpack("<4sI", f.read(8))
            end = pos + 8 + size
            if end > file_size:
                if cid != b"data":
                    raise AudioError(f"{path}: chunk {cid.decode('latin-1')!r} runs past the end of the file")
                size = file_size - pos - 8
                end = file_size
            chunks.append(Chunk(cid.decode("latin-1"), pos, size))
            pos = end + (size & 1)
    if not any(c.id == "fmt " for c in chunks) or not any(c.id == "data" for c in chunks):
        raise AudioError(f"{path}: a WAV file needs 'fmt ' and 'data' chunks")
    return chunks


def read_chunk(path: str | os.PathLike, chunk_id: str) -> bytes | None:
    """The payload of the first chunk named `chunk_id`, or None when there is none."""
    _check_id(chunk_id)
    for chunk in list_chunks(path):
        if chunk.id == chunk_id:
            with open(path, "rb") as f:
                f.seek(chunk.data_offset)
                return f.read(chunk.size)
    return None


def _copy(src: tp.BinaryIO, dst: AtomicFile, offset: int, size: int) -> None:
    src.seek(offset)
    while size > 0:
        block = src.read(min(size, _COPY_BLOCK))
        if not block:
            raise AudioError("the WAV file shrank while it was being rewritten")
        dst.write(block)
        size -= len(block)


def _rewrite(path: Path, plan: list[tuple[str, Chunk | bytes]]) -> Path:
    """Write 'RIFF' + the planned chunks (copied from the file or new payloads) atomically over `path`."""
    sizes = [part.size if isinstance(part, Chunk) else len(part) for _, part in plan]
    total = 4 + sum(8 + size + (size & 1) for size in sizes)
    if total > MAX_RIFF_BYTES:
        raise AudioError(f"{path}: the file would exceed the 4 GiB limit of a RIFF file")
    with open(path, "rb") as src, AtomicFile(path) as dst:
        dst.write(b"RIFF" + struct.pack("<I", total) + b"WAVE")
        for (cid, part), size in zip(plan, sizes):
            dst.write(_check_id(cid) + struct.pack("<I", size))
            if isinstance(part, Chunk):
                _copy(src, dst, part.data_offset, size)
            else:
                dst.write(part)
            if size & 1:
                dst.write(b"\0")
    return path


def set_chunk(path: str | os.PathLike, chunk_id: str, payload: bytes, before: str | None = None) -> Path:
    """Add or replace chunk `chunk_id` (later duplicates are dropped). A replaced chunk keeps its place; a new
    one goes before the first `before` chunk (e.g. "data" for LIST/INFO) or at the end of the file."""
    _check_id(chunk_id)
    path = Path(path)
    chunks = list_chunks(path)
    plan: list[tuple[str, Chunk | bytes]] = []
    placed = False
    for chunk in chunks:
        if chunk.id == chunk_id:
            if not placed:
                plan.append((chunk_id, bytes(payload)))
                placed = True
            continue
        if not placed and before is not None and chunk.id == before and chunk_id not in {c.id for c in chunks}:
            plan.append((chunk_id, bytes(payload)))
            placed = True
        plan.append((chunk.id, chunk))
    if not placed:
        plan.append((chunk_id, bytes(payload)))
    return _rewrite(path, plan)


def remove_chunk(path: str | os.PathLike, chunk_id: str) -> bool:
    """Remove every chunk named `chunk_id`; False (file untouched) when there was none."""
    _check_id(chunk_id)
    path = Path(path)
    chunks = list_chunks(path)
    if chunk_id in ("fmt ", "data"):
        raise AudioError(f"refusing to remove the {chunk_id.strip()!r} chunk of a WAV file")
    if not any(c.id == chunk_id for c in chunks):
        return False
    _rewrite(path, [(c.id, c) for c in chunks if c.id != chunk_id])
    return True


# --- the `smpl` chunk (sampler loop points) ---------------------------------------------------------------

LOOP_FORWARD = 0


@dataclass(frozen=True)
class SampleLoop:
    """A loop over sample frames [start, end) (end exclusive, as in Python). The chunk stores the last frame
    played, `end - 1` (RIFFNEW: "this sample will also be played"); libsndfile reads it back as `end`."""

    start: int
    end: int
    play_count: int = 0  # 0 = loop forever
    kind: int = LOOP_FORWARD


def smpl_payload(sample_rate: int, loops: tp.Sequence[SampleLoop], unity_note: int = 60) -> bytes:
    """The payload of a `smpl` chunk holding `loops` (no sampler-specific data)."""
    if sample_rate <= 0:
        raise AudioError(f"sample rate must be positive, got {sample_rate}")
    out = struct.pack("<9I", 0, 0, round(1e9 / sample_rate), unity_note, 0, 0, 0, len(loops), 0)
    for i, loop in enumerate(loops):
        if not 0 <= loop.start < loop.end or loop.end - 1 > 0xFFFFFFFF:
            raise AudioError(f"bad loop [{loop.start}, {loop.end}): start must be >= 0 and before the end")
        out += struct.pack("<6I", i, loop.kind, loop.start, loop.end - 1, 0, loop.play_count)
    return out


def parse_smpl(payload: bytes) -> list[SampleLoop]:
    """The loops of a `smpl` payload, ends made exclusive again; AudioError if it is too short."""
    if len(payload) < 36:
        raise AudioError(f"a smpl chunk has at least 36 bytes, got {len(payload)}")
    count = struct.unpack_from("<I", payload, 28)[0]
    if len(payload) < 36 + 24 * count:
        raise AudioError(f"smpl chunk announces {count} loops but holds {(len(payload) - 36) // 24}")
    loops = []
    for k in range(count):
        _, kind, start, last, _, plays = struct.unpack_from("<6I", payload, 36 + 24 * k)
        loops.append(SampleLoop(start, last + 1, plays, kind))
    return loops


def write_loop_points(path: str | os.PathLike, sample_rate: int, start: int, end: int) -> Path:
    """Store one forward, endless loop over frames [start, end) in `path`'s `smpl` chunk."""
    return set_chunk(path, "smpl", smpl_payload(sample_rate, [SampleLoop(start, end)]))


def read_loop_points(path: str | os.PathLike) -> list[SampleLoop]:
    """The loops of `path`'s `smpl` chunk ([] when it has none)."""
    payload = read_chunk(path, "smpl")
    return [] if payload is None else parse_smpl(payload)


# --- the `LIST`/`INFO` chunk (text labels) ----------------------------------------------------------------

# soundfile's tag names -> RIFF INFO ids (what libsndfile and most players use)
INFO_IDS = {"title": "INAM", "artist": "IART", "comment": "ICMT", "software": "ISFT", "date": "ICRD",
            "genre": "IGNR", "copyright": "ICOP", "album": "IPRD"}


def info_payload(tags: tp.Mapping[str, str]) -> bytes:
    """A `LIST` payload ("INFO" + one NUL-terminated UTF-8 sub-chunk per tag) from soundfile-style tag names.
    Written by us rather than libsndfile because libsndfile drops every WAV tag once one is longer than a
    few kB (a JSON comment with a long prompt)."""
    out = b"INFO"
    for name, value in tags.items():
        if name not in INFO_IDS:
            raise AudioError(f"no RIFF INFO field for tag {name!r}; use one of {', '.join(INFO_IDS)}")
        data = str(value).encode("utf-8", "replace") + b"\0"
        out += INFO_IDS[name].encode("ascii") + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")
    return out


def parse_info(payload: bytes) -> dict[str, str]:
    """Tags (soundfile names, or the raw 4-character id for others) of a `LIST` payload; {} unless it is INFO."""
    if payload[:4] != b"INFO":
        return {}
    names = {v: k for k, v in INFO_IDS.items()}
    tags, pos = {}, 4
    while pos + 8 <= len(payload):
        cid, size = struct.unpack_from("<4sI", payload, pos)
        data = payload[pos + 8:pos + 8 + size]
        key = cid.decode("latin-1")
        tags[names.get(key, key)] = data.split(b"\0", 1)[0].decode("utf-8", "replace")
        pos += 8 + size + (size & 1)
    return tags


def read_info(path: str | os.PathLike) -> dict[str, str]:
    """The LIST/INFO tags of a WAV file ({} when it has none)."""
    for chunk in list_chunks(path):
        if chunk.id == "LIST":
            with open(path, "rb") as f:
                f.seek(chunk.data_offset)
                tags = parse_info(f.read(chunk.size))
            if tags:
                return tags
    return {}


def write_info(path: str | os.PathLike, tags: tp.Mapping[str, str]) -> Path:
    """Replace `path`'s LIST/INFO chunk (or add one before `data`) with `tags`."""
    return set_chunk(path, "LIST", info_payload(tags), before="data")
