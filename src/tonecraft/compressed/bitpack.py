"""Bit packing of integer codes, LSB-first, vectorised with numpy.

The bit order is the one of EnCodec's `BitPacker`: value `i` occupies stream bits
`[i*bits, (i+1)*bits)`, least significant bit first, and the stream's bits fill each byte from
its least significant bit up. The last byte is zero-padded. So `pack(codes, 10)` is byte-identical
to pushing the same codes through `encodec.binary.BitPacker(10, fo)` and flushing, which lets us
read and write `.ecdc` files without a per-value Python loop.
"""
from __future__ import annotations

import numpy as np

MAX_BITS = 16


def _check_bits(bits: int) -> None:
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits per value must be an integer in 1..{MAX_BITS}, got {bits!r}")


def packed_size(count: int, bits: int) -> int:
    """Number of bytes `pack` produces for `count` values of `bits` bits."""
    _check_bits(bits)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return (count * bits + 7) // 8


def pack(values, bits: int) -> bytes:
    """Pack non-negative integers below `2**bits` into bytes, LSB-first.

    `values` may be any array-like (numpy array, torch tensor on CPU, list); it is flattened in
    C order. Values out of range raise ValueError rather than being silently truncated.
    """
    _check_bits(bits)
    arr = np.asarray(values).reshape(-1)
    if arr.size == 0:
        return b""
    if arr.dtype.kind not in "iub":
        raise ValueError(f"codes must be integers, got dtype {arr.dtype}")
    if int(arr.min()) < 0 or int(arr.max()) >= (1 << bits):
        raise ValueError(f"codes must lie in [0, {1 << bits}) to be packed on {bits} bits")
    if bits == 8:
        return arr.astype(np.uint8).tobytes()
    if bits == 16:
        return arr.astype("<u2").tobytes()
    # [N, 16] matrix of the bits of each value (LSB first), keep the low `bits` columns, then
    # pack the whole stream LSB-first into bytes.
    as_bytes = arr.astype("<u2").view(np.uint8).reshape(-1, 2)
    bit_matrix = np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :bits]
    return np.packbits(bit_matrix.reshape(-1), bitorder="little").tobytes()


def unpack(data: bytes, bits: int, count: int) -> np.ndarray:
    """Unpack `count` values of `bits` bits from `data` (inverse of `pack`), as int64.

    Raises ValueError if `data` holds fewer than `count` values; extra padding bits are ignored.
    """
    _check_bits(bits)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    need = packed_size(count, bits)
    if len(data) < need:
        raise ValueError(f"need {need} bytes for {count} values of {bits} bits, got {len(data)}")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    buf = np.frombuffer(data, dtype=np.uint8, count=need)
    if bits == 8:
        return buf.astype(np.int64)
    if bits == 16:
        return buf.view("<u2").astype(np.int64)
    stream = np.unpackbits(buf, bitorder="little", count=count * bits).reshape(count, bits)
    # Pad each value's bits to 16 and let packbits rebuild the little-endian uint16.
    padded = np.zeros((count, 16), dtype=np.uint8)
    padded[:, :bits] = stream
    return np.packbits(padded, axis=1, bitorder="little").view("<u2").reshape(-1).astype(np.int64)
