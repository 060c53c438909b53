"""The blaster kind (issue 15): a laser with a noise crack, falling under 1.5 kHz, its shots and echo counted."""
import random

import numpy as np

from tonecraft.data.sfx import blaster
from tonecraft.data.sfx.procedural import KIND_ORDER, KINDS, make_clip
from tonecraft.eval.glide import pitch_glide

SR = 16000


def test_blaster_is_opt_in_and_a_weapon():
    assert KINDS["blaster"] == ("blaster", "weapon") and "blaster" not in KIND_ORDER


def test_one_shot_starts_with_a_crack_then_falls():
    g = np.random.default_rng(0)
    x = blaster.shot(g, "square", 1200.0, 200.0, 0.3, crack=1.2, grit=0.1, ratio=2.0)
    assert len(x) == int(0.3 * SR) and np.isfinite(x).all()
    spec = np.abs(np.fft.rfft(x[:160] * np.hanning(160)))  # the first 10 ms: broadband (the crack)
    hi = spec[int(3000 / 100):].sum() / spec.sum()
    spec_late = np.abs(np.fft.rfft(x[3200:3360] * np.hanning(160)))  # 0.2-0.21 s: the tone near its end
    hi_late = spec_late[int(3000 / 100):].sum() / spec_late.sum()
    assert hi > 1.5 * hi_late
    assert pitch_glide(x, SR).sweep


def test_captions_count_shots_and_echo():
    seen = set()
    for seed in range(40):
        x, caption, p = blaster.blaster(random.Random(seed))
        assert np.isfinite(x).all() and "laser blast" in caption
        assert ("two quick" in caption) == (p["shots"] == 2) and ("three quick" in caption) == (p["shots"] == 3)
        assert caption.endswith("with an echo") == (p["echo_s"] is not None)
        assert 600.0 <= p["start_hz"] <= 1400.0 and p["end_hz"] <= 300.0
        if p["shots"] > 1:  # one crack per shot: the loudest 10 ms frames sit one shot + gap apart
            frames = np.abs(x[: len(x) // 160 * 160]).reshape(-1, 160).max(1)
            starts = np.flatnonzero((frames[1:] > 0.3 * frames.max()) & (frames[1:] > 3 * frames[:-1]))
            assert len(starts) + 1 >= p["shots"]
        seen.add((p["shots"], p["echo_s"] is not None))
    assert len(seen) >= 4


def test_blaster_clips_are_deterministic():
    a, b = make_clip(7, "blaster"), make_clip(7, "blaster")
    assert np.array_equal(a["audio"], b["audio"]) and a["caption"] == b["caption"]
    assert make_clip(8, "blaster")["caption"] and a["category"] == "weapon"
