"""Streaming output: audio chunks while tokens are still sampled; joined chunks == one-shot decode.

Measured tolerance (documented in `generate_stream`): the streaming decoder carries conv/LSTM state, so the
only difference from `generate_audio` is float32 rounding, ~1e-7 here; asserted below 1e-5.
"""
import threading

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers_generation import tiny_generator
from tonecraft.errors import ConfigError

SR, HOP = 1600, 32
TOL = 1e-5


@pytest.fixture(scope="module")
def model():
    return tiny_generator(max_duration=1.0)


def _join(chunks):
    return torch.cat(list(chunks), dim=-1)


def test_chunks_join_to_one_shot_decode(model):
    model.set_generation_params(duration=0.6, top_k=10)
    wav, tokens = model.generate(["rock"], return_tokens=True, seed=3)
    chunks = list(model.generate_stream("rock", chunk_seconds=0.1, seed=3))
    assert all(c.shape == (1, 160) for c in chunks) and len(chunks) == 6
    assert (_join(chunks) - wav[0]).abs().max() < TOL
    # batch: [B, C, n] chunks; the last one is the remainder
    chunks = list(model.generate_stream(["rock", None], chunk_seconds=0.25, seed=3))
    assert [c.shape for c in chunks] == [(2, 1, 400), (2, 1, 400), (2, 1, 160)]
    ref = model.generate(["rock", None], seed=3)
    assert (_join(chunks) - ref).abs().max() < TOL


def test_yields_before_sampling_ends(model, monkeypatch):
    """The sampling thread is held after 12 of 33 steps until the consumer got a chunk: streaming, not a
    decode at the end (frame t is complete after step t + 4, the decoder needs a few frames of context)."""
    model.set_generation_params(duration=0.6, top_k=10)
    got_chunk, steps = threading.Event(), []
    step = model.lm.step

    def gated(*a, **kw):
        steps.append(1)
        if len(steps) == 12:
            assert got_chunk.wait(60), "no audio was streamed while sampling"
        return step(*a, **kw)

    monkeypatch.setattr(model.lm, "step", gated)
    stream = model.generate_stream(None, chunk_seconds=0.05, seed=0)
    first = next(stream)
    n_at_first = len(steps)
    got_chunk.set()
    rest = list(stream)
    assert first.shape == (1, 80) and n_at_first <= 12 and len(steps) == 33
    assert sum(c.shape[-1] for c in [first, *rest]) == 30 * HOP


def test_close_stops_sampling(model, monkeypatch):
    model.set_generation_params(duration=1.0, top_k=10)
    steps = []
    step = model.lm.step
    monkeypatch.setattr(model.lm, "step", lambda *a, **kw: (steps.append(1), step(*a, **kw))[1])
    before = threading.active_count()
    stream = model.generate_stream("jazz", chunk_seconds=0.02, seed=0)
    next(stream)
    stream.close()  # joins the sampling thread
    n = len(steps)
    assert threading.active_count() == before and n < 53
    threading.Event().wait(0.2)
    assert len(steps) == n


def test_long_form_stereo_and_prompt():
    m = tiny_generator(max_duration=0.4, stereo=True)
    m.set_generation_params(duration=1.0, extend_stride=0.2, top_k=10)
    wav, tokens = m.generate(["rock"], return_tokens=True, seed=5)
    chunks = list(m.generate_stream("rock", chunk_seconds=0.3, seed=5))
    assert chunks[0].shape == (2, 480) and sum(c.shape[-1] for c in chunks) == 1600
    assert (_join(chunks) - wav[0]).abs().max() < TOL
    prompt = wav[0, :, :320]  # 10 frames, stereo
    ref = m.generate_continuation(prompt, SR, ["rock"], seed=2, drop_prompt=True)
    got = _join(m.generate_stream("rock", 0.3, prompt=prompt, prompt_sample_rate=SR, drop_prompt=True, seed=2))
    assert got.shape == ref[0].shape == (2, 40 * HOP) and (got - ref[0]).abs().max() < TOL


def test_errors_raise_at_call_time(model):
    with pytest.raises(ConfigError):
        model.generate_stream("x", chunk_seconds=0)
    with pytest.raises(ConfigError):
        model.generate_stream("x", prompt=torch.zeros(1, 10))
    with pytest.raises(ConfigError):
        model.generate_stream("x", melody_wavs=torch.zeros(1, 10), melody_sample_rate=SR)


def test_errors_in_the_sampling_thread_reach_the_consumer(model, monkeypatch):
    def boom(*a, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(model.lm, "step", boom)
    model.set_generation_params(duration=0.2)
    with pytest.raises(RuntimeError, match="boom"):
        list(model.generate_stream("x"))


def test_cli_stream(tmp_path, capsysbinary):
    from helpers_musicgen import save_tiny_hf_musicgen
    from tonecraft.cli import main

    d = tmp_path / "m"
    save_tiny_hf_musicgen(d, seed=1)
    base = ["generate", "rock", "--model", str(d), "-d", "0.3", "-q", "--seed", "4", "--normalize", "none"]
    assert main([*base, "-o", str(tmp_path / "ref.wav")]) == 0
    assert main([*base, "--stream", "--chunk", "0.1", "-o", str(tmp_path / "s.wav")]) == 0
    ref, sr = sf.read(tmp_path / "ref.wav")
    got, _ = sf.read(tmp_path / "s.wav")
    assert sr == SR and got.shape == ref.shape == (15 * HOP,) and np.abs(got - ref).max() <= 1.01 / 32768
    assert not (tmp_path / "s.wav.part").exists()
    capsysbinary.readouterr()
    assert main([*base, "--stream", "-o", "-"]) == 0
    raw = np.frombuffer(capsysbinary.readouterr().out, dtype="<f4")
    assert raw.shape == (15 * HOP,) and np.abs(raw - ref).max() < 1.01 / 32768
    assert main([*base, "--stream", "-n", "2", "-o", str(tmp_path / "x.wav")]) == 1
