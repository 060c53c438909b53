"""`.ecdc` interop with the reference `encodec` package (random weights, no network)."""
import io
import json
import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
import torch

from tonecraft.compressed import ecdc
from tonecraft.errors import CompressedFileError

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
encodec = pytest.importorskip("encodec")
import importlib  # noqa: E402

enc_compress = importlib.import_module("encodec.compress")  # the package re-exports a function
from encodec.model import EncodecModel  # noqa: E402


def random_encodec(name):
    """Official architecture with random weights and random (initialised) RVQ codebooks."""
    torch.manual_seed(0)
    build = {"encodec_24khz": EncodecModel.encodec_model_24khz,
             "encodec_48khz": EncodecModel.encodec_model_48khz}[name]
    model = build(pretrained=False)
    for layer in model.quantizer.vq.layers:
        layer._codebook.embed.normal_()
        layer._codebook.inited.fill_(1)
    model.name = name  # compress() refuses models not named like the pretrained ones
    model.set_target_bandwidth(6.0)
    return model.eval()


@pytest.fixture(scope="module", params=["encodec_24khz", "encodec_48khz"])
def reference(request):
    name = request.param
    model = random_encodec(name)
    length = model.sample_rate + 501  # 48 kHz: two segments, the last one short
    torch.manual_seed(1)
    wav = 0.1 * torch.randn(model.channels, length)
    with torch.no_grad():
        frames = model.encode(wav[None])
    data = enc_compress.compress(model, wav, use_lm=False)
    return name, model, wav, frames, data


def test_layouts_match_encodec(reference):
    name, model, *_ = reference
    lay = ecdc.LAYOUTS[name]
    assert lay.sample_rate == model.sample_rate
    assert lay.channels == model.channels
    assert lay.frame_rate == model.frame_rate
    assert lay.bits == model.bits_per_codebook
    assert lay.segment_length == (model.segment_length or 0)
    assert lay.segment_stride == (model.segment_stride or 0)
    assert lay.has_scales == model.normalize


def test_read_encodec_file(reference):
    name, model, wav, frames, data = reference
    header, segs = ecdc.read_ecdc(data)
    assert header == ecdc.EcdcHeader(name, wav.shape[-1], frames[0][0].shape[1], False)
    assert len(segs) == len(frames)
    for seg, (codes, scale) in zip(segs, frames):
        np.testing.assert_array_equal(seg.codes, codes[0].numpy())
        if scale is None:
            assert seg.scale is None
        else:
            assert seg.scale == pytest.approx(scale.item(), rel=1e-6)


def test_write_is_byte_identical_and_encodec_reads_it(reference, tmp_path, monkeypatch):
    name, model, wav, frames, data = reference
    path = tmp_path / "x.ecdc"
    header = ecdc.EcdcHeader(name, wav.shape[-1], frames[0][0].shape[1])
    ecdc.write_ecdc(path, header, ecdc.LAYOUTS[name],
                    [(c[0].numpy(), None if s is None else s.item()) for c, s in frames])
    ours = path.read_bytes()
    assert ours == data
    # and their decoder accepts it (model constructor patched: no download)
    monkeypatch.setitem(enc_compress.MODELS, name, lambda: model)
    out, sr = enc_compress.decompress(ours)
    assert sr == model.sample_rate and out.shape == wav.shape


def test_frame_counts_and_sizes():
    lay = ecdc.LAYOUTS["encodec_48khz"]
    n = 100_000
    segs = list(lay.segments(n))
    assert segs[-1] == (95_040, 4_960)
    total = sum(4 + (lay.frames(s) * 3 * 10 + 7) // 8 for _, s in segs)
    assert lay.payload_size(n, 3) == total


def header_bytes(meta, version=0, magic=b"ECDC"):
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return struct.pack("!4sBI", magic, version, len(raw)) + raw


GOOD = {"m": "encodec_24khz", "al": 240, "nc": 2, "lm": False}


def test_minimal_valid():
    # 240 samples at 75 Hz = 0.75 frame -> 1 frame of 2 ten-bit codes -> 3 bytes
    data = header_bytes(GOOD) + bytes(3)
    h, segs = ecdc.read_ecdc(data)
    assert segs[0].codes.shape == (2, 1)


@pytest.mark.parametrize("data, match", [
    (b"", "too short"),
    (b"RIFF" + bytes(20), "bad magic"),
    (header_bytes(GOOD, version=1), "version"),
    (struct.pack("!4sBI", b"ECDC", 0, 2**32 - 1) + b"{}", "JSON header length"),
    (struct.pack("!4sBI", b"ECDC", 0, 1000) + b"{}", "truncated"),
    (header_bytes(b"{garbage"), "not valid JSON"),
    (header_bytes(b"\xff\xfe"), "not valid JSON"),
    (header_bytes([1, 2]), "not an object"),
    (header_bytes({**GOOD, "m": 3}), "model name"),
    (header_bytes({**GOOD, "al": -1}), "audio length"),
    (header_bytes({**GOOD, "al": True}), "audio length"),
    (header_bytes({**GOOD, "al": 2**62}), "audio length"),
    (header_bytes({**GOOD, "nc": 0}), "codebooks"),
    (header_bytes({**GOOD, "nc": "8"}), "codebooks"),
    (header_bytes({**GOOD, "lm": 0}), "'lm'"),
    (header_bytes({**GOOD, "lm": True}), "arithmetic-coded"),
    (header_bytes({**GOOD, "m": "mystery"}) + bytes(3), "unknown model"),
    (header_bytes({**GOOD, "al": 2**39}), "truncated"),
    (header_bytes(GOOD) + bytes(2), "truncated"),
    (header_bytes(GOOD) + bytes(4), "trailing"),
    (header_bytes({**GOOD, "m": "encodec_48khz", "al": 2**39}), "truncated"),
])
def test_hostile(data, match):
    with pytest.raises(CompressedFileError, match=match):
        ecdc.read_ecdc(data)


def test_truncations_of_real_file(reference):
    *_, data = reference
    for cut in range(0, len(data), max(1, len(data) // 97)):
        with pytest.raises(CompressedFileError):
            ecdc.read_ecdc(io.BytesIO(data[:cut]))


def test_writer_checks_shapes(tmp_path):
    lay = ecdc.LAYOUTS["encodec_24khz"]
    h = ecdc.EcdcHeader("encodec_24khz", 240, 2)
    with pytest.raises(ValueError):
        ecdc.write_ecdc(tmp_path / "a.ecdc", h, lay, [(np.zeros((2, 3), dtype=int), None)])
    with pytest.raises(ValueError):
        ecdc.write_ecdc(tmp_path / "a.ecdc", h, lay, [])
    assert list(tmp_path.iterdir()) == []


def test_full_pipeline_matches_encodec(reference, tmp_path, monkeypatch):
    """Same weights in our Codec: compress_file writes exactly encodec's bytes, and our
    decompress_file of their file gives their audio."""
    from tonecraft.audio import load_audio, save_audio
    from tonecraft.compressed import compress as C
    from tonecraft.pretrained.codec_loading import load_codec

    name, model, wav, frames, data = reference
    ckpt = tmp_path / f"{name}-00000000.th"  # encodec package checkpoint layout
    torch.save(model.state_dict(), ckpt)
    ours = load_codec(ckpt)
    src = tmp_path / "in.wav"
    save_audio(src, wav, model.sample_rate, normalize="none", subtype="FLOAT")  # lossless
    out = tmp_path / "ours.ecdc"
    C.compress_file(src, out, model=ours, bandwidth=6.0, model_id=name)
    assert out.read_bytes() == data

    theirs = tmp_path / "theirs.ecdc"
    theirs.write_bytes(data)
    C.decompress_file(theirs, tmp_path / "out.wav", model=ours)
    monkeypatch.setitem(enc_compress.MODELS, name, lambda: model)
    ref, _ = enc_compress.decompress(data)
    audio, sr = load_audio(tmp_path / "out.wav")
    assert sr == model.sample_rate
    assert (audio - ref.clamp(-1, 1)).abs().max() < 1e-4


@settings(max_examples=200, deadline=2_000)
@given(st.binary(max_size=200), st.sampled_from([b"", b"ECDC\x00", b"ECDC\x00\x00\x00\x00"]))
def test_fuzz_random_bytes(data, prefix):
    try:
        ecdc.read_ecdc(prefix + data)
    except CompressedFileError:
        pass


@settings(max_examples=200, deadline=2_000)
@given(st.dictionaries(st.sampled_from(["m", "al", "nc", "lm", "x"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=20),
                                 st.floats(allow_nan=True), st.lists(st.integers(), max_size=3))),
       st.binary(max_size=64))
def test_fuzz_json_headers(meta, payload):
    try:
        h, segs = ecdc.read_ecdc(header_bytes(meta) + payload)
    except CompressedFileError:
        return
    assert h.model in ecdc.LAYOUTS and len(segs) >= 1


def test_nonzero_padding_bits_are_detected(tmp_path):
    """Issue 13: .ecdc has no checksum; the zero padding after each segment's codes is checked."""
    layout = ecdc.LAYOUTS["encodec_24khz"]
    path = tmp_path / "x.ecdc"
    ecdc.write_ecdc(path, ecdc.EcdcHeader("encodec_24khz", 320, 2), layout, [(np.array([[5], [1023]]), None)])
    assert ecdc.read_ecdc(path)[1][0].codes.tolist() == [[5], [1023]]  # 20 bits of codes, 4 of padding
    data = bytearray(path.read_bytes())
    data[-1] |= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(CompressedFileError, match="padding bits"):
        ecdc.read_ecdc(path)
