"""Our loader + codec reproduce the reference implementations bit for bit (random weights)."""
import pytest
import torch

from helpers_codec import YAML_32K, encodec_reference, hf_encodec_32khz, hf_to_audiocraft_state_dict
from tonecraft.pretrained.codec_loading import load_codec

pytest.importorskip("encodec")


def _audio(channels: int, sample_rate: int, seconds: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.3 * torch.sin(2 * torch.pi * 220 * t) * torch.linspace(0.2, 1.0, t.numel())
    return (tone + 0.05 * torch.randn(1, channels, t.numel(), generator=g)).float()


@pytest.fixture(scope="module")
def ref24():
    return encodec_reference("encodec_24khz")


@pytest.fixture(scope="module")
def ref48():
    return encodec_reference("encodec_48khz")


def test_encodec_24khz_th(tmp_path, ref24):
    path = tmp_path / "encodec_24khz-d7cc33bc.th"
    torch.save(ref24.state_dict(), path)
    ours = load_codec(path)
    assert ours.sample_rate == 24000 and ours.total_n_q == 32 and ours.frame_rate == 75
    x = _audio(1, 24000, 2.5)
    for bw in (1.5, 6.0):
        ref24.set_target_bandwidth(bw)
        ours.set_target_bandwidth(bw)
        with torch.no_grad():
            [(ref_codes, ref_scale)] = ref24.encode(x)
            ref_wav = ref24.decode([(ref_codes, ref_scale)])
        codes, scale = ours.encode(x)
        assert scale is None and codes.dtype == torch.int64
        assert codes.shape == (1, ours.n_q, 188)
        assert torch.equal(codes, ref_codes)
        wav = ours.decode(codes)
        assert wav.shape == ref_wav.shape
        assert (wav - ref_wav).abs().max() < 1e-4


def test_encodec_48khz_th_segments(tmp_path, ref48):
    path = tmp_path / "encodec_48khz-7e698e3e.th"
    torch.save(ref48.state_dict(), path)
    ours = load_codec(path)
    assert ours.channels == 2 and ours.config.normalize and ours.segment_length == 48000
    x = _audio(2, 48000, 2.3)
    for bw in (3.0, 12.0):
        ref48.set_target_bandwidth(bw)
        ours.set_target_bandwidth(bw)
        with torch.no_grad():
            ref_frames = ref48.encode(x)
            ref_wav = ref48.decode(ref_frames)
        frames = ours.encode_segments(x)
        assert len(frames) == len(ref_frames) == 3
        for (c, s), (rc, rs) in zip(frames, ref_frames):
            assert torch.equal(c, rc)
            assert s.shape == rs.shape == (1, 1) and torch.allclose(s, rs, rtol=1e-6, atol=0)
        wav = ours.decode_segments(frames)
        assert wav.shape == ref_wav.shape
        assert (wav - ref_wav).abs().max() < 1e-4


@pytest.fixture(scope="module")
def hf32():
    return hf_encodec_32khz("reflect")


def _set_pad_mode(model, pad_mode: str):
    """Switch a transformers EnCodec between pad modes without rebuilding it (init is slow)."""
    model.config.pad_mode = pad_mode
    for m in model.modules():
        if hasattr(m, "pad_mode"):
            m.pad_mode = pad_mode
    return model


def _hf_reference(model, x):
    with torch.no_grad():
        enc = model.encode(x, bandwidth=2.2)
        return enc.audio_codes[0], model.decode(enc.audio_codes, enc.audio_scales).audio_values


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_transformers_32khz(tmp_path, hf32, pad_mode):
    ref = _set_pad_mode(hf32, pad_mode)
    ref.save_pretrained(tmp_path / "hf")
    ours = load_codec(tmp_path / "hf")
    assert ours.config.pad_mode == pad_mode and not ours.config.causal and ours.config.true_skip
    assert (ours.total_n_q, ours.cardinality, ours.frame_rate) == (4, 2048, 50)
    x = _audio(1, 32000, 1.3)
    ref_codes, ref_wav = _hf_reference(ref, x)
    codes, scale = ours.encode(x)
    assert scale is None
    assert torch.equal(codes, ref_codes)
    wav = ours.decode(codes)
    assert wav.shape == ref_wav.shape
    assert (wav - ref_wav).abs().max() < 1e-4

    if pad_mode == "reflect":  # a `{'pretrained': ...}` pointer, as in the released MusicGen checkpoints
        torch.save({"pretrained": str(tmp_path / "hf")}, tmp_path / "pointer.bin")
        assert torch.equal(load_codec(tmp_path / "pointer.bin").encode(x)[0], ref_codes)


def test_audiocraft_compression_state_dict(tmp_path, hf32):
    """The same weights in audiocraft's compression_state_dict.bin layout (legacy weight-norm names,
    YAML xp.cfg with `${...}` interpolations, audiocraft's constant padding)."""
    ref = _set_pad_mode(hf32, "constant")
    pkg = {"best_state": hf_to_audiocraft_state_dict(ref.state_dict()),
           "xp.cfg": YAML_32K.replace("PAD_MODE", "constant"), "version": "1.0", "exported": True}
    torch.save(pkg, tmp_path / "compression_state_dict.bin")
    ours = load_codec(tmp_path)  # the folder holding compression_state_dict.bin
    assert ours.config.pad_mode == "constant" and ours.config.target_bandwidths == [2.2]
    assert (ours.sample_rate, ours.channels, ours.total_n_q) == (32000, 1, 4)
    x = _audio(1, 32000, 1.3, seed=3)
    ref_codes, ref_wav = _hf_reference(ref, x)
    codes, _ = ours.encode(x)
    assert torch.equal(codes, ref_codes)
    assert (ours.decode(codes) - ref_wav).abs().max() < 1e-4
