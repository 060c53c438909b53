"""The procedural kinds and one seeded clip of each: audio at 16 kHz, its exact caption, category and parameters.

A clip depends only on its own seed (an int), so it renders to the same bytes anywhere, in any order."""
from __future__ import annotations

import random

import numpy as np

from . import blaster, physical, synth, textures
from .dsp import SAMPLE_RATE, fade, lowpass, normalize, reverb

ONE_SHOT_MIN_S = 1.0  # one-shots are padded with silence to this length
TEXTURE_SECONDS = (4.0, 10.0)
MIN_SFXR_S = 0.12

# kind -> (family, category); a clip seed draws from KIND_ORDER, every kind equally likely; the extra sfxr presets
# only when a corpus asks for them (`--synth-kinds`)
_DRAWN_KINDS: dict[str, tuple[str, str]] = {
    **{k: ("sfxr", cat) for k, (_, cat) in synth.SFXR_PRESETS.items()},
    "alarm": ("alarm", "alarm"),
    **{k: ("texture", cat) for k, (_, cat) in textures.TEXTURES.items()},
    **{k: ("physical", cat) for k, (_, cat) in physical.PHYSICAL.items()},
}
KIND_ORDER = tuple(sorted(_DRAWN_KINDS))
KINDS = {**_DRAWN_KINDS, **{k: ("sfxr", cat) for k, (_, cat) in synth.EXTRA_SFXR_PRESETS.items()},
         "blaster": ("blaster", "weapon")}


def choose_kind(clip_seed: int) -> str:
    return KIND_ORDER[random.Random(clip_seed).randrange(len(KIND_ORDER))]


def make_clip(clip_seed: int, kind: str | None = None) -> dict:
    """-> {"audio": float32 [T], "caption", "category", "kind", "params"}. Peak-safe, loudness-normalised."""
    kind = kind or choose_kind(clip_seed)
    family, category = KINDS[kind]
    r = random.Random(f"{clip_seed}/{kind}")
    sr = SAMPLE_RATE
    if family == "sfxr":
        fn = synth.ALL_SFXR_PRESETS[kind][0]
        for _ in range(50):  # redraw sounds too short to hear (deterministic: same stream)
            p, extra = fn(r)
            if sum(synth.env_seconds(p)) >= MIN_SFXR_S:
                break
        x = synth.render(p, r.getrandbits(32))
        caption = synth.caption_sfxr(kind, p, extra, len(x) / sr)
        if extra.get("distant"):
            x = reverb(lowpass(x, 700.0, sr), sr, np.random.default_rng(r.getrandbits(32)), 1.2, 0.6)
        params = {"preset": kind, "sfxr": p.rounded(), **extra}
    elif family == "alarm":
        x, caption, params = synth.alarm(r, clip_seed)
    elif family == "blaster":
        x, caption, params = blaster.blaster(r)
    elif family == "texture":
        seconds = round(r.uniform(*TEXTURE_SECONDS), 2)
        x, caption, params = textures.TEXTURES[kind][0](r, seconds)
        params["seconds"] = seconds
    else:
        seconds = round(r.uniform(2.5, 6.0), 2)
        x, caption, params = physical.PHYSICAL[kind][0](r, seconds)
    x = np.nan_to_num(np.asarray(x, np.float32))
    x = fade(x, sr, 0.002 if family in ("sfxr", "physical", "blaster") else 0.05, 0.01 if family != "texture" else 0.1)
    if len(x) < ONE_SHOT_MIN_S * sr:
        x = np.pad(x, (0, int(ONE_SHOT_MIN_S * sr) - len(x)))
    return {"audio": normalize(x), "caption": caption, "category": category, "kind": kind, "params": params}
