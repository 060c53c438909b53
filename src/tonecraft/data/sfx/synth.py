"""An sfxr-style synthesiser (vectorised numpy) and its presets, each with a caption read from its parameters.

The parameters and their meaning follow sfxr (Tomas Pettersson, 2007, MIT) as documented by jsfxr (`sfxr.js`,
Unlicense): all in 0..1 (± for slides), time constants counted in samples at 44.1 kHz. We render the
oscillator at 64 kHz and decimate to 16 kHz; the per-sample recurrences of sfxr (frequency slide and
delta slide, arpeggio jump, duty sweep, repeat, phaser delay) are evaluated in closed form per sample, the
two filters per 256-sample block. Preset ranges are jsfxr's generators (pickupCoin, laserShoot, explosion,
powerUp, hitHurt, jump, blipSelect); an "alarm" preset (two-tone, siren, beeping) is ours.
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal

from .dsp import SAMPLE_RATE

SFXR_RATE = 44100  # sfxr counts its time constants in samples at this rate
OSC_RATE = 4 * SAMPLE_RATE
WAVES = ("square", "saw", "sine", "noise")


@dataclass
class SfxrParams:
    wave_type: int = 0
    env_attack: float = 0.0
    env_sustain: float = 0.3
    env_punch: float = 0.0
    env_decay: float = 0.4
    base_freq: float = 0.3
    freq_limit: float = 0.0
    freq_ramp: float = 0.0
    freq_dramp: float = 0.0
    vib_strength: float = 0.0
    vib_speed: float = 0.0
    arp_mod: float = 0.0
    arp_speed: float = 0.0
    duty: float = 0.0
    duty_ramp: float = 0.0
    repeat_speed: float = 0.0
    pha_offset: float = 0.0
    pha_ramp: float = 0.0
    lpf_freq: float = 1.0
    lpf_ramp: float = 0.0
    lpf_resonance: float = 0.0
    hpf_freq: float = 0.0
    hpf_ramp: float = 0.0

    def rounded(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def base_hz(v: float) -> float:
    """sfxr's base frequency: 8 * 44100 * (v^2 + 0.001) / 100 Hz (0.3517 ~ 440 Hz)."""
    return 8 * SFXR_RATE * (v * v + 0.001) / 100.0


def env_seconds(p: SfxrParams) -> tuple[float, float, float]:
    return tuple(v * v * 100000.0 / SFXR_RATE for v in (p.env_attack, p.env_sustain, p.env_decay))


def _envelope(p: SfxrParams, n: int, rate: int) -> np.ndarray:
    a, s, d = (max(1, int(x * rate)) for x in env_seconds(p))
    env = np.concatenate([np.linspace(0.0, 1.0, a, endpoint=False),
                          1.0 + 2.0 * p.env_punch * np.linspace(1.0, 0.0, s, endpoint=False),
                          np.linspace(1.0, 0.0, d, endpoint=False)])
    return env[:n] if len(env) >= n else np.pad(env, (0, n - len(env)))


def _rbj(kind: str, hz: float, q: float, rate: int) -> np.ndarray:
    """One biquad (RBJ cookbook) as an sos row."""
    w = 2 * math.pi * min(max(hz, 10.0), 0.45 * rate) / rate
    alpha = math.sin(w) / (2 * q)
    c = math.cos(w)
    if kind == "lp":
        b = [(1 - c) / 2, 1 - c, (1 - c) / 2]
    else:
        b = [(1 + c) / 2, -(1 + c), (1 + c) / 2]
    a = [1 + alpha, -2 * c, 1 - alpha]
    return np.array([[b[0] / a[0], b[1] / a[0], b[2] / a[0], 1.0, a[1] / a[0], a[2] / a[0]]])


def _swept_filter(x: np.ndarray, kind: str, hz0: float, ramp_per_sfxr_sample: float, q: float, rate: int,
                  block: int = 256) -> np.ndarray:
    """Biquad whose cutoff is multiplied by `ramp` every sfxr sample, recomputed per block."""
    out = np.empty_like(x)
    zi = np.zeros((1, 2))
    k = SFXR_RATE / rate
    for a in range(0, len(x), block):
        hz = hz0 * ramp_per_sfxr_sample ** (a * k)
        sos = _rbj(kind, hz, q, rate)
        out[a:a + block], zi = signal.sosfilt(sos, x[a:a + block], zi=zi)
    return out


def render(p: SfxrParams, seed: int) -> np.ndarray:
    """float32 mono at 16 kHz, length set by the envelope (attack + sustain + decay)."""
    rate = OSC_RATE
    k = SFXR_RATE / rate  # sfxr samples per oscillator sample
    n = max(16, int(sum(env_seconds(p)) * rate))
    t = np.arange(n) * k  # time in sfxr samples
    if p.repeat_speed > 0:
        rep = (1.0 - p.repeat_speed) ** 2 * 20000 + 32
        tl = np.mod(t, rep)
    else:
        tl = t
    # frequency slide: period *= fslide each sfxr sample, fslide += fdslide
    fslide0 = 1.0 - p.freq_ramp ** 3 * 0.01
    fdslide = -p.freq_dramp ** 3 * 0.000001
    slide = np.clip(fslide0 + fdslide * tl, 1e-3, None)
    # sum_{m<tl} log(slide(m)) ~ integral: tl * log(fslide0) for dslide 0, trapezoid otherwise
    log_slide = np.log(slide)
    log_period = np.log(100.0 / (p.base_freq ** 2 + 0.001)) + 0.5 * tl * (np.log(fslide0) + log_slide)
    if p.arp_mod != 0:
        mult = 1.0 - p.arp_mod ** 2 * 0.9 if p.arp_mod >= 0 else 1.0 + p.arp_mod ** 2 * 10.0
        arp_limit = 0 if p.arp_speed == 1.0 else (1.0 - p.arp_speed) ** 2 * 20000 + 32
        if arp_limit:
            log_period = log_period + np.where(tl >= arp_limit, math.log(mult), 0.0)
    log_period = np.minimum(log_period, math.log(1e7))
    stop = n
    if p.freq_limit > 0:
        too_low = np.flatnonzero(log_period > math.log(100.0 / (p.freq_limit ** 2 + 0.001)))
        stop = int(too_low[0]) if len(too_low) else n
    if p.vib_strength > 0:
        log_period = log_period + np.log1p(np.sin(t * p.vib_speed ** 2 * 0.01) * p.vib_strength * 0.5)
    freq = 8 * SFXR_RATE / np.exp(log_period)  # Hz (sfxr's 8x oversampled period)
    phase = np.cumsum(freq / rate)
    frac = phase - np.floor(phase)
    if p.wave_type == 0:
        duty = np.clip(0.5 - p.duty * 0.5 - p.duty_ramp * 0.00005 * tl, 0.0, 0.5)
        x = np.where(frac < duty, 0.5, -0.5)
    elif p.wave_type == 1:
        x = 1.0 - 2.0 * frac
    elif p.wave_type == 2:
        x = np.sin(2 * math.pi * frac)
    else:
        idx = np.floor(phase * 32).astype(np.int64)
        table = np.random.default_rng(seed).uniform(-1.0, 1.0, int(idx[-1]) + 1)
        x = table[idx]
    x = x * _envelope(p, n, rate)
    x[stop:] = 0.0
    if p.pha_offset != 0 or p.pha_ramp != 0:
        off = math.copysign(p.pha_offset ** 2 * 1020.0, p.pha_offset) + \
            math.copysign(p.pha_ramp ** 2, p.pha_ramp) * t
        to_osc = rate / (8 * SFXR_RATE)  # sfxr's phaser delay counts 8x-oversampled samples
        d = (np.minimum(np.abs(off), 1023.0) * to_osc).astype(np.int64)
        src = np.arange(n) - d
        x = x + np.where(src >= 0, x[np.maximum(src, 0)], 0.0)
    if p.lpf_freq < 1.0:
        hz = p.lpf_freq ** 3 * 0.1 * 8 * SFXR_RATE / (2 * math.pi)
        x = _swept_filter(x, "lp", hz, 1.0 + p.lpf_ramp * 0.0001, 0.707 + 4.0 * p.lpf_resonance ** 2, rate)
    if p.hpf_freq > 0:
        hz = p.hpf_freq ** 2 * 0.1 * 8 * SFXR_RATE / (2 * math.pi)
        x = _swept_filter(x, "hp", hz, 1.0 + p.hpf_ramp * 0.0003, 0.707, rate)
    y = signal.resample_poly(x, 1, rate // SAMPLE_RATE)
    return np.nan_to_num(y).astype(np.float32)


# ---------------------------------------------------------------- presets (jsfxr generators) + captions

def _pitch_word(hz: float) -> str:
    return "low" if hz < 300 else "high" if hz > 1200 else "mid-pitched"


def _length_word(seconds: float) -> str:
    return "short" if seconds < 0.35 else "long" if seconds > 1.0 else ""


def _slide_word(p: SfxrParams) -> str:
    if abs(p.freq_ramp) < 0.02 and abs(p.freq_dramp) < 0.02:
        return ""
    return "falling" if p.freq_ramp < 0 else "rising"  # period shrinks when freq_ramp > 0


def _join(*words: str) -> str:
    return " ".join(w for w in words if w)


def _article(phrase: str) -> str:
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


def pickup(r: random.Random) -> tuple[SfxrParams, dict]:
    p = SfxrParams(wave_type=1, base_freq=0.4 + r.random() * 0.5, env_sustain=r.random() * 0.1,
                   env_decay=0.1 + r.random() * 0.4, env_punch=0.3 + r.random() * 0.3)
    two = r.random() < 0.5
    if two:
        p.arp_speed, p.arp_mod = 0.5 + r.random() * 0.2, 0.2 + r.random() * 0.4
    return p, {"notes": 2 if two else 1}


def laser(r: random.Random) -> tuple[SfxrParams, dict]:
    p = SfxrParams(wave_type=r.randrange(3))
    if p.wave_type == 2 and r.random() < 0.5:
        p.wave_type = r.randrange(2)
    p.base_freq = 0.5 + r.random() * 0.5
    p.freq_limit = max(0.2, p.base_freq - 0.2 - r.random() * 0.6)
    p.freq_ramp = -0.15 - r.random() * 0.2
    if r.random() < 0.33:
        p.base_freq = 0.3 + r.random() * 0.6
        p.freq_limit = r.random() * 0.1
        p.freq_ramp = -0.35 - r.random() * 0.3
    rising = r.random() < 0.25  # ours: jsfxr lasers always fall
    if rising:
        p.base_freq, p.freq_limit, p.freq_ramp = 0.2 + r.random() * 0.3, 0.0, 0.15 + r.random() * 0.2
    if r.random() < 0.5:
        p.duty, p.duty_ramp = r.random() * 0.5, r.random() * 0.2
    else:
        p.duty, p.duty_ramp = 0.4 + r.random() * 0.5, -r.random() * 0.7
    p.env_sustain, p.env_decay = 0.1 + r.random() * 0.2, r.random() * 0.4
    if r.random() < 0.5:
        p.env_punch = r.random() * 0.3
    phaser = r.random() < 0.33
    if phaser:
        p.pha_offset, p.pha_ramp = r.random() * 0.2, -r.random() * 0.2
    if r.random() < 0.5:
        p.hpf_freq = r.random() * 0.3
    return p, {"phaser": phaser}


def zap(r: random.Random) -> tuple[SfxrParams, dict]:
    """Ours: a laser the 16 kHz codec can carry (issue 15). jsfxr's lasers start at 0.9-3.5 kHz, often with a
    phaser, a duty sweep or a high-pass: through the codec they come out as a broadband smear, while a plain
    square / saw / sine glide with its fundamental under 1.5 kHz keeps its pitch line. Same captions as `laser`."""
    p = SfxrParams(wave_type=r.randrange(3))
    rising = r.random() < 0.25
    hz = r.uniform(250.0, 500.0) if rising else r.uniform(500.0, 1500.0)
    p.base_freq = math.sqrt(hz * 100.0 / (8 * SFXR_RATE) - 0.001)
    p.freq_ramp = (0.15 + r.random() * 0.1) * (1.0 if rising else -1.0)
    if not rising:
        p.freq_limit = 0.2 + r.random() * 0.05  # stops at 145-225 Hz
    p.duty = r.random() * 0.5
    p.env_sustain, p.env_decay = 0.15 + r.random() * 0.2, 0.15 + r.random() * 0.3
    p.env_punch = r.random() * 0.3
    return p, {"phaser": False}


def explosion(r: random.Random) -> tuple[SfxrParams, dict]:
    p = SfxrParams(wave_type=3)
    if r.random() < 0.5:
        p.base_freq, p.freq_ramp = 0.1 + r.random() * 0.4, -0.1 + r.random() * 0.4
    else:
        p.base_freq, p.freq_ramp = 0.2 + r.random() * 0.7, -0.2 - r.random() * 0.2
    p.base_freq **= 2
    if r.random() < 0.2:
        p.freq_ramp = 0.0
    stutter = r.random() < 0.33
    if stutter:
        p.repeat_speed = 0.3 + r.random() * 0.5
    p.env_sustain, p.env_decay, p.env_punch = 0.1 + r.random() * 0.3, r.random() * 0.5, 0.2 + r.random() * 0.6
    if r.random() < 0.5:
        p.pha_offset, p.pha_ramp = -0.3 + r.random() * 0.9, -r.random() * 0.3
    distant = r.random() < 0.3
    return p, {"stutter": stutter, "distant": distant}


def powerup(r: random.Random) -> tuple[SfxrParams, dict]:
    p = SfxrParams()
    if r.random() < 0.5:
        p.wave_type = 1
    else:
        p.duty = r.random() * 0.6
    repeating = r.random() < 0.5
    if repeating:
        p.base_freq, p.freq_ramp, p.repeat_speed = 0.2 + r.random() * 0.3, 0.1 + r.random() * 0.4, \
            0.4 + r.random() * 0.4
    else:
        p.base_freq, p.freq_ramp = 0.2 + r.random() * 0.3, 0.05 + r.random() * 0.2
        if r.random() < 0.5:
            p.vib_strength, p.vib_speed = r.random() * 0.7, r.random() * 0.6
    p.env_sustain, p.env_decay = r.random() * 0.4, 0.1 + r.random() * 0.4
    return p, {"repeating": repeating}


def hit(r: random.Random) -> tuple[SfxrParams, dict]:
    p = SfxrParams(wave_type=r.randrange(3))
    if p.wave_type == 2:
        p.wave_type = 3
    if p.wave_type == 0:
        p.duty = r.random() * 0.6
    p.base_freq, p.freq_ramp = 0.2 + r.random() * 0.6, -0.3 - r.random() * 0.4
    p.env_sustain, p.env_decay = r.random() * 0.1, 0.1 + r.random() * 0.2
    if r.random() < 0.5:
        p.hpf_freq = r.random() * 0.3
    return p, {}


def jump(r: random.Random) -> tuple[SfxrParams, dict]:
    p = SfxrParams(wave_type=0, duty=r.random() * 0.6, base_freq=0.3 + r.random() * 0.3,
                   freq_ramp=0.1 + r.random() * 0.2, env_sustain=0.1 + r.random() * 0.3,
                   env_decay=0.1 + r.random() * 0.2)
    if r.random() < 0.5:
        p.hpf_freq = r.random() * 0.3
    if r.random() < 0.5:
        p.lpf_freq = 1.0 - r.random() * 0.6
    return p, {}


def blip(r: random.Random) -> tuple[SfxrParams, dict]:
    p = SfxrParams(wave_type=r.randrange(2), base_freq=0.2 + r.random() * 0.4, env_sustain=0.1 + r.random() * 0.1,
                   env_decay=r.random() * 0.2, hpf_freq=0.1)
    if p.wave_type == 0:
        p.duty = r.random() * 0.6
    return p, {}


def caption_sfxr(preset: str, p: SfxrParams, extra: dict, seconds: float) -> str:
    hz = base_hz(p.base_freq)
    length = _length_word(seconds)
    if preset == "pickup":
        what = "two-note coin pickup chime, stepping up" if extra["notes"] == 2 else "coin pickup chime"
        return _article(_join(length, _pitch_word(hz), what))
    if preset in ("laser", "zap"):
        tail = " with a phaser sweep" if extra["phaser"] else ""
        return _article(_join(length, _slide_word(p), "laser zap")) + tail
    if preset == "explosion":
        if extra["distant"]:
            return _article(_join("distant muffled", "stuttering" if extra["stutter"] else "", "explosion"))
        return _article(_join(length, "deep rumbling" if hz < 60 else "", "crackling" if extra["stutter"] else "",
                              "explosion"))
    if preset == "powerup":
        what = "repeating rising power-up sweep" if extra["repeating"] else "rising power-up sound"
        return _article(_join(length, what)) + (" with vibrato" if p.vib_strength > 0.2 else "")
    if preset == "hit":
        return _article(_join(length, "noisy" if p.wave_type == 3 else "", "falling", "game hit sound"))
    if preset == "jump":
        return _article(_join(length, "rising", "game jump sound"))
    if preset == "blip":
        return _article(_join(length, _pitch_word(hz), "menu select blip"))
    raise ValueError(preset)


SFXR_PRESETS = {"pickup": (pickup, "game"), "laser": (laser, "weapon"), "explosion": (explosion, "explosion"),
                "powerup": (powerup, "game"), "hit": (hit, "impact"), "jump": (jump, "game"),
                "blip": (blip, "ui")}
# kinds a corpus draws only when asked (`--synth-kinds zap`): adding them to SFXR_PRESETS would change which kind
# every clip seed of an existing corpus draws
EXTRA_SFXR_PRESETS = {"zap": (zap, "weapon")}
ALL_SFXR_PRESETS = {**SFXR_PRESETS, **EXTRA_SFXR_PRESETS}


def alarm(r: random.Random, seed: int) -> tuple[np.ndarray, str, dict]:
    """A two-tone alarm, a wailing siren or a beeping alarm with an exact count of beeps."""
    sr = SAMPLE_RATE
    style = r.choice(["two-tone", "siren", "beeping"])
    wave = r.choice(["square", "sine"])
    f0 = r.uniform(500, 1500)
    if style == "siren":
        dur, period = r.uniform(2.0, 5.0), r.uniform(0.6, 2.0)
        t = np.arange(int(dur * sr)) / sr
        f = f0 * (1 + 0.5 * (0.5 - 0.5 * np.cos(2 * np.pi * t / period)))
        caption = "a wailing siren rising and falling"
        params = {"style": style, "seconds": dur, "sweep_period_s": period}
    elif style == "two-tone":
        dur, step = r.uniform(2.0, 5.0), r.uniform(0.25, 0.6)
        t = np.arange(int(dur * sr)) / sr
        f = np.where(np.floor(t / step) % 2 == 0, f0, f0 * r.choice([0.75, 0.8, 2 ** (-4 / 12)]))
        caption = "a two-tone alarm alternating between two pitches"
        params = {"style": style, "seconds": dur, "step_s": step}
    else:
        beeps, on, off = r.randint(2, 8), r.uniform(0.06, 0.25), r.uniform(0.06, 0.3)
        dur = beeps * (on + off)
        t = np.arange(int(dur * sr)) / sr
        f = np.full_like(t, f0)
        nums = {2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times",
                7: "seven times", 8: "eight times"}
        speed = "fast" if on + off < 0.25 else "slow" if on + off > 0.45 else ""
        caption = _article(_join(_pitch_word(f0), "alarm")) + f" beeping {nums[beeps]}" + \
            (f", {speed}" if speed else "")
        params = {"style": style, "beeps": beeps, "on_s": on, "off_s": off}
    phase = np.cumsum(f / sr)
    x = np.sin(2 * np.pi * phase) if wave == "sine" else np.sign(np.sin(2 * np.pi * phase)) * 0.5
    if style == "beeping":
        x = x * (np.mod(t, on + off) < on)
    params.update(wave=wave, hz=round(f0, 1))
    return x.astype(np.float32), caption, params
