"""Long-form generation beyond max_duration (audiocraft BaseGenModel._generate_tokens): sliding windows re-prompted
with the previous tail.

A tiny model with a 1000 Hz codec, hop 500 (2 frames/s) and the real max_duration of 30 s makes a
70-s piece 140 frames: windows of 60 frames, stride 18 s = 36 frames, prompts of 24 frames.
"""
import pytest
import torch

import tonecraft.models.long_form as long_form
from helpers_generation import tiny_generator


@pytest.fixture(scope="module")
def model():
    m = tiny_generator(sample_rate=1000, ratios=(10, 10, 5), max_duration=30.0)
    assert m.frame_rate == 2.0 and m.max_duration == 30.0
    return m


def _record_windows(monkeypatch, model):
    windows, offsets = [], []
    real = long_form.generate_tokens

    def spy(lm, condition, null, prompt=None, max_gen_len=0, **kw):
        out = real(lm, condition, null, prompt=prompt, max_gen_len=max_gen_len, **kw)
        windows.append((None if prompt is None else prompt.clone(), out.clone()))
        return out

    monkeypatch.setattr(long_form, "generate_tokens", spy)
    conditions = model._conditions

    def conditions_spy(descriptions, **kw):
        fn = conditions(descriptions, **kw)
        return lambda offset: (offsets.append(offset), fn(offset))[1]

    monkeypatch.setattr(model, "_conditions", conditions_spy)
    return windows, offsets


def test_70_seconds_exact_with_aligned_seams(model, monkeypatch, capsys):
    windows, offsets = _record_windows(monkeypatch, model)
    model.set_generation_params(duration=70.0, top_k=20)  # extend_stride 18 s (audiocraft default)
    wav, tokens = model.generate(["epic orchestral"], return_tokens=True, seed=0, progress=True)
    assert wav.shape == (1, 1, 70 * 1000) and tokens.shape == (1, 4, 140)
    assert offsets == [0.0, 18.0, 36.0, 54.0]  # conditions recomputed per window at its time offset
    assert [w[1].shape[-1] for w in windows] == [60, 60, 60, 32]
    assert [None if p is None else p.shape[-1] for p, _ in windows] == [None, 24, 24, 24]
    for i, (prompt, out) in enumerate(windows):
        if i:  # window i is prompted with the last 24 frames of window i-1, token for token
            assert torch.equal(prompt, windows[i - 1][1][..., 36:])
            assert torch.equal(out[..., :24], prompt)
        assert torch.equal(tokens[..., 36 * i: 36 * i + out.shape[-1]], out)  # placed at its offset
    assert torch.allclose(wav, model.generate_audio(tokens))
    err = capsys.readouterr().err  # one bar over the whole piece
    assert "140/140 steps" in err and "70.0/70.0 s audio" in err
    assert "/60 steps" not in err and "/36 steps" not in err


def test_long_form_continuation_keeps_prompt(model, monkeypatch):
    windows, _ = _record_windows(monkeypatch, model)
    model.set_generation_params(duration=40.0, top_k=20, extend_stride=20.0)
    prompt = 0.3 * torch.randn(1, 5000, generator=torch.Generator().manual_seed(0))  # 5 s = 10 frames
    ptok = model.encode_prompt(prompt, 1000)
    _, tokens = model.generate_continuation(prompt, 1000, ["rock"], return_tokens=True, seed=1)
    assert tokens.shape == (1, 4, 80) and torch.equal(tokens[..., :10], ptok)
    assert torch.equal(windows[0][0], ptok) and [w[1].shape[-1] for w in windows] == [60, 40]
    assert torch.equal(windows[1][0], windows[0][1][..., 40:])
    _, new = model.generate_continuation(prompt, 1000, ["rock"], return_tokens=True, seed=1, drop_prompt=True)
    assert torch.equal(new, tokens[..., 10:])


def test_duration_under_one_frame_is_a_config_error():
    """Issue 13.8: `-d 0.01` (0 frames at 50 Hz) crashed with a reshape RuntimeError inside sampling."""
    from tonecraft.errors import ConfigError
    from tonecraft.models.long_form import WindowPlan
    from tonecraft.models.params import GenerationParams

    with pytest.raises(ConfigError, match="shorter than one frame"):
        WindowPlan.of(GenerationParams(duration=0.005), 50.0, 30.0)
    assert WindowPlan.of(GenerationParams(duration=0.02), 50.0, 30.0).total == 1
