import pytest
import torch

from helpers_codec import randomize_codebooks_
from tonecraft.codec import Codec, CodecConfig, get_config
from tonecraft.codec.configs import OFFICIAL_CONFIGS
from tonecraft.errors import AudioError, ConfigError


def tiny(**kw) -> CodecConfig:
    base = dict(name="tiny", sample_rate=8000, channels=1, dimension=8, n_filters=4, ratios=[4, 2], n_q=4, bins=16,
                target_bandwidths=[3.0, 6.0], causal=True)
    return CodecConfig(**{**base, **kw})


def make(cfg: CodecConfig, seed: int = 0) -> Codec:
    torch.manual_seed(seed)
    c = Codec(cfg)
    with torch.no_grad():
        randomize_codebooks_(layer._codebook for layer in c.quantizer.layers)
    return c.eval()


def test_official_configs():
    expect = {"encodec_24khz": (24000, 1, 320, 75, 32, 1024), "encodec_48khz": (48000, 2, 320, 150, 16, 1024),
              "musicgen_32khz": (32000, 1, 640, 50, 4, 2048), "audiogen_16khz": (16000, 1, 320, 50, 4, 2048)}
    for name, fn in OFFICIAL_CONFIGS.items():
        c = fn()
        assert (c.sample_rate, c.channels, c.hop_length, c.frame_rate, c.n_q, c.bins) == expect[name]
        assert CodecConfig.from_dict(c.to_dict()) == c
    assert get_config("encodec_24khz").causal and not get_config("encodec_24khz").true_skip
    assert get_config("encodec_48khz").norm == "time_group_norm" and get_config("encodec_48khz").segment == 1.0
    assert get_config("musicgen_32khz").true_skip and get_config("audiogen_16khz").pad_mode == "constant"
    with pytest.raises(ConfigError):
        get_config("nope")
    with pytest.raises(ConfigError):
        CodecConfig.from_dict({"bogus": 1})
    with pytest.raises(ConfigError):
        CodecConfig(norm="time_group_norm", causal=True)


def test_encode_decode_shapes_and_bandwidth():
    c = make(tiny())
    assert (c.sample_rate, c.channels, c.hop_length, c.frame_rate, c.cardinality, c.total_n_q) == (8000, 1, 8, 1000, 16, 4)
    # 1 codebook = 4 bits * 1000 Hz = 4 kbps
    assert c.n_q == 4
    c.set_target_bandwidth(6.0)
    assert c.n_q == 1 and c.bandwidth == 6.0
    with pytest.raises(ConfigError):
        c.set_target_bandwidth(5.0)
    c.set_target_bandwidth(None)
    x = torch.randn(2, 1, 101)
    codes, scale = c.encode(x)
    assert codes.shape == (2, 4, 13) and codes.dtype == torch.int64 and scale is None
    assert 0 <= codes.min() and codes.max() < 16
    assert torch.equal(c.encode(x, bandwidth=8.0)[0], codes[:, :2])
    y = c.decode(codes)
    assert y.shape == (2, 1, 13 * 8)
    assert c.decode(codes[:, :1]).shape == y.shape
    with pytest.raises(AudioError):
        c.encode(torch.randn(2, 2, 50))
    with pytest.raises(AudioError):
        c.encode(torch.randn(1, 1, 0))


def test_normalized_segments_roundtrip_structure():
    cfg = tiny(channels=2, causal=False, norm="time_group_norm", normalize=True, segment=0.01, overlap=0.1,
               true_skip=False)
    c = make(cfg)
    assert (c.segment_length, c.segment_stride) == (80, 72)
    x = torch.randn(1, 2, 250) * 3
    segs = c.encode_segments(x)
    assert len(segs) == len(range(0, 250, 72))
    for codes, scale in segs:
        assert scale.shape == (1, 1) and scale.item() > 1.0
    codes0, scale0 = c.encode(x[..., :80])
    assert torch.equal(segs[0][0], codes0) and torch.allclose(segs[0][1], scale0)
    y = c.decode_segments(segs)
    assert y.shape[:2] == (1, 2) and y.shape[-1] >= 250
    # the scale multiplies the decoded segment back
    assert torch.allclose(c.decode(codes0, scale0), c.decode(codes0) * scale0.item(), atol=1e-5)


def test_unsegmented_codec_has_one_segment():
    c = make(tiny())
    x = torch.randn(1, 1, 90)
    segs = c.encode_segments(x)
    assert len(segs) == 1 and torch.equal(c.decode_segments(segs), c.decode(segs[0][0]))


def test_forward_trains():
    c = make(tiny())
    c.train()
    x = torch.randn(2, 1, 64)
    out = c(x)
    assert out.audio.shape == x.shape and out.codes.shape == (2, 4, 8) and out.bandwidth == 16.0
    loss = (out.audio - x).abs().mean() + out.penalty
    loss.backward()
    assert c.encoder.model[0].conv.conv.parametrizations.weight.original1.grad is not None
    assert c.decoder.model[-1].conv.conv.bias.grad is not None


def test_fold_weight_norm_keeps_outputs():
    c = make(tiny(causal=False, pad_mode="constant"))
    x = torch.randn(1, 1, 77)
    codes, _ = c.encode(x)
    y = c.decode(codes)
    c.fold_weight_norm()
    assert not any("parametrizations" in k for k in c.state_dict())
    assert torch.equal(c.encode(x)[0], codes)
    assert torch.allclose(c.decode(codes), y, atol=1e-5)


def test_save_and_from_pretrained(tmp_path):
    c = make(tiny(causal=False))
    x = torch.randn(1, 1, 120)
    codes, _ = c.encode(x)
    out = c.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    loaded = Codec.from_pretrained(tmp_path / "m")
    assert loaded.config == c.config and not loaded.training
    assert torch.equal(loaded.encode(x)[0], codes)
    assert torch.allclose(loaded.decode(codes), c.decode(codes), atol=1e-5)
    loaded.save_pretrained(tmp_path / "folded")  # folded weights load too
    assert torch.equal(Codec.from_pretrained(tmp_path / "folded").encode(x)[0], codes)


def test_inference_sees_weight_updates():
    """Cached channels-last weights never go stale: trainable weights are not cached, frozen ones
    are re-derived after in-place changes."""
    c = make(tiny(causal=False))
    x = torch.randn(1, 1, 64)
    conv = c.encoder.model[0].conv.conv
    with torch.no_grad():
        y0 = c.encoder(x)
        conv.parametrizations.weight.original0.data.mul_(2.0)  # e.g. an EMA update through .data
        y1 = c.encoder(x)
        assert not torch.allclose(y0, y1)
        c.fold_weight_norm().requires_grad_(False)
        assert torch.allclose(c.encoder(x), y1, atol=1e-5)
        conv.weight.mul_(0.5)
        y2 = c.encoder(x)
        assert not torch.allclose(y2, y1)
        c.requires_grad_(True)
        conv.weight.data.mul_(3.0)
        assert not torch.allclose(c.encoder(x), y2)
