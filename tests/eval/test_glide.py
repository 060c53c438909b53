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
