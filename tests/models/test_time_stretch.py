"""models/time_stretch.py: WSOLA keeps pitch and scales time; the cyclic stretch keeps a loop seamless."""
import numpy as np
import pytest
import torch

from tonecraft.errors import ConfigError
from tonecraft.models import time_stretch as ts

SR = 16000


def _peak_hz(x: np.ndarray) -> float:
    return float(np.fft.rfftfreq(x.size, 1 / SR)[np.abs(np.fft.rfft(x * np.hanning(x.size))).argmax()])


def _clicks(n_beats: int, beat: int) -> np.ndarray:
    x = np.zeros(n_beats * beat)
    x[::beat] = 1.0
    tone = np.exp(-np.arange(160) / 16.0) * np.sin(np.arange(160) * 0.7)
    return np.convolve(x, tone)[:x.size]


def _onsets(y: np.ndarray) -> np.ndarray:
    loud = np.nonzero(np.abs(y) > 0.5)[0]
    return loud[np.r_[True, np.diff(loud) > 400]]


@pytest.mark.parametrize("factor", [0.93, 1.07])
def test_wsola_keeps_the_pitch_and_scales_the_time(factor):
    t = np.arange(2 * SR) / SR
    sine = torch.from_numpy(np.sin(2 * np.pi * 440 * t))[None].float()
    out = ts.wsola(sine, int(round(sine.shape[-1] * factor)), SR)
    assert out.shape == (1, int(round(sine.shape[-1] * factor))) and out.dtype == torch.float32
    assert abs(_peak_hz(out[0].numpy()) - 440) < 2  # a resampler would give 440 / factor
    beat = SR // 2
    clicks = torch.from_numpy(_clicks(6, beat))[None].float()
    spacing = np.diff(_onsets(ts.wsola(clicks, int(round(clicks.shape[-1] * factor)), SR)[0].numpy()))
    tol = ts.TOLERANCE_S * SR  # a frame may shift by this much to continue the waveform: events move <= 2 tol
    assert len(spacing) == 5 and abs(spacing.mean() / beat - factor) < 0.01
    assert np.all(np.abs(spacing - factor * beat) <= 2 * tol)


def test_the_cyclic_stretch_is_seamless_and_exact():
    """A click loop stretched 5 %: exact length, every beat (across the wrap too) 5 % longer, and the wrap
    as smooth as the audio inside."""
    beat = SR // 2
    loop = torch.from_numpy(_clicks(4, beat) + 0.05 * np.sin(2 * np.pi * 220 * np.arange(4 * beat) / SR))[None]
    n = int(round(loop.shape[-1] * 1.05))
    out = ts.cyclic_stretch(loop.float(), n, SR, fade=32)[0].numpy()
    assert out.size == n
    twice = np.concatenate([out, out])
    spacing = np.diff(_onsets(twice))
    assert len(spacing) == 7 and abs(spacing.mean() / beat - 1.05) < 0.01
    assert np.all(np.abs(spacing - 1.05 * beat) <= 2 * ts.TOLERANCE_S * SR)
    steps = np.abs(np.diff(out))
    assert abs(out[0] - out[-1]) <= steps.max()
    assert torch.equal(ts.cyclic_stretch(loop, loop.shape[-1], SR), loop)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ConfigError, match="channels, samples"):
        ts.wsola(torch.zeros(100), 120, SR)
    with pytest.raises(ConfigError, match="length"):
        ts.wsola(torch.zeros(1, 100), 0, SR)
