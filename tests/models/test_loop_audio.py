"""models/loop_audio.py on synthetic signals: a click track (tempo, downbeat, bar grid, seam measures) and a
sine sweep (zero crossings, crossfade level), and the key of a chord."""
import numpy as np
import pytest
import torch

from tonecraft.errors import ConfigError
from tonecraft.models import loop_audio as la

SR = 8000


def click_track(bpm: float, seconds: float, offset: float = 0.0, accent_every: int = 4, sr: int = SR):
    """Clicks (short decaying noise bursts) on every beat from `offset`; every `accent_every`-th beat is a
    loud low thump (the downbeat)."""
    x = np.zeros(int(seconds * sr))
    rng = np.random.default_rng(0)
    beat = 60.0 / bpm
    n = int(0.02 * sr)
    env = np.exp(-np.arange(n) / (0.004 * sr))
    for i, t in enumerate(np.arange(offset, seconds - 0.05, beat)):
        s = int(round(t * sr))
        if i % accent_every == 0:
            burst = np.sin(2 * np.pi * 60 * np.arange(n) / sr) * env * 1.0 + rng.normal(0, 0.2, n) * env
        else:
            burst = rng.normal(0, 0.3, n) * env
        x[s:s + n] += burst[: x.size - s]
    return x


def test_bar_grid_and_meters():
    grid = la.BarGrid.parse(120, "4/4")
    assert grid.bar_seconds == 2.0 and grid.samples(8, 32000) == 512000
    assert la.BarGrid.parse(90, "3/4").bar_seconds == 2.0
    assert la.BarGrid.parse(180, "6/8").bar_seconds == 2.0
    assert la.BarGrid.parse(90, "4/4").samples(3, 32000) == 256000  # 8 s
    assert la.BarGrid.parse(97, "4/4").samples(4, 32000) == round(4 * 4 * 60 / 97 * 32000)
    for bad in ("4", "4/3", "0/4", "x/4", "17/4"):
        with pytest.raises(ConfigError, match="meter"):
            la.BarGrid.parse(120, bad)
    for bad in (0, -5, float("nan"), 1000, True):
        with pytest.raises(ConfigError, match="bpm"):
            la.BarGrid.parse(bad)
    with pytest.raises(ConfigError, match="bars"):
        la.check_bars(0)


@pytest.mark.parametrize("bpm", [72.0, 96.0, 128.0, 150.0])
def test_tempo_of_a_click_track(bpm):
    est = la.estimate_tempo(click_track(bpm, 12), SR)
    assert abs(est - bpm) <= 0.02 * bpm, est


def test_no_tempo_in_silence():
    assert la.estimate_tempo(np.zeros(SR * 4), SR) == 0.0


@pytest.mark.parametrize("offset", [0.0, 0.37, 1.7])
def test_downbeat_phase_of_a_click_track(offset):
    x = click_track(100, 12, offset=offset)
    bar = 4 * 0.6
    phase = la.beat_phase(x, SR, 100, 4)
    error = (phase - offset) % bar
    assert min(error, bar - error) < 0.02, phase


def test_zero_crossing_on_a_sine_sweep():
    t = np.arange(SR) / SR
    sweep = np.sin(2 * np.pi * (50 * t + 200 * t * t))  # 50 -> 450 Hz
    i = la.nearest_zero_crossing(sweep, 4000, 80)
    assert sweep[i - 1] < 0 <= sweep[i] and abs(i - 4000) <= 80
    assert la.nearest_zero_crossing(np.ones(100), 50, 10) == 50  # none: unchanged


def test_crossfade_keeps_level_for_both_kinds_of_material():
    n = 4000
    rng = np.random.default_rng(1)
    a, b = torch.tensor(rng.normal(0, 1, (1, n))), torch.tensor(rng.normal(0, 1, (1, n)))
    mixed = la.crossfade(a, b)
    mid = mixed[0, n // 2 - 200:n // 2 + 200]
    assert abs(float(mid.pow(2).mean()) - 1.0) < 0.2  # uncorrelated: equal power, no dip
    same = la.crossfade(a, a.clone())
    assert torch.allclose(same, a, atol=1e-9)  # identical material: no +3 dB bump
    assert float(mixed[0, 0]) == float(a[0, 0])  # from_start: the first sample is all out_part
    tail = la.crossfade(a, b, from_start=False)
    assert float(tail[0, -1]) == pytest.approx(float(b[0, -1]))  # the last sample is all in_part


def test_seam_report_finds_a_click_and_passes_a_clean_loop():
    bpm, bars = 120, 4
    length = la.BarGrid.parse(bpm).samples(bars, SR)
    t = np.arange(length) / SR
    clean = 0.5 * np.sin(2 * np.pi * 250 * t) + 0.2 * click_track(bpm, length / SR)[:length]  # 250 Hz: whole periods
    report = la.seam_report(clean, SR, bars)
    assert report["within_bars"] and report["within_beats"], report
    broken = np.roll(clean, 37)[: length - 37]  # not periodic: the seam jumps
    broken = np.concatenate([broken, 0.8 * np.ones(37)])
    bad = la.seam_report(broken, SR, bars)
    assert not bad["within_beats"] and bad["seam_jump"] > 5 * max(report["seam_jump"], 1)


def test_key_of_a_triad():
    t = np.arange(SR * 2) / SR
    a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    assert la.estimate_key(a_minor, SR) in ("A minor", "C major")  # relative keys share the triad's notes
    assert la.estimate_key(np.zeros(SR), SR) == "unknown"
