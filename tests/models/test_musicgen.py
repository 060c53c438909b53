"""MusicGen user API on a tiny random model: parameters, batching, seeds, unconditional, long-form."""
import math

import pytest
import torch

from helpers_t5 import tiny_t5_encoder, tiny_t5_tokenizer
from tonecraft.codec.configs import CodecConfig
from tonecraft.codec.model import Codec
from tonecraft.conditioning.t5 import T5Conditioner, T5Encoder
from tonecraft.errors import ConfigError
from tonecraft.lm.config import LMConfig
from tonecraft.lm.model import LMModel
from tonecraft.models.musicgen import MusicGen

SR, HOP, CARD = 1600, 32, 64  # 50 frames per second, like the real 32 kHz codec


def tiny_musicgen(max_duration: float = 1.0) -> MusicGen:
    torch.manual_seed(0)
    codec = Codec(CodecConfig(sample_rate=SR, channels=1, dimension=8, n_filters=4, ratios=[8, 4], n_q=4,
                              bins=CARD, lstm_layers=1, kmeans_init=False))
    lm = LMModel(LMConfig(dim=32, num_heads=2, num_layers=2, n_q=4, card=CARD))
    cond = T5Conditioner(T5Encoder(tiny_t5_encoder(), tiny_t5_tokenizer(), "tiny"), output_dim=32)
    with torch.no_grad():
        cond.output_proj.weight.mul_(5)
    return MusicGen("tiny", codec, lm, cond, max_duration=max_duration)


@pytest.fixture(scope="module")
def model():
    return tiny_musicgen()


def test_defaults(model):
    m = tiny_musicgen(max_duration=30.0)
    assert m.duration == 15.0  # audiocraft's MusicGen.__init__ default
    m.set_generation_params()
    p = m.generation_params()
    assert p == dict(duration=30.0, use_sampling=True, top_k=250, top_p=0.0, temperature=1.0, cfg_coef=3.0,
                     extend_stride=18.0)
    assert (m.sample_rate, m.frame_rate, m.audio_channels) == (SR, 50.0, 1)


@pytest.mark.parametrize("kwargs", [
    dict(duration=0), dict(duration=-1), dict(duration=7200), dict(duration=math.nan), dict(duration=math.inf),
    dict(top_k=-1), dict(top_k=2.5), dict(top_p=-0.1), dict(top_p=1.5), dict(temperature=-1),
    dict(cfg_coef=-2), dict(cfg_coef=1e9), dict(duration=3.0, extend_stride=1.0), dict(duration=3.0, extend_stride=0),
])
def test_absurd_params_raise_config_error(model, kwargs):
    with pytest.raises(ConfigError):
        model.set_generation_params(**{"duration": 0.4, **kwargs})


def test_batch_shapes_and_tokens(model):
    model.set_generation_params(duration=0.4, top_k=10)
    wav, tokens = model.generate(["a calm piano melody", "rock", None], return_tokens=True, seed=1)
    assert tokens.shape == (3, 4, 20) and tokens.dtype == torch.long
    assert 0 <= int(tokens.min()) and int(tokens.max()) < CARD
    assert wav.shape == (3, 1, 20 * HOP) and wav.dtype == torch.float32 and torch.isfinite(wav).all()
    assert torch.allclose(model.generate_audio(tokens), wav)


def test_seed_reproducible(model):
    model.set_generation_params(duration=0.3)
    a = model.generate(["jazz"], seed=7)
    b = model.generate("jazz", seed=7)
    c = model.generate(["jazz"], seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(model.generate(["jazz"], generator=g1), model.generate(["jazz"], generator=g2))


def test_text_changes_output(model):
    model.set_generation_params(duration=0.3, use_sampling=False)
    _, t1 = model.generate(["a calm piano melody"], return_tokens=True)
    _, t2 = model.generate(["epic orchestral cinematic dance"], return_tokens=True)
    assert not torch.equal(t1, t2)


def test_batch_rows_match_single_calls(model):
    # Same token length -> no padding difference; greedy -> deterministic.
    model.set_generation_params(duration=0.3, use_sampling=False)
    _, both = model.generate(["rock", "jazz"], return_tokens=True)
    _, rock = model.generate(["rock"], return_tokens=True)
    _, jazz = model.generate(["jazz"], return_tokens=True)
    assert torch.equal(both, torch.cat([rock, jazz]))


def test_unconditional_equals_null_text(model):
    model.set_generation_params(duration=0.3, top_k=5)
    _, u = model.generate_unconditional(2, return_tokens=True, seed=4)
    _, n = model.generate([None, ""], return_tokens=True, seed=4)
    assert u.shape == (2, 4, 15) and torch.equal(u, n)
    with pytest.raises(ConfigError):
        model.generate_unconditional(0)
    with pytest.raises(ConfigError):
        model.generate([])
    with pytest.raises(ConfigError):
        model.generate(["ok", 3])


def test_long_form_windows(model):
    """Above max_duration: windows of max_duration re-prompted with the last (max - stride) seconds."""
    m = tiny_musicgen(max_duration=0.4)
    m.set_generation_params(duration=0.4, use_sampling=False)
    _, first = m.generate(["rock"], return_tokens=True)
    m.set_generation_params(duration=1.0, extend_stride=0.2, use_sampling=False)
    _, tokens = m.generate(["rock"], return_tokens=True, progress=True)
    assert tokens.shape == (1, 4, 50)
    assert torch.equal(tokens[..., :20], first)  # the first window is a plain max_duration generation


def test_progress_bar(model, capsys):
    model.set_generation_params(duration=0.2)
    model.generate(["pop"], progress=True, seed=0)
    err = capsys.readouterr().err
    assert "s audio" in err and "steps" in err
