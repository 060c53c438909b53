"""Simple physical models: footsteps (a heel and a toe contact per step through a surface filter) and knocks
(modal synthesis: damped sinusoids of a struck plate or board). The caption counts what is really there."""
from __future__ import annotations

import random

import numpy as np

from .dsp import SAMPLE_RATE, bandpass, highpass, lowpass, np_rng

SR = SAMPLE_RATE
COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

# surface: (band low, band high, grain: crunchy granular texture, decay s)
SURFACES = {"gravel": (300, 6000, True, 0.12), "wooden floor": (80, 1800, False, 0.06),
            "concrete": (150, 4000, False, 0.04), "snow": (200, 3000, True, 0.18),
            "dry leaves": (800, 7000, True, 0.15), "metal grating": (300, 5000, False, 0.09)}
# material: (mode frequencies relative to the fundamental, fundamental range Hz, decay s, noise band)
MATERIALS = {"wooden door": ((1.0, 2.32, 4.25, 6.63), (90, 180), 0.07, (200, 2500)),
             "metal plate": ((1.0, 2.76, 5.40, 8.93), (350, 900), 0.6, (1000, 6000)),
             "glass window": ((1.0, 2.32, 3.95, 5.8), (700, 1400), 0.18, (2000, 7000)),
             "table": ((1.0, 2.1, 3.6, 5.3), (150, 300), 0.05, (300, 3000))}



def _contact(g: np.random.Generator, surface: str, amp: float) -> np.ndarray:
    lo, hi, grain, decay = SURFACES[surface]
    m = int((decay + 0.03) * SR)
    t = np.arange(m) / SR
    env = np.exp(-t / (decay / 4)) * np.minimum(1.0, t / 0.002)
    noise = g.standard_normal(m).astype(np.float32)
    if grain:  # many tiny impacts: sparse clicks under the envelope
        clicks = (g.random(m) < 0.02).astype(np.float32) * g.uniform(-1, 1, m).astype(np.float32)
        noise = 0.4 * noise + 3.0 * clicks
    x = bandpass(noise, lo, hi, SR) * env.astype(np.float32)
    thump = np.sin(2 * np.pi * 60.0 * t) * np.exp(-t / 0.015)
    return (amp * (x + 0.3 * thump)).astype(np.float32)


def footsteps(r: random.Random, seconds: float) -> tuple[np.ndarray, str, dict]:
    g = np_rng(r)
    surface = r.choice(sorted(SURFACES))
    pace = r.choice(["slowly", "", "quickly"])
    interval = {"slowly": r.uniform(0.75, 0.95), "": r.uniform(0.5, 0.65), "quickly": r.uniform(0.28, 0.38)}[pace]
    shoes = r.choice(["", "", "heels"]) if surface in ("concrete", "wooden floor") else ""
    n = int(seconds * SR)
    x = np.zeros(n + SR, np.float32)
    t, steps = r.uniform(0.05, 0.3), 0
    while t < seconds - 0.2:
        amp = g.uniform(0.7, 1.0) * (1.0 if steps % 2 == 0 else g.uniform(0.8, 0.95))
        for offset, part in ((0.0, 1.0), (g.uniform(0.04, 0.09), 0.6)):  # heel, then toe
            c = _contact(g, surface, amp * part)
            if shoes:
                c = highpass(c, 1200, SR) * 1.5
            a = int((t + offset) * SR)
            x[a:a + len(c)] += c[: len(x) - a]
        t += interval * g.uniform(0.95, 1.05)
        steps += 1
    caption = f"footsteps on {surface}" + (" in high heels" if shoes else "") + \
        (", walking " + pace if pace else ", walking")
    return x[:n], caption, {"surface": surface, "steps": steps, "interval_s": round(interval, 3),
                            "heels": bool(shoes)}


def knocks(r: random.Random, seconds: float | None = None) -> tuple[np.ndarray, str, dict]:
    g = np_rng(r)
    material = r.choice(sorted(MATERIALS))
    ratios, (f_lo, f_hi), decay, (b_lo, b_hi) = MATERIALS[material]
    count = r.randint(1, 5)
    gap = r.uniform(0.12, 0.35)
    f0 = r.uniform(f_lo, f_hi)
    loud = r.random() < 0.5
    tail = int((decay * 5 + 0.1) * SR)
    n = int((0.1 + count * gap) * SR) + tail
    x = np.zeros(n, np.float32)
    t_mode = np.arange(tail) / SR
    onsets = []
    for i in range(count):
        hit = np.zeros(tail, np.float32)
        for j, ratio in enumerate(ratios):
            a = g.uniform(0.5, 1.0) / (1 + j)
            d = decay / (1 + 0.6 * j)
            hit += (a * np.sin(2 * np.pi * f0 * ratio * g.uniform(0.99, 1.01) * t_mode) *
                    np.exp(-t_mode / d)).astype(np.float32)
        burst = g.standard_normal(int(0.004 * SR)).astype(np.float32)
        hit[: len(burst)] += bandpass(burst, b_lo, b_hi, SR) * 2.0
        a = int((0.1 + i * gap * g.uniform(0.9, 1.1)) * SR)
        onsets.append(round(a / SR, 4))
        x[a:a + tail] += hit[: n - a] * g.uniform(0.8, 1.0)
    if not loud:
        x = lowpass(x, 3000, SR)
    what = f"a single knock on a {material}" if count == 1 else \
        f"{COUNT_WORDS[count]} {'loud ' if loud else ''}knocks on a {material}"
    if count == 1 and loud:
        what = f"a single loud knock on a {material}"
    return x, what, {"material": material, "knocks": count, "gap_s": round(gap, 3), "f0": round(f0, 1),
                     "loud": loud, "onsets_s": onsets}


PHYSICAL = {"footsteps": (footsteps, "footsteps"), "knocks": (knocks, "impact")}
