"""Envelope statistics (tonecraft.eval.envelope) on synthetic sounds whose shape is known."""
import numpy as np
import pytest

from tonecraft.eval.envelope import compare, envelope_stats, fit_window, frame_db, summarize_by_category

SR = 16_000


def _burst(seconds=0.05, at=0.0, window=5.0, seed=0) -> np.ndarray:
    """Noise decaying with time constant `seconds`, starting at `at`, in a silent window."""
    rng = np.random.default_rng(seed)
    n = int(window * SR)
    x = np.zeros(n)
    start = int(at * SR)
    m = n - start
    x[start:] = rng.standard_normal(m) * np.exp(-np.arange(m) / (seconds * SR)) * 0.5
    return x.astype(np.float32)


def test_fit_window_crops_and_pads():
    x = np.ones(SR, np.float32)
    assert fit_window(x, SR, 0.5).shape == (SR // 2,)
    y = fit_window(x, SR, 2.0)
    assert y.shape == (2 * SR,) and y[SR:].max() == 0


def test_frame_db_is_relative_to_full_scale():
    t = np.arange(SR) / SR
    db = frame_db(np.sin(2 * np.pi * 440 * t), SR)
    assert db.size == 100 and np.median(db) == pytest.approx(-3.0, abs=0.2)


def test_impact_is_short_and_decays():
    s = envelope_stats(_burst(0.05), SR)
    assert s["active_s"] < 0.4 and s["active_fraction"] < 0.08
    assert 0.05 < s["decay_s"] < 0.2 and s["peak_s"] < 0.05
    assert s["onsets_per_s"] == pytest.approx(1 / 5.0)  # one onset in the 5 s window


def test_rain_is_continuous_without_onsets_after_its_start():
    x = np.random.default_rng(1).standard_normal(5 * SR).astype(np.float32) * 0.1
    s = envelope_stats(x, SR)
    assert s["active_fraction"] == 1.0 and s["span_s"] == pytest.approx(5.0)
    assert s["onsets_per_s"] == pytest.approx(0.2)  # only where it starts


def test_click_train_counts_its_clicks_and_gain_does_not_matter():
    x = sum(_burst(0.01, at=k * 0.25, seed=k) for k in range(20))
    s = envelope_stats(x, SR)
    assert s["onsets_per_s"] == pytest.approx(4.0)
    assert s["span_s"] > 4.5 and s["active_fraction"] < 0.4
    quiet = envelope_stats(x * 0.01, SR)
    assert quiet == pytest.approx(s)


def test_silence_is_all_zero():
    assert set(envelope_stats(np.zeros(SR, np.float32), SR).values()) == {0.0}


def test_summary_and_comparison():
    real_rows = [{"active_fraction": v, "span_s": v, "onsets_per_s": 0.2, "decay_s": v, "active_s": v,
                  "peak_s": 0.0} for v in (0.05, 0.1, 0.5, 0.6, 0.9, 1.0)]
    cats = ["impact", "impact", "footsteps", "footsteps", "rain", "rain"]
    real = summarize_by_category(real_rows, cats)
    assert real["impact"]["n"] == 2 and real["impact"]["active_fraction"] == pytest.approx(0.075)
    gen_rows = [dict(r) for r in real_rows]
    gen_rows[0]["active_fraction"] = 0.3  # one impact that rings too long
    c = compare(real, gen_rows, cats)
    assert c["in_range"] == pytest.approx(5 / 6) and c["n"] == 6
    assert c["spearman_r"] == pytest.approx(1.0) and c["n_categories"] == 3
    flipped = compare(real, gen_rows[::-1], cats)  # long sounds for impact captions, short ones for rain
    assert flipped["spearman_r"] < 0 and flipped["in_range"] < 0.5
