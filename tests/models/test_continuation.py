"""Continuation (audio prompt): the prompt is encoded, prefilled in one forward call and never overwritten."""
import pytest
import soundfile as sf
import torch

from helpers_generation import tiny_codec, tiny_generator
from tonecraft.errors import AudioError, ConfigError

SR, HOP = 1600, 32


@pytest.fixture(scope="module")
def model():
    return tiny_generator(max_duration=1.0)


def _noise(channels: int, seconds: float, sr: int = SR, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(channels, int(seconds * sr), generator=g)


def _spy_steps(model, monkeypatch) -> list[tuple[int, bool]]:
    calls = []
    step = model.lm.step

    def spy(codes, state, prefix=None, **kw):
        calls.append((codes.shape[-1], prefix is not None))
        return step(codes, state, prefix=prefix, **kw)

    monkeypatch.setattr(model.lm, "step", spy)
    return calls


def test_prompt_kept_and_prefilled_in_one_call(model, monkeypatch):
    model.set_generation_params(duration=0.5, top_k=10)  # 25 frames
    prompt = _noise(2, 0.2, sr=3200)  # any rate / channel count: converted to 1600 Hz mono
    ptok = model.encode_prompt(prompt, 3200)
    Tp = ptok.shape[-1]
    assert ptok.shape == (1, 4, 10)
    calls = _spy_steps(model, monkeypatch)
    wav, tokens = model.generate_continuation(prompt, 3200, ["rock"], return_tokens=True, seed=0)
    assert tokens.shape == (1, 4, 25) and wav.shape == (1, 1, 25 * HOP)
    assert torch.equal(tokens[..., :Tp], ptok)
    # Delay pattern: S = 25 + 3 + 1 steps; the first call feeds the special column + Tp prompt columns at once.
    assert calls[0] == (Tp + 1, False) and all(n == 1 for n, _ in calls[1:])
    assert len(calls) == (25 + 3 + 1) - (Tp + 1)
    assert torch.allclose(wav, model.generate_audio(tokens))


def test_drop_prompt_and_batch(model):
    model.set_generation_params(duration=0.4, top_k=10)
    prompt = _noise(1, 0.1)
    full_wav, full = model.generate_continuation(prompt, SR, ["rock", None], return_tokens=True, seed=1)
    ptok = model.encode_prompt(prompt, SR)
    assert full.shape == (2, 4, 20) and torch.equal(full[:, :, :5], ptok.expand(2, -1, -1))  # prompt shared
    wav, tokens = model.generate_continuation(prompt, SR, ["rock", None], return_tokens=True, seed=1,
                                              drop_prompt=True)
    assert torch.equal(tokens, full[..., 5:])
    assert wav.shape == (2, 1, 15 * HOP) and torch.equal(wav, full_wav[..., 5 * HOP:])
    # no descriptions: one row per prompt
    assert model.generate_continuation(torch.stack([prompt, prompt]), SR, seed=0).shape == (2, 1, 20 * HOP)


def test_prompt_errors(model):
    model.set_generation_params(duration=0.2)
    with pytest.raises(ConfigError, match="longer than duration"):
        model.generate_continuation(_noise(1, 0.3), SR)
    with pytest.raises(ConfigError, match="prompts for"):
        model.generate_continuation(torch.stack([_noise(1, 0.1)] * 2), SR, ["a", "b", "c"])
    with pytest.raises(AudioError):
        model.generate_continuation(torch.zeros(1, 0), SR)
    with pytest.raises(AudioError):
        model.generate_continuation(torch.full((1, 100), float("nan")), SR)
    model.set_generation_params(duration=2.0, extend_stride=0.5)  # long-form: prompt must fit in a window
    with pytest.raises(ConfigError, match="max_duration"):
        model.generate_continuation(_noise(1, 1.2), SR)


def test_stereo_prompt_is_interleaved():
    m = tiny_generator(stereo=True)
    assert m.stereo_interleaved and m.audio_channels == 2
    m.set_generation_params(duration=0.3, top_k=10)
    prompt = _noise(2, 0.1, seed=3)
    _, tokens = m.generate_continuation(prompt, SR, ["jazz"], return_tokens=True, seed=0)
    left, _ = m.codec.encode(prompt[None, :1])
    right, _ = m.codec.encode(prompt[None, 1:])
    assert torch.equal(tokens[:, 0::2, :5], left) and torch.equal(tokens[:, 1::2, :5], right)
    assert not torch.equal(left, right)


def test_cli_continue(tmp_path):
    from helpers_musicgen import save_tiny_hf_musicgen
    from tonecraft.cli import main

    d = tmp_path / "model"
    save_tiny_hf_musicgen(d, seed=1)
    sf.write(tmp_path / "in.wav", _noise(1, 0.1)[0].numpy(), SR)
    base = ["generate", "more", "--model", str(d), "-d", "0.4", "-q", "--seed", "0", "--continue",
            str(tmp_path / "in.wav")]
    assert main([*base, "-o", str(tmp_path / "full.wav")]) == 0
    assert main([*base, "--drop-prompt", "-o", str(tmp_path / "new.wav")]) == 0
    assert sf.info(tmp_path / "full.wav").frames == 20 * HOP
    assert sf.info(tmp_path / "new.wav").frames == 15 * HOP
    assert main(["generate", "x", "--model", str(d), "--drop-prompt", "-o", str(tmp_path / "x.wav")]) == 1


def test_codec_with_fewer_codebooks_is_refused():
    m = tiny_generator()
    m.codec = tiny_codec(n_q=3)
    m.set_generation_params(duration=0.2)
    with pytest.raises(ConfigError, match="codebooks"):
        m.generate_continuation(_noise(1, 0.1), SR)
