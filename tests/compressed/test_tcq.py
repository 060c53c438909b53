import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tonecraft.compressed import tcq
from tonecraft.errors import CompressedFileError


def make_file(seed=0, has_scales=True, n_q=4, bits=11, length=10_000, seg=4_000, stride=3_960):
    """A valid file as bytes, plus its header and the segments written."""
    rng = np.random.default_rng(seed)
    h = tcq.TcqHeader(model="tiny/codec", sample_rate=8_000, channels=2, length=length, n_q=n_q,
                      bits=bits, frame_rate=50.0, bandwidth=2.2, segment_length=seg,
                      segment_stride=stride, has_scales=has_scales, meta={"source": "x.wav"})
    segs = []
    for _, n in h.segments():
        codes = rng.integers(0, 1 << bits, size=(n_q, h.expected_frames(n)))
        segs.append((codes, float(rng.uniform(0.01, 2)) if has_scales else None))
    return h, segs


def to_bytes(tmp_path, h, segs):
    path = tmp_path / "f.tcq"
    tcq.write_tcq(path, h, segs)
    return path.read_bytes()


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    h, segs = make_file()
    return h, segs, to_bytes(tmp_path_factory.mktemp("tcq"), h, segs)


def assert_same(decoded, h, segs):
    h2, segs2 = decoded
    assert h2 == h
    assert len(segs2) == len(segs)
    for (codes, scale), s in zip(segs, segs2):
        np.testing.assert_array_equal(s.codes, codes)
        assert s.scale == (None if scale is None else pytest.approx(scale, rel=1e-6))


@pytest.mark.parametrize("has_scales", [True, False])
@pytest.mark.parametrize("seg", [0, 4_000])
def test_round_trip(tmp_path, has_scales, seg):
    h, segs = make_file(has_scales=has_scales, seg=seg, stride=seg * 99 // 100)
    data = to_bytes(tmp_path, h, segs)
    assert_same(tcq.read_tcq(data), h, segs)
    assert_same(tcq.read_tcq(tmp_path / "f.tcq"), h, segs)
    assert tcq.read_header(tmp_path / "f.tcq") == h
    assert tcq.is_tcq(tmp_path / "f.tcq")


def test_segments_match_encodec_cutting():
    h = tcq.TcqHeader("m", 48_000, 2, 100_000, 2, 10, 150.0, segment_length=48_000,
                      segment_stride=47_520)
    assert list(h.segments()) == [(0, 48_000), (47_520, 48_000), (95_040, 4_960)]
    assert h.n_segments == 3
    assert h.expected_frames(4_960) == 16  # ceil(4960/48000*150) = ceil(15.5)


def test_writer_is_atomic_and_checks_segments(tmp_path):
    h, segs = make_file()
    path = tmp_path / "out.tcq"
    path.write_bytes(b"old")
    with pytest.raises(ValueError):
        tcq.write_tcq(path, h, segs[:-1])  # too few segments
    with pytest.raises(ValueError):
        tcq.write_tcq(path, h, segs + segs[:1])  # too many
    with pytest.raises(ValueError):
        tcq.write_tcq(path, h, [(c[:, :1], s) for c, s in segs])  # wrong frame count
    with pytest.raises(ValueError):
        tcq.write_tcq(path, h, [(c, None) for c, s in segs])  # missing scales
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.tcq"]  # no temp files left behind


# --- hostile headers: well-formed CRC, absurd content --------------------------------------------

FIELDS = dict(sr=8_000, ch=1, length=1_000, bw=1.0, n_q=2, bits=10, fr=50.0, seg_len=0,
              seg_stride=0, flags=0, n_seg=1)


def raw_file(model=b"m", meta=b"", version=tcq.VERSION, payload=b"", **overrides):
    f = {**FIELDS, **overrides}
    body = tcq._FIXED.pack(*f.values()) + struct.pack("!H", len(model)) + model
    body += struct.pack("!I", len(meta)) + meta
    return (tcq._PRELUDE.pack(tcq.MAGIC, version, len(body)) + body
            + struct.pack("!I", zlib.crc32(body)) + payload)


def segment(frames, n_q=2, bits=10, nbytes=None):
    nbytes = (frames * n_q * bits + 7) // 8 if nbytes is None else nbytes
    rec = struct.pack("!I", frames) + bytes(nbytes)
    return rec + struct.pack("!I", zlib.crc32(rec))


def test_raw_file_helper_is_valid():
    h, segs = tcq.read_tcq(raw_file(payload=segment(7)))
    assert h.length == 1_000 and segs[0].codes.shape == (2, 7)


@pytest.mark.parametrize("data, match", [
    (b"", "magic"),
    (b"RIFF" + bytes(100), "magic"),
    (raw_file(version=2), "version 2"),
    (raw_file(sr=0), "sample rate"),
    (raw_file(sr=4_000_000_000), "sample rate"),
    (raw_file(ch=0), "channel"),
    (raw_file(n_q=0), "codebooks"),
    (raw_file(bits=0), "bits"),
    (raw_file(bits=17), "bits"),
    (raw_file(length=0, n_seg=0), "length"),
    (raw_file(length=2**63, payload=segment(7)), "length"),
    (raw_file(fr=float("nan")), "frame rate"),
    (raw_file(fr=0.0), "frame rate"),
    (raw_file(fr=0.001), "frame rate"),
    (raw_file(bw=float("inf")), "bandwidth"),
    (raw_file(seg_len=100, seg_stride=200), "segment"),
    (raw_file(seg_stride=5), "stride"),
    (raw_file(flags=0x80), "flags"),
    (raw_file(model=b""), "model id"),
    (raw_file(model=b"\xff\xfe"), "UTF-8"),
    (raw_file(model=b"a\nb"), "control"),
    (raw_file(meta=b"{not json"), "JSON"),
    (raw_file(meta=b"[1, 2]"), "JSON object"),
    (raw_file(meta=b"[" * 100_000), "JSON|metadata"),
    (raw_file(n_seg=2), "segments"),
    # 1 s segments declared over ~12 days of audio: refused from the size, nothing allocated
    (raw_file(length=2**35, seg_len=8_000, seg_stride=8_000, n_seg=-(-2**35 // 8_000)), "truncated"),
    (raw_file(length=2**35, payload=segment(7)), "frames"),
    (raw_file(payload=segment(7)[:-1]), "truncated"),
    (raw_file(payload=segment(7) + b"\x00"), "unexpected bytes"),
    (raw_file(payload=segment(0)), "frames"),
    (raw_file(payload=segment(2**32 - 1, nbytes=20)), "frames"),
    (raw_file(length=(2**32 - 1) * 160, payload=segment(2**32 - 1, nbytes=20)), "truncated"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_hostile_headers(data, match):
    with pytest.raises(CompressedFileError, match=match):
        tcq.read_tcq(data)


def test_length_field_must_agree_with_the_codes():
    """Issue 13: a length field one hop too long (CRC recomputed) decoded to fewer samples than `info` showed."""
    assert tcq.read_tcq(raw_file(length=1_000 + 40, payload=segment(7)))[0].length == 1_040  # 7 frames cover it
    with pytest.raises(CompressedFileError, match="disagree"):
        tcq.read_tcq(raw_file(length=1_000 + 160, payload=segment(7)))
    with pytest.raises(CompressedFileError, match="disagree"):
        tcq.read_tcq(raw_file(payload=segment(6)))


def test_huge_declared_header_length():
    data = tcq._PRELUDE.pack(tcq.MAGIC, tcq.VERSION, 2**32 - 1) + bytes(64)
    with pytest.raises(CompressedFileError, match="header length"):
        tcq.read_tcq(data)
    data = tcq._PRELUDE.pack(tcq.MAGIC, tcq.VERSION, 100_000) + bytes(64)
    with pytest.raises(CompressedFileError, match="truncated"):
        tcq.read_tcq(data)


def test_missing_file(tmp_path):
    with pytest.raises(CompressedFileError, match="cannot open"):
        tcq.read_tcq(tmp_path / "nope.tcq")


# --- fuzzing --------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=2_000, suppress_health_check=[HealthCheck.too_slow])


def check_decode(data, h, segs):
    """Either a clean CompressedFileError or exactly the original content."""
    try:
        decoded = tcq.read_tcq(data)
    except CompressedFileError as exc:
        assert str(exc)
        return False
    assert_same(decoded, h, segs)
    return True


@FUZZ
@given(st.binary(max_size=2_000))
def test_fuzz_random_bytes(data):
    try:
        tcq.read_tcq(data)
    except CompressedFileError:
        pass


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_after_magic(data):
    try:
        tcq.read_tcq(tcq.MAGIC + bytes([tcq.VERSION]) + data)
    except CompressedFileError:
        pass


@FUZZ
@given(st.data())
def test_fuzz_truncation(valid, data):
    h, segs, blob = valid
    cut = data.draw(st.integers(0, len(blob) - 1))
    assert not check_decode(blob[:cut], h, segs)


@FUZZ
@given(st.data())
def test_fuzz_bit_flips(valid, data):
    h, segs, blob = valid
    flips = data.draw(st.lists(st.integers(0, len(blob) * 8 - 1), min_size=1, max_size=8))
    buf = bytearray(blob)
    for bit in flips:
        buf[bit // 8] ^= 1 << (bit % 8)
    check_decode(bytes(buf), h, segs)  # CRC32 catches all 1-3 bit errors; never a wrong decode


@FUZZ
@given(st.data())
def test_fuzz_overwrite_and_splice(valid, data):
    h, segs, blob = valid
    start = data.draw(st.integers(0, len(blob)))
    junk = data.draw(st.binary(max_size=64))
    end = data.draw(st.integers(start, min(len(blob), start + 64)))
    mutated = blob[:start] + junk + blob[end:]
    if mutated != blob:
        check_decode(mutated, h, segs)


def test_single_bit_flips_always_detected(valid):
    h, segs, blob = valid
    rng = np.random.default_rng(0)
    for bit in rng.choice(len(blob) * 8, size=400, replace=False):
        buf = bytearray(blob)
        buf[bit // 8] ^= 1 << (bit % 8)
        assert not check_decode(bytes(buf), h, segs), bit


def test_streams_and_meta(valid):
    h, segs, blob = valid
    with tcq.TcqReader(io.BytesIO(blob)) as r:
        assert r.header.meta == {"source": "x.wav"}
        assert [s.offset for s in r] == [o for o, _ in h.segments()]
    assert json.loads(json.dumps(h.meta)) == h.meta
