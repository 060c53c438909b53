"""Filtered-noise textures: wind, rain, surf, engine hum. Each returns (audio, caption, params) at 16 kHz;
the caption only names what the parameters put in the sound."""
from __future__ import annotations

import random

import numpy as np

from .dsp import SAMPLE_RATE, bandpass, highpass, lowpass, np_rng, smooth_noise

SR = SAMPLE_RATE



def wind(r: random.Random, seconds: float) -> tuple[np.ndarray, str, dict]:
    g = np_rng(r)
    n = int(seconds * SR)
    strength = r.choice(["gentle", "strong"])
    gusty = r.random() < 0.6
    centre = r.uniform(250, 600) if strength == "gentle" else r.uniform(400, 1000)
    noise = g.standard_normal(n).astype(np.float32)
    mod = smooth_noise(g, n, 0.6 if gusty else 0.2, SR)
    # a slowly moving band: filter two fixed bands and crossfade between them with the gust control
    lo = bandpass(noise, centre * 0.5, centre * 1.2, SR)
    hi = bandpass(noise, centre * 1.0, centre * 2.6, SR)
    w = 0.5 + 0.5 * mod
    x = (1 - w) * lo + w * hi
    depth = 0.8 if gusty else 0.3
    x *= (1 - depth) + depth * (0.5 + 0.5 * mod)
    if strength == "gentle":
        x = lowpass(x, 1500, SR)
    caption = f"a {strength} {'gusting' if gusty else 'steady'} wind"
    return x, caption, {"strength": strength, "gusty": gusty, "centre_hz": round(centre, 1)}


def rain(r: random.Random, seconds: float) -> tuple[np.ndarray, str, dict]:
    g = np_rng(r)
    n = int(seconds * SR)
    heavy = r.random() < 0.5
    surface = r.choice(["", "", "a tin roof", "a window"])
    bed = highpass(g.standard_normal(n).astype(np.float32), 800 if heavy else 1500, SR)
    bed = lowpass(bed, 7000 if heavy else 5000, SR) * (0.5 if heavy else 0.2)
    drops = np.zeros(n, np.float32)
    rate = r.uniform(150, 400) if heavy else r.uniform(20, 80)  # drops per second
    k = g.poisson(rate * seconds)
    pos = g.integers(0, max(1, n - 400), k)
    amp = g.uniform(0.2, 1.0, k).astype(np.float32)
    # each drop: a short click through a few inharmonic partials (a tin roof rings longer and lower); several
    # drop shapes alternate so no single pitch stands out
    k_len = np.arange(400)
    decay = {"a tin roof": 90.0, "a window": 40.0}.get(surface, 15.0)
    lo, hi = (1500.0, 4500.0) if surface == "a tin roof" else (2500.0, 7000.0)
    shapes = [sum(np.sin(2 * np.pi * f * k_len / SR + g.uniform(0, 6.3)) for f in g.uniform(lo, hi, 3))
              * np.exp(-k_len / decay) for _ in range(6)]
    for j, shape in enumerate(shapes):
        one = np.zeros(n, np.float32)
        sel = slice(j, None, len(shapes))
        np.add.at(one, pos[sel], amp[sel])
        drops += np.convolve(one, shape.astype(np.float32))[:n]
    x = bed + drops * (0.6 if surface else 0.35)
    caption = ("heavy rain" if heavy else "light rain") + (f" on {surface}" if surface else " falling")
    return x.astype(np.float32), caption, {"heavy": heavy, "surface": surface or None,
                                           "drops_per_s": round(rate, 1)}


def surf(r: random.Random, seconds: float) -> tuple[np.ndarray, str, dict]:
    g = np_rng(r)
    n = int(seconds * SR)
    period = r.uniform(3.0, 7.0)
    big = r.random() < 0.5
    noise = g.standard_normal(n).astype(np.float32)
    t = np.arange(n) / SR
    phase = np.mod(t + r.uniform(0, period), period) / period
    swell = np.where(phase < 0.3, phase / 0.3, np.exp(-(phase - 0.3) * 5.0)).astype(np.float32)
    crash = lowpass(noise, 2500 if big else 1500, SR)
    hiss = highpass(g.standard_normal(n).astype(np.float32), 3000, SR) * (0.3 * np.maximum(0, np.roll(swell, int(0.3 * SR)) - 0.2))
    x = crash * (0.1 + swell) + hiss
    waves = int(round(seconds / period))
    caption = ("large " if big else "gentle ") + "waves breaking on a shore"
    return x, caption, {"wave_period_s": round(period, 2), "big": big, "waves": waves}


def engine(r: random.Random, seconds: float) -> tuple[np.ndarray, str, dict]:
    g = np_rng(r)
    n = int(seconds * SR)
    rpm0 = r.uniform(700, 1200)
    revving = r.random() < 0.4
    t = np.arange(n) / SR
    if revving:
        peak = r.uniform(2500, 4500)
        rise = np.clip((t - 0.3 * seconds) / (0.3 * seconds), 0, 1)
        rpm = rpm0 + (peak - rpm0) * np.sin(np.pi * rise) ** 2
    else:
        rpm = rpm0 * (1 + 0.02 * smooth_noise(g, n, 1.0, SR))
    cyl = r.choice([4, 6, 8])
    fire_hz = rpm / 60.0 * cyl / 2.0  # four-stroke firing rate
    phase = np.cumsum(fire_hz / SR)
    pulses = np.exp(-np.mod(phase, 1.0) * 6.0).astype(np.float32) - 0.3
    rough = 1.0 + 0.3 * g.standard_normal(n).astype(np.float32)
    x = lowpass(pulses * rough, 900.0 if not revving else 1600.0, SR, order=4)
    x = x + 0.05 * lowpass(g.standard_normal(n).astype(np.float32), 400, SR)
    caption = "an engine revving up and back down" if revving else \
        ("a low engine idling hum" if rpm0 < 950 else "an engine idling")
    return x.astype(np.float32), caption, {"rpm": round(rpm0), "cylinders": cyl, "revving": revving}


TEXTURES = {"wind": (wind, "weather"), "rain": (rain, "weather"), "surf": (surf, "water"),
            "engine": (engine, "vehicle")}
