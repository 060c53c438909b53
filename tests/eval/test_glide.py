"""eval/glide.py: a sweep is found in chirps (either way, whichever harmonic is loudest), not in steady tones,
noise, clicks or silence."""
import numpy as np
import pytest

from helpers_sfx_eval import chirp
from tonecraft.eval.glide import SWEEP_SEMITONES, pitch_glide

SR = 16_000


@pytest.mark.parametrize("f0,f1,square", [(1800, 300, True), (300, 1800, True), (2000, 500, False)])
def test_chirps_sweep_by_about_their_interval(f0, f1, square):
    g = pitch_glide(chirp(0.4, f0, f1, SR, square), SR)
    interval = 12 * np.log2(f1 / f0)
    assert g.sweep and np.sign(g.semitones) == np.sign(interval)
    # a lower bound: the last 64 ms window is not analysed, and below ~1 kHz the FFT's bins are coarser than the
    # quarter-semitone axis, so a frame's movement is read a little short
    assert 0.45 * abs(interval) <= abs(g.semitones) <= 1.05 * abs(interval)


def test_steady_sounds_noise_and_silence_do_not_sweep():
    t = np.arange(SR) / SR
    rng = np.random.default_rng(0)
    clicks = np.zeros(SR)
    clicks[::1600] = 1.0
    for x in (np.sign(np.sin(2 * np.pi * 440 * t)), rng.standard_normal(SR) * np.exp(-t / 0.2), clicks,
              np.zeros(SR), np.zeros(100)):
        g = pitch_glide(x.astype(np.float32), SR)
        assert not g.sweep and abs(g.semitones) < SWEEP_SEMITONES
    assert pitch_glide(np.zeros(SR), SR).pairs == 0


def _stationary_lines(n: int, level: float) -> np.ndarray:
    """80 steady sine lines across the band: a stand-in for a codec's stationary haze and tonal stripes."""
    t = np.arange(n) / SR
    return level * sum(np.sin(2 * np.pi * f * t + i) for i, f in enumerate(np.geomspace(120, 7000, 80)))


@pytest.mark.parametrize("haze_db", [-30, -40])
def test_tonal_reading_sees_a_glide_under_stationary_haze(haze_db):
    """The default reading's blind spot on decoded audio: 80 steady lines 30-40 dB under a sine glide decide the
    correlation of 50 dB-deep spectra (shift 0); the tonal reading floors them away and finds the glide."""
    x = chirp(0.4, 1000, 300, SR, square=False)
    y = (x + _stationary_lines(len(x), np.abs(x).max() * 10 ** (haze_db / 20))).astype(np.float32)
    assert not pitch_glide(y, SR).sweep
    g = pitch_glide(y, SR, tonal=True)
    assert g.sweep and g.semitones < -0.45 * 12 * np.log2(1000 / 300)


def test_tonal_reading_ignores_noise_and_steady_tones_under_haze():
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    decaying_noise = rng.standard_normal(SR) * np.exp(-t / 0.3)
    brown_noise = np.cumsum(rng.standard_normal(SR)) / 100
    steady = np.sin(2 * np.pi * 440 * t) + _stationary_lines(SR, 0.02)
    for x in (decaying_noise, brown_noise, steady, np.zeros(SR)):
        assert not pitch_glide(x.astype(np.float32), SR, tonal=True).sweep
