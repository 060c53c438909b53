"""Stationary tonal artefacts (tonecraft.eval.tonal_artefacts): a tone the decoder adds is found at its frequency,
a tone the input already has is not counted, and a tone found in most clips is called stationary."""
import runpy
from pathlib import Path

import numpy as np
import pytest

from tonecraft.eval.tonal_artefacts import (artefact_peaks, average_spectrum_db, spectral_peaks, stationary_tones,
                                             summarize_clips)

SR = 16_000


def _noise(seed, n=SR * 3, level=0.1):
    return (level * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _tone(hz, amp, n=SR * 3):
    return (amp * np.sin(2 * np.pi * hz * np.arange(n) / SR)).astype(np.float32)


def test_a_full_scale_sine_reads_near_0_dbfs():
    db = average_spectrum_db(_tone(1000, 1.0))
    assert db.max() == pytest.approx(0.0, abs=1.5)
    assert abs(np.argmax(db) * SR / 4096 - 1000) < 8


def test_an_added_tone_is_an_artefact_at_its_frequency():
    x = _noise(0)
    y = x + _tone(3000, 0.05)  # ~23 dB above the noise's level per bin
    peaks = artefact_peaks(x, y, SR)
    assert len(peaks) == 1 and abs(peaks[0]["hz"] - 3000) < 8 and peaks[0]["prominence_db"] > 10
    assert artefact_peaks(x, x.copy(), SR) == []


def test_a_tone_the_input_has_is_not_an_artefact():
    x = _noise(1) + _tone(2000, 0.05)
    assert artefact_peaks(x, x * 0.5, SR) == []
    assert len(spectral_peaks(average_spectrum_db(x))) == 1


def test_every_peak_over_silence_counts():
    peaks = artefact_peaks(np.zeros(SR * 2, np.float32), _tone(440, 0.001, SR * 2) + _noise(2, SR * 2, 1e-5), SR)
    assert len(peaks) == 1 and abs(peaks[0]["hz"] - 440) < 8 and peaks[0]["level_dbfs"] < -55


def test_stationary_means_most_clips():
    hum = [{"hz": 2400.0, "prominence_db": 12.0, "level_dbfs": -50.0, "below_max_db": 20.0}]
    other = [{"hz": 900.0, "prominence_db": 12.0, "level_dbfs": -50.0, "below_max_db": 25.0}]
    per_clip = [hum, hum + other, hum, []]
    assert stationary_tones(per_clip) == [{"hz": 2400.0, "share": 0.75}]
    s = summarize_clips(per_clip)
    assert s["share_with_artefacts"] == 0.75 and s["median_peaks"] == 1.0
    assert s["median_loudest_below_max_db"] == 20.0
    assert stationary_tones([]) == []


def test_the_bench_runs_on_a_tiny_codec(tmp_path, capsys):
    from tonecraft.eval.tiny import save_tiny_random_model

    model = save_tiny_random_model(tmp_path / "m", sample_rate=SR)
    main = runpy.run_path(str(Path(__file__).resolve().parents[2] / "bench" / "codec_tonal.py"))["main"]
    assert main(["--codec", str(model), "--seconds", "1", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| silence | 1 |" in out and "white noise" in out and (tmp_path / "r.json").is_file()
