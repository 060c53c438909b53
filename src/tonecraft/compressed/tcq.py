"""The `.tcq` compressed audio format (byte layout in docs/FORMAT.md).

Unlike `.ecdc`, a `.tcq` file is self-describing: the header carries everything needed to
check the payload (sample rate, frame rate, segmenting, code width) so a reader can reject a
corrupt or hostile file *before* allocating anything, and every part carries a CRC32 so
bit rot is reported instead of decoded into noise. The model is named, not embedded.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from ..errors import CompressedFileError, TonecraftError
from ..fileio import AtomicFile
from . import bitpack

MAGIC = b"TCQF"
VERSION = 1
SUFFIX = ".tcq"

_PRELUDE = struct.Struct("!4sBI")  # magic, version, header body length
_FIXED = struct.Struct("!IHQdHBdQQBI")  # see TcqHeader / docs/FORMAT.md
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_F32 = struct.Struct("!f")
_FLAG_SCALES = 1

# Sanity limits: anything outside is not a file we wrote, so refuse it early.
MAX_HEADER_BYTES = 1 << 20
MAX_MODEL_ID_BYTES = 4096
MAX_META_BYTES = 1 << 16
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1_000, 768_000
MAX_CHANNELS = 16
MAX_N_Q = 1024
MAX_LENGTH = 1 << 40
MAX_HOP = 1 << 16  # samples per frame


@dataclass
class TcqHeader:
    """Everything needed to decode (with the named model) and to validate the payload."""

    model: str  # model name or path given to the codec loader
    sample_rate: int
    channels: int
    length: int  # audio length in samples (per channel) at `sample_rate`
    n_q: int  # codebooks per frame
    bits: int  # bits per code, log2(cardinality)
    frame_rate: float  # frames per second
    bandwidth: float = 0.0  # kbps the codes were produced at (informational)
    segment_length: int = 0  # samples per segment; 0 = one segment for the whole audio
    segment_stride: int = 0
    has_scales: bool = False  # one float32 scale per segment (normalising models)
    meta: dict = field(default_factory=dict)  # free-form JSON object (e.g. source file info)

    def segments(self) -> Iterator[tuple[int, int]]:
        """(offset, length) in samples of every segment, as EnCodec's `encode` cuts them."""
        return segment_bounds(self.length, self.segment_length, self.segment_stride)

    @property
    def n_segments(self) -> int:
        if self.segment_length <= 0:
            return 1 if self.length > 0 else 0
        return -(-self.length // self.segment_stride)

    def expected_frames(self, seg_len: int) -> int:
        """Frames a codec emits for `seg_len` samples (EnCodec: ceil(len / sr * frame_rate))."""
        return max(1, math.ceil(seg_len * self.frame_rate / self.sample_rate - 1e-9))

    @property
    def kbps(self) -> float:
        """Bit rate of the codes themselves."""
        return self.n_q * self.bits * self.frame_rate / 1000


def segment_bounds(length: int, segment_length: int, segment_stride: int) -> Iterator[tuple[int, int]]:
    """Segments start every `stride` samples and are `segment_length` long (last one shorter)."""
    if segment_length <= 0:
        if length > 0:
            yield 0, length
        return
    for off in range(0, length, segment_stride):
        yield off, min(segment_length, length - off)


def _err(where: str, msg: str) -> CompressedFileError:
    return CompressedFileError(f"{where}: {msg}")


def validate_header(h: TcqHeader, where: str = "tcq header") -> None:
    """Raise CompressedFileError unless every header field is within sane limits."""
    def bad(msg):
        return _err(where, msg)

    if not isinstance(h.model, str) or not h.model:
        raise bad("empty model id")
    if len(h.model.encode("utf-8")) > MAX_MODEL_ID_BYTES or any(ord(c) < 32 for c in h.model):
        raise bad("model id is too long or contains control characters")
    if not MIN_SAMPLE_RATE <= h.sample_rate <= MAX_SAMPLE_RATE:
        raise bad(f"sample rate {h.sample_rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}")
    if not 1 <= h.channels <= MAX_CHANNELS:
        raise bad(f"channel count {h.channels} is outside 1..{MAX_CHANNELS}")
    if not 1 <= h.length <= MAX_LENGTH:
        raise bad(f"audio length {h.length} samples is outside 1..{MAX_LENGTH}")
    if not 1 <= h.n_q <= MAX_N_Q:
        raise bad(f"number of codebooks {h.n_q} is outside 1..{MAX_N_Q}")
    if not 1 <= h.bits <= bitpack.MAX_BITS:
        raise bad(f"bits per code {h.bits} is outside 1..{bitpack.MAX_BITS}")
    if not (math.isfinite(h.frame_rate) and h.frame_rate > 0
            and h.sample_rate / h.frame_rate <= MAX_HOP and h.frame_rate <= h.sample_rate):
        raise bad(f"frame rate {h.frame_rate} is not plausible for {h.sample_rate} Hz audio")
    if not (math.isfinite(h.bandwidth) and 0 <= h.bandwidth <= 1e4):
        raise bad(f"bandwidth {h.bandwidth} kbps is not plausible")
    if h.segment_length == 0:
        if h.segment_stride != 0:
            raise bad("segment stride set without a segment length")
    elif not (0 < h.segment_stride <= h.segment_length <= MAX_LENGTH):
        raise bad(f"segment length/stride {h.segment_length}/{h.segment_stride} are inconsistent")
    if not isinstance(h.meta, dict):
        raise bad("metadata is not a JSON object")


def _encode_header(h: TcqHeader) -> bytes:
    validate_header(h, "cannot write tcq header")
    model = h.model.encode("utf-8")
    meta = json.dumps(h.meta, sort_keys=True).encode("utf-8") if h.meta else b""
    if len(meta) > MAX_META_BYTES:
        raise CompressedFileError(f"tcq metadata is larger than {MAX_META_BYTES} bytes")
    body = _FIXED.pack(h.sample_rate, h.channels, h.length, float(h.bandwidth), h.n_q, h.bits,
                       float(h.frame_rate), h.segment_length, h.segment_stride,
                       _FLAG_SCALES if h.has_scales else 0, h.n_segments)
    body += _U16.pack(len(model)) + model + _U32.pack(len(meta)) + meta
    return _PRELUDE.pack(MAGIC, VERSION, len(body)) + body + _U32.pack(zlib.crc32(body))


def _segment_record(codes, scale: float | None, h: TcqHeader) -> bytes:
    arr = np.asarray(codes)
    if arr.ndim != 2 or arr.shape[0] != h.n_q:
        raise ValueError(f"segment codes must have shape [n_q={h.n_q}, frames], got {arr.shape}")
    rec = b""
    if h.has_scales:
        if scale is None:
            raise ValueError("this file stores per-segment scales but none was given")
        rec += _F32.pack(float(scale))
    elif scale is not None:
        raise ValueError("got a scale for a file without per-segment scales")
    rec += _U32.pack(arr.shape[1]) + bitpack.pack(arr.T, h.bits)  # frame-major: for t, for k
    return rec + _U32.pack(zlib.crc32(rec))


class TcqWriter:
    """Streams segments to `path` atomically (`fileio.AtomicFile`).

    Use as a context manager; on an exception the temp file is removed and `path` is untouched.
    """

    def __init__(self, path: str | os.PathLike, header: TcqHeader):
        self.header = header
        self._bounds = header.segments()
        self._total = header.n_segments
        head = _encode_header(header)
        self._count = 0
        self._file = AtomicFile(path)
        self._file.write(head)

    def write_segment(self, codes, scale: float | None = None) -> None:
        """Append the next segment: `codes` is [n_q, frames] (numpy or CPU tensor)."""
        bound = next(self._bounds, None)
        if bound is None:
            raise ValueError(f"header declares {self._total} segments; got one more")
        frames = np.shape(codes)[-1]
        expected = self.header.expected_frames(bound[1])
        if not expected <= frames <= expected + 1:
            raise ValueError(f"segment {self._count} has {frames} frames, expected {expected} or {expected + 1}")
        self._file.write(_segment_record(codes, scale, self.header))
        self._count += 1

    def close(self) -> None:
        if self._file.closed:
            return
        if self._count != self._total:
            self._file.abort()
            raise ValueError(f"wrote {self._count} of {self._total} declared segments")
        self._file.commit()

    def abort(self) -> None:
        self._file.abort()

    def __enter__(self) -> "TcqWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_tcq(path, header: TcqHeader, segments) -> None:
    """Write a whole file from an iterable of (codes [n_q, frames], scale or None)."""
    with TcqWriter(path, header) as w:
        for codes, scale in segments:
            w.write_segment(codes, scale)


@dataclass
class Segment:
    codes: np.ndarray  # [n_q, frames] int64
    scale: float | None
    offset: int  # first sample of the segment in the audio
    length: int  # samples covered


class SizedSource:
    """A binary stream with a known size, so every declared length can be checked first."""

    def __init__(self, fo: BinaryIO, where: str):
        self.fo = fo
        self.where = where
        start = fo.tell()
        self.size = fo.seek(0, io.SEEK_END) - start
        fo.seek(start)
        self.pos = 0

    @property
    def left(self) -> int:
        return self.size - self.pos

    def read(self, n: int, what: str) -> bytes:
        if n > self.left:
            raise _err(self.where, f"truncated file: {what} needs {n} bytes, {self.left} left")
        data = self.fo.read(n)
        if len(data) != n:
            raise _err(self.where, f"truncated file while reading {what}")
        self.pos += n
        return data


def open_source(source, default_name: str) -> tuple[BinaryIO, str, bool]:
    """(binary stream, name for messages, whether we own it) from a path, bytes or stream."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), default_name, True
    if hasattr(source, "read"):
        return source, str(getattr(source, "name", default_name)), False
    try:
        return open(source, "rb"), str(source), True
    except OSError as exc:
        raise CompressedFileError(f"cannot open {source}: {exc.strerror or exc}") from exc


class TcqReader:
    """Reads and validates a `.tcq` file: `.header` at once, segments lazily by iterating.

    Every declared size is checked against the bytes actually left in the file before reading,
    so corrupt or hostile input fails fast with CompressedFileError.
    """

    def __init__(self, source: str | os.PathLike | BinaryIO | bytes):
        fo, where, self._own = open_source(source, "tcq data")
        self.where = str(where)
        self._src = SizedSource(fo, self.where)
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise
        self._done = False

    def _read_header(self) -> TcqHeader:
        src, where = self._src, self.where
        head = src.read(_PRELUDE.size, "the file header") if src.left >= _PRELUDE.size else None
        if head is None or head[:4] != MAGIC:
            raise _err(where, "not a .tcq file (bad magic)")
        _, version, body_len = _PRELUDE.unpack(head)
        if version != VERSION:
            raise _err(where, f"unsupported .tcq version {version} (this tonecraft reads {VERSION})")
        if not _FIXED.size + 6 <= body_len <= MAX_HEADER_BYTES:
            raise _err(where, f"implausible header length {body_len}")
        body = src.read(body_len, "the header")
        (crc,) = _U32.unpack(src.read(4, "the header checksum"))
        if zlib.crc32(body) != crc:
            raise _err(where, "header checksum mismatch: the file is corrupt")
        (sr, ch, length, bw, n_q, bits, fr, seg_len, seg_stride, flags,
         n_seg) = _FIXED.unpack_from(body)
        pos = _FIXED.size
        (mlen,) = _U16.unpack_from(body, pos)
        pos += 2
        if pos + mlen + 4 > body_len:
            raise _err(where, "header is shorter than its model id")
        try:
            model = body[pos:pos + mlen].decode("utf-8")
        except UnicodeDecodeError:
            raise _err(where, "model id is not valid UTF-8") from None
        pos += mlen
        (jlen,) = _U32.unpack_from(body, pos)
        pos += 4
        if pos + jlen != body_len or jlen > MAX_META_BYTES:
            raise _err(where, "header length does not match its metadata length")
        meta: dict = {}
        if jlen:
            try:
                meta = json.loads(body[pos:].decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise _err(where, "metadata is not valid JSON") from None
        if flags & ~_FLAG_SCALES:
            raise _err(where, f"unknown header flags {flags:#x}")
        h = TcqHeader(model=model, sample_rate=sr, channels=ch, length=length, n_q=n_q,
                      bits=bits, frame_rate=fr, bandwidth=bw, segment_length=seg_len,
                      segment_stride=seg_stride, has_scales=bool(flags & _FLAG_SCALES), meta=meta)
        validate_header(h, where)
        # Segment count must match the audio length, and each segment needs >= 8 bytes.
        expected = h.n_segments
        if n_seg != expected:
            raise _err(where, f"header declares {n_seg} segments but its length implies {expected}")
        if n_seg * 8 > src.left:
            raise _err(where, f"truncated file: {n_seg} segments cannot fit in {src.left} bytes")
        return h

    def __iter__(self) -> Iterator[Segment]:
        if self._done:
            raise RuntimeError("segments can only be read once")
        self._done = True
        h, src, where = self.header, self._src, self.where
        for i, (offset, seg_len) in enumerate(h.segments()):
            what = f"segment {i}"
            rec = b""
            scale = None
            if h.has_scales:
                rec += src.read(4, f"{what} scale")
                (scale,) = _F32.unpack(rec)
            nf_bytes = src.read(4, f"{what} frame count")
            rec += nf_bytes
            (frames,) = _U32.unpack(nf_bytes)
            expected = h.expected_frames(seg_len)
            if not expected <= frames <= expected + 1:  # fewer frames cannot decode to `length` samples
                raise _err(where, f"{what} declares {frames} frames; {seg_len} samples need {expected} "
                                  f"(or {expected + 1}): the length field and the codes disagree")
            nbytes = bitpack.packed_size(frames * h.n_q, h.bits)
            payload = src.read(nbytes, f"{what} codes")
            (crc,) = _U32.unpack(src.read(4, f"{what} checksum"))
            if zlib.crc32(payload, zlib.crc32(rec)) != crc:
                raise _err(where, f"{what} checksum mismatch: the file is corrupt")
            if scale is not None and not (math.isfinite(scale) and scale > 0):
                raise _err(where, f"{what} has an invalid scale {scale}")
            codes = bitpack.unpack(payload, h.bits, frames * h.n_q).reshape(frames, h.n_q).T
            yield Segment(np.ascontiguousarray(codes), scale, offset, seg_len)
        if src.left:
            raise _err(where, f"{src.left} unexpected bytes after the last segment")

    def close(self) -> None:
        if self._own:
            self._src.fo.close()

    def __enter__(self) -> "TcqReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_header(source) -> TcqHeader:
    """Header only (cheap: does not read the payload)."""
    with TcqReader(source) as r:
        return r.header


def read_tcq(source) -> tuple[TcqHeader, list[Segment]]:
    """Header and all segments, fully validated."""
    with TcqReader(source) as r:
        return r.header, list(r)


def is_tcq(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False
