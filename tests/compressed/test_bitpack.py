import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tonecraft.compressed import bitpack


@st.composite
def codes_and_bits(draw):
    bits = draw(st.integers(1, 16))
    values = draw(st.lists(st.integers(0, (1 << bits) - 1), max_size=300))
    return values, bits


@given(codes_and_bits())
@settings(max_examples=300, deadline=None)
def test_round_trip_property(case):
    values, bits = case
    data = bitpack.pack(np.array(values, dtype=np.int64), bits)
    assert len(data) == bitpack.packed_size(len(values), bits)
    out = bitpack.unpack(data, bits, len(values))
    assert out.dtype == np.int64
    assert out.tolist() == values


@given(codes_and_bits())
@settings(max_examples=100, deadline=None)
def test_matches_encodec_bitpacker(case):
    """Byte-identical to encodec.binary.BitPacker (push all, flush once)."""
    from encodec import binary

    values, bits = case
    fo = io.BytesIO()
    packer = binary.BitPacker(bits, fo)
    for v in values:
        packer.push(v)
    packer.flush()
    assert bitpack.pack(values, bits) == fo.getvalue()


@pytest.mark.parametrize("bits", [1, 3, 8, 10, 11, 16])
def test_large_random(bits):
    rng = np.random.default_rng(bits)
    values = rng.integers(0, 1 << bits, size=100_003)
    data = bitpack.pack(torch.from_numpy(values), bits)  # tensors accepted
    np.testing.assert_array_equal(bitpack.unpack(data, bits, values.size), values)


def test_lsb_first_layout():
    # 10-bit values 1 and 2: bits 0 and 11 set -> bytes 0x01, 0x08, 0x00
    assert bitpack.pack([1, 2], 10) == bytes([0x01, 0x08, 0x00])
    assert bitpack.pack([1, 0, 1], 1) == bytes([0b101])


def test_extra_bytes_ignored_and_short_data_rejected():
    data = bitpack.pack([5, 6, 7], 4) + b"\xff\xff"
    assert bitpack.unpack(data, 4, 3).tolist() == [5, 6, 7]
    with pytest.raises(ValueError):
        bitpack.unpack(data[:1], 4, 3)


@pytest.mark.parametrize("bits", [0, 17, -1, 2.5])
def test_bad_bits(bits):
    with pytest.raises(ValueError):
        bitpack.pack([0], bits)
    with pytest.raises(ValueError):
        bitpack.unpack(b"\x00", bits, 1)


def test_out_of_range_values_rejected():
    with pytest.raises(ValueError):
        bitpack.pack([1024], 10)
    with pytest.raises(ValueError):
        bitpack.pack([-1], 10)
    with pytest.raises(ValueError):
        bitpack.pack(np.array([0.5]), 10)


def test_empty():
    assert bitpack.pack([], 10) == b""
    assert bitpack.unpack(b"", 10, 0).size == 0
