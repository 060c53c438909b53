"""Read and write the original EnCodec `.ecdc` files (bit-packed mode only).

Layout (as written by `encodec.compress`, version 0):
  struct '!4sBI' = magic b'ECDC', version 0, uint32 JSON length; then the JSON
  {"m": model name, "al": audio length in samples, "nc": codebooks, "lm": use_lm};
  then per segment: a '!f' scale if the model normalises, then the codes frame-major
  (for t: for k) bit-packed LSB-first at log2(bins) bits, flushed to a byte per segment.

The file does not say how it is segmented or how many frames a segment has: the decoder
derives both from the model (sample rate, frame rate, segment length/stride), so reading
needs an `EcdcLayout`. There is no checksum, so bit flips in the codes cannot be detected.
Arithmetic-coded files ("lm": true) need EnCodec's entropy-model LM and are refused.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import CompressedFileError
from . import bitpack
from ..fileio import AtomicFile
from .tcq import MAX_LENGTH, MAX_N_Q, Segment, SizedSource, open_source, segment_bounds

MAGIC = b"ECDC"
VERSION = 0
SUFFIX = ".ecdc"
MAX_JSON_BYTES = 1 << 16
_HEADER = struct.Struct("!4sBI")
_SCALE = struct.Struct("!f")


@dataclass(frozen=True)
class EcdcLayout:
    """What a reader must know about the model, since the file does not store it."""

    sample_rate: int
    channels: int
    frame_rate: float
    bits: int = 10
    segment_length: int = 0  # 0 = the whole audio is one segment
    segment_stride: int = 0
    has_scales: bool = False

    def frames(self, seg_len: int) -> int:
        # Same float expression as encodec's decompress_from_file, so frame counts match.
        return int(math.ceil(seg_len / self.sample_rate * self.frame_rate))

    def segments(self, length: int):
        return segment_bounds(length, self.segment_length, self.segment_stride)

    def payload_size(self, length: int, n_q: int) -> int:
        """Bytes after the header for `length` samples, computed without iterating segments."""
        def seg_bytes(n):
            return (4 if self.has_scales else 0) + bitpack.packed_size(self.frames(n) * n_q, self.bits)
        if self.segment_length <= 0:
            return seg_bytes(length)
        n_seg = -(-length // self.segment_stride)
        last = length - (n_seg - 1) * self.segment_stride
        return (n_seg - 1) * seg_bytes(self.segment_length) + seg_bytes(min(last, self.segment_length))


# The two models the encodec package can write; segment 1 s with 1 % overlap for 48 kHz.
LAYOUTS: dict[str, EcdcLayout] = {
    "encodec_24khz": EcdcLayout(24_000, 1, 75.0),
    "encodec_48khz": EcdcLayout(48_000, 2, 150.0, segment_length=48_000,
                                segment_stride=int((1 - 0.01) * 48_000), has_scales=True),
}


@dataclass
class EcdcHeader:
    model: str  # "m"
    length: int  # "al", samples per channel
    n_q: int  # "nc"
    use_lm: bool = False  # "lm"


def _err(where: str, msg: str) -> CompressedFileError:
    return CompressedFileError(f"{where}: {msg}")


def encode_header(h: EcdcHeader) -> bytes:
    # Key order and json.dumps defaults as in encodec.binary.write_ecdc_header -> identical bytes.
    meta = json.dumps({"m": h.model, "al": h.length, "nc": h.n_q, "lm": h.use_lm}).encode("utf-8")
    return _HEADER.pack(MAGIC, VERSION, len(meta)) + meta


def _read_header(src: SizedSource) -> EcdcHeader:
    where = src.where
    if src.left < _HEADER.size:
        raise _err(where, "not an .ecdc file (too short)")
    magic, version, meta_len = _HEADER.unpack(src.read(_HEADER.size, "the header"))
    if magic != MAGIC:
        raise _err(where, "not an .ecdc file (bad magic)")
    if version != VERSION:
        raise _err(where, f"unsupported .ecdc version {version} (only version 0 exists)")
    if meta_len > MAX_JSON_BYTES:
        raise _err(where, f"implausible JSON header length {meta_len}")
    raw = src.read(meta_len, "the JSON header")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _err(where, "the JSON header is not valid JSON") from None
    if not isinstance(meta, dict):
        raise _err(where, "the JSON header is not an object")
    model, length, n_q, use_lm = (meta.get(k) for k in ("m", "al", "nc", "lm"))
    if not isinstance(model, str) or not model or len(model) > 4096:
        raise _err(where, "the JSON header has no valid model name ('m')")
    if type(length) is not int or not 1 <= length <= MAX_LENGTH:
        raise _err(where, f"invalid audio length ('al'): {length!r}")
    if type(n_q) is not int or not 1 <= n_q <= MAX_N_Q:
        raise _err(where, f"invalid number of codebooks ('nc'): {n_q!r}")
    if type(use_lm) is not bool:
        raise _err(where, f"invalid 'lm' flag: {use_lm!r}")
    if use_lm:
        raise _err(where, "arithmetic-coded .ecdc files (compressed with use_lm=True) are not "
                          "supported; decode it with the encodec package or re-encode without the LM")
    return EcdcHeader(model, length, n_q, use_lm)


class EcdcReader:
    """`.header` at once; iterate for the segments, given the model's `EcdcLayout`
    (from LAYOUTS for the official models, else from the model, via `layout=` or `set_layout`)."""

    def __init__(self, source, layout: EcdcLayout | None = None):
        fo, where, self._own = open_source(source, "ecdc data")
        self.where = where
        self._src = SizedSource(fo, where)
        try:
            self.header = _read_header(self._src)
        except BaseException:
            self.close()
            raise
        self.layout = layout or LAYOUTS.get(self.header.model)

    def __iter__(self) -> Iterator[Segment]:
        h, lay, src, where = self.header, self.layout, self._src, self.where
        if lay is None:
            raise _err(where, f"unknown model {h.model!r}: its segmenting is not known, give a model")
        need = lay.payload_size(h.length, h.n_q)
        if need != src.left:
            what = "truncated file" if need > src.left else "unexpected trailing bytes"
            raise _err(where, f"{what}: the header implies {need} bytes of codes, found {src.left}")
        for i, (offset, seg_len) in enumerate(lay.segments(h.length)):
            scale = None
            if lay.has_scales:
                (scale,) = _SCALE.unpack(src.read(4, f"segment {i} scale"))
                if not (math.isfinite(scale) and scale > 0):
                    raise _err(where, f"segment {i} has an invalid scale {scale}")
            frames = lay.frames(seg_len)
            count = frames * h.n_q
            data = src.read(bitpack.packed_size(count, lay.bits), f"segment {i} codes")
            used = count * lay.bits % 8
            if used and data[-1] >> used:  # no checksum: the zero padding is the one thing that can be checked
                raise _err(where, f"segment {i}: its padding bits are not zero: the file is corrupt")
            codes = bitpack.unpack(data, lay.bits, count).reshape(frames, h.n_q).T
            yield Segment(np.ascontiguousarray(codes), scale, offset, seg_len)

    def close(self) -> None:
        if self._own:
            self._src.fo.close()

    def __enter__(self) -> "EcdcReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_header(source) -> EcdcHeader:
    with EcdcReader(source) as r:
        return r.header


def read_ecdc(source, layout: EcdcLayout | None = None) -> tuple[EcdcHeader, list[Segment]]:
    with EcdcReader(source, layout) as r:
        return r.header, list(r)


def segment_bytes(codes, scale: float | None, layout: EcdcLayout) -> bytes:
    """One segment as encodec writes it: optional '!f' scale, then frame-major packed codes."""
    arr = np.asarray(codes)
    if arr.ndim != 2:
        raise ValueError(f"segment codes must be [n_q, frames], got shape {arr.shape}")
    head = b""
    if layout.has_scales:
        if scale is None:
            raise ValueError("this model normalises audio: every segment needs a scale")
        head = _SCALE.pack(float(scale))
    return head + bitpack.pack(arr.T, layout.bits)


class EcdcWriter:
    """Streams segments to `path` atomically; checks each against the layout's frame count."""

    def __init__(self, path, header: EcdcHeader, layout: EcdcLayout):
        if header.use_lm:
            raise ValueError("writing arithmetic-coded .ecdc files is not supported")
        self.header, self.layout = header, layout
        self._bounds = layout.segments(header.length)
        self._file = AtomicFile(path)
        self._file.write(encode_header(header))

    def write_segment(self, codes, scale: float | None = None) -> None:
        bound = next(self._bounds, None)
        if bound is None:
            raise ValueError("more segments than the audio length implies")
        shape = np.shape(codes)
        if shape != (self.header.n_q, self.layout.frames(bound[1])):
            raise ValueError(f"segment codes have shape {shape}, the format needs "
                             f"{(self.header.n_q, self.layout.frames(bound[1]))}")
        self._file.write(segment_bytes(codes, scale, self.layout))

    def close(self) -> None:
        if self._file.closed:
            return
        if next(self._bounds, None) is not None:
            self._file.abort()
            raise ValueError("fewer segments written than the audio length implies")
        self._file.commit()

    def abort(self) -> None:
        self._file.abort()

    def __enter__(self) -> "EcdcWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_ecdc(path, header: EcdcHeader, layout: EcdcLayout, segments) -> None:
    """Write a whole file from an iterable of (codes [n_q, frames], scale or None)."""
    with EcdcWriter(path, header, layout) as w:
        for codes, scale in segments:
            w.write_segment(codes, scale)
