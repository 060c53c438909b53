"""Chunked encode/decode with carried state equals one call on the whole signal."""
import random

import pytest
import torch

from helpers_codec import randomize_codebooks_
from tonecraft.codec import Codec, CodecConfig, get_config
from tonecraft.errors import ConfigError


def _codec(cfg: CodecConfig) -> Codec:
    torch.manual_seed(0)
    c = Codec(cfg)
    with torch.no_grad():
        randomize_codebooks_(layer._codebook for layer in c.quantizer.layers)
    return c.eval().fold_weight_norm()


def _chunks(total: int, rng: random.Random, max_size: int, multiple: int = 1):
    sizes = []
    while sum(sizes) < total:
        sizes.append(min(total - sum(sizes), multiple * rng.randint(0, max_size)))
    return sizes


def _stream_encode(c, x, sizes):
    enc = c.stream_encoder()
    outs, i = [], 0
    for n in sizes:
        outs.append(enc.push(x[..., i:i + n]))
        i += n
    outs.append(enc.flush())
    return torch.cat(outs, dim=-1)


def _stream_decode(c, codes, sizes):
    dec = c.stream_decoder()
    outs, i = [], 0
    for n in sizes:
        outs.append(dec.push(codes[..., i:i + n]))
        i += n
    outs.append(dec.flush())
    return torch.cat(outs, dim=-1)


TINY = dict(sample_rate=8000, dimension=8, n_filters=4, ratios=[4, 3, 2], n_q=4, bins=32, n_residual_layers=2)


@pytest.mark.parametrize("cfg", [
    CodecConfig(**TINY, causal=True, pad_mode="reflect", true_skip=False),
    CodecConfig(**TINY, causal=True, pad_mode="constant", channels=2),
    CodecConfig(**TINY, causal=False, pad_mode="reflect", true_skip=True),
], ids=["causal-reflect", "causal-constant-stereo", "noncausal-reflect"])
def test_tiny_codecs_stream_exactly(cfg):
    c = _codec(cfg)
    rng = random.Random(0)
    x = torch.randn(2, cfg.channels, 24 * 40 + 7) * 0.3
    codes, _ = c.encode(x)
    emb = c.encoder(x)
    for multiple, max_size in [(c.hop_length, 5), (1, 70)]:  # hop-aligned chunks, then arbitrary ones
        sizes = _chunks(x.shape[-1], rng, max_size, multiple)
        st = c.encoder.init_state()
        parts, i = [], 0
        for n in sizes:
            parts.append(c.encoder.step(x[..., i:i + n], st))
            i += n
        tail = c.encoder.flush(st)
        streamed = torch.cat(parts + ([tail] if tail is not None else []), dim=-1)
        assert streamed.shape == emb.shape and (streamed - emb).abs().max() < 1e-5
        assert torch.equal(_stream_encode(c, x, sizes), codes)
    wav = c.decode(codes)
    for _ in range(3):
        sizes = _chunks(codes.shape[-1], rng, 6)
        streamed = _stream_decode(c, codes, sizes)
        assert streamed.shape == wav.shape and (streamed - wav).abs().max() < 1e-5


def test_encodec_24khz_streams_exactly():
    c = _codec(get_config("encodec_24khz"))
    c.set_target_bandwidth(6.0)
    rng = random.Random(1)
    x = torch.randn(1, 1, 24000 // 2) * 0.1
    codes, _ = c.encode(x)
    assert codes.shape == (1, 8, 38)
    # causal model: every pushed hop-aligned chunk yields its frames at once (after the reflect warm-up)
    assert torch.equal(_stream_encode(c, x, _chunks(x.shape[-1], rng, 8, 320)), codes)
    wav = c.decode(codes)
    streamed = _stream_decode(c, codes, _chunks(codes.shape[-1], rng, 8))
    assert (streamed - wav).abs().max() < 1e-5


def test_musicgen_32khz_stream_decode():
    """Non-causal MusicGen codec: streaming decode (for token-by-token generation) lags but matches."""
    c = _codec(get_config("musicgen_32khz"))
    codes = torch.randint(0, 2048, (1, 4, 30))
    wav = c.decode(codes)
    streamed = _stream_decode(c, codes, [1] * 30)
    assert (streamed - wav).abs().max() < 1e-5


def test_non_streamable_models_refuse():
    c = Codec(get_config("encodec_48khz"))
    with pytest.raises(ConfigError):
        c.stream_encoder()
    with pytest.raises(ConfigError):
        Codec(CodecConfig(**TINY, norm="time_group_norm")).stream_decoder()


def test_flushed_stream_cannot_be_reused():
    c = _codec(CodecConfig(**TINY, causal=True))
    enc = c.stream_encoder()
    enc.push(torch.randn(1, 1, 48))
    enc.flush()
    with pytest.raises(RuntimeError):
        enc.push(torch.randn(1, 1, 48))
