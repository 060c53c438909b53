"""models/loop_assembly.py: exact length, the blends at the seam, the streamable resampler, and chunked
pushes giving the same loop as one push."""
import numpy as np
import pytest
import torch

from tonecraft.errors import ConfigError
from tonecraft.models import loop_assembly as lasm
from tonecraft.models import loop_audio as la

SR = 8000


@pytest.mark.parametrize("n_in,length", [(16000, 16000), (16000, 16011), (16000, 15990)])
def test_assembled_loop_exact_length_streamed_identically(n_in, length):
    """The assembler: exact length, the last sample flows into the first (lead-in blend), identity when no
    resampling is needed, and chunked pushes give the same loop as one push."""
    rng = np.random.default_rng(0)
    t = np.arange(30000) / SR
    x = torch.tensor(0.5 + 0.3 * np.sin(2 * np.pi * 220 * t)[None] + 0.01 * rng.normal(size=(1, 30000)))  # > 0
    start, fade = 4000, 240
    out = lasm.assemble_loop(x, start, start + n_in, length, fade, 8)
    assert out.shape == (1, length)
    asm = lasm.LoopAssembler(start, start + n_in, length, fade, 8, 1)
    streamed = np.concatenate([asm.push(x[:, i:i + 777].numpy()) for i in range(0, 30000, 777)] + [asm.finish()], 1)
    assert np.array_equal(streamed, out.numpy())
    if n_in == length:  # no zero crossing (all positive): no rotation, no resampling
        assert torch.equal(out[:, :n_in - fade], x[:, start:start + n_in - fade])
        assert out[0, -1] == x[0, start - 1]  # the blend ends on the lead-in's last sample, then the start
    report = la.seam_report(out, SR, 4)
    assert report["seam_jump"] < 3 * max(report["interior_jump"]), report


def test_stretch_keeps_a_tone_in_tune():
    n, length = 8000, 8008  # 0.1 % longer
    t = np.arange(n + 64) / SR
    x = np.sin(2 * np.pi * 500 * t)[None]
    s = lasm.Stretch(n, length, x[:, :32])
    y = np.concatenate([s.push(x[:, 32:32 + n]), s.finish(x[:, 32 + n:])], axis=1)
    assert y.shape == (1, length)
    spectrum = np.abs(np.fft.rfft(y[0] * np.hanning(length)))
    peak_hz = np.argmax(spectrum) * SR / length
    assert abs(peak_hz - 500 * n / length) < 1.5


def test_head_blend_starts_with_what_follows_the_end():
    rng = np.random.default_rng(2)
    x = torch.tensor(0.5 + 0.1 * rng.normal(size=(1, 20000)))  # all positive: no rotation
    start, end, fade = 2000, 12000, 100
    out = lasm.assemble_loop(x, start, end, end - start, fade, 8, blend="head")
    assert out[0, 0] == x[0, end] and torch.equal(out[:, fade:], x[:, start + fade:end])
    with pytest.raises(ConfigError, match="head blend"):
        lasm.assemble_loop(x[:, :end], start, end, end - start, fade, 8, blend="head")
