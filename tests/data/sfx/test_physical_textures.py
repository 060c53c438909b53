"""Physical models and noise textures: captions count and name what the parameters put in the sound."""
import random

import numpy as np

from tonecraft.data.sfx import physical, textures

SR = 16000


def test_knock_count_matches_the_caption():
    for seed in range(10):
        x, caption, params = physical.knocks(random.Random(seed))
        n = params["knocks"]
        word = "a single" if n == 1 else physical.COUNT_WORDS[n]
        assert caption.startswith(word) and params["material"] in caption
        assert len(params["onsets_s"]) == n
        for t in params["onsets_s"]:  # each strike is an attack: louder just after than just before
            a = int(t * SR)
            before, after = x[max(0, a - 80):a], x[a:a + 80]
            assert np.sqrt(np.mean(after ** 2)) > 1.3 * np.sqrt(np.mean(before ** 2) if len(before) else 0.0)


def test_footsteps_surface_and_pace_in_caption():
    for seed in range(6):
        x, caption, params = physical.footsteps(random.Random(seed), 4.0)
        assert len(x) == 4 * SR and np.isfinite(x).all()
        assert caption.startswith(f"footsteps on {params['surface']}") and params["steps"] >= 3
        if params["interval_s"] < 0.4:
            assert caption.endswith("quickly")


def test_textures_have_their_length_and_words():
    for name, (fn, _) in textures.TEXTURES.items():
        x, caption, params = fn(random.Random(1), 5.0)
        assert len(x) == 5 * SR and np.isfinite(x).all() and np.abs(x).max() > 0
        key = {"wind": "wind", "rain": "rain", "surf": "waves", "engine": "engine"}[name]
        assert key in caption
    x, caption, params = textures.rain(random.Random(3), 4.0)
    assert caption.startswith("heavy" if params["heavy"] else "light")
