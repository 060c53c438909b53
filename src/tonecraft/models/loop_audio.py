"""The audio side of seamless loops: the bar grid, tempo and beat estimation, zero crossings, crossfades,
the key, and the seam measures the tests and bench/loop_seams.py share.

Tempo and beats come from our own onset-envelope autocorrelation (librosa is only an `eval` extra, and
inference never depends on it): a log-spectral-flux envelope at 100 frames/s, its autocorrelation weighted
by a log-normal prior around 120 bpm (the same prior idea as librosa's `beat.tempo`), the peak refined to a
fraction of a frame, then the beat phase that puts the most onset energy on the grid. The downbeat is the
beat phase whose bar positions carry the most low-frequency onset energy (kick drums): a heuristic, and
only used for models without a beat grid (the default model starts every clip on a downbeat).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError

ENVELOPE_RATE = 100.0  # onset-envelope frames per second
MIN_BPM, MAX_BPM = 40.0, 240.0
_METER = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")
KEYS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Krumhansl-Kessler key profiles (major, minor), C first
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class BarGrid:
    """Bars of `meter` at `bpm`. The bpm counts the meter's beat unit (its denominator): 4/4 at 120 bpm has
    2 s bars, 3/4 at 90 bpm 2 s, 6/8 at 180 bpm 2 s."""

    bpm: float
    beats_per_bar: int = 4
    beat_unit: int = 4

    @classmethod
    def parse(cls, bpm: float, meter: str = "4/4") -> "BarGrid":
        if not isinstance(bpm, (int, float)) or isinstance(bpm, bool) or not math.isfinite(bpm) or \
                not MIN_BPM / 2 <= bpm <= MAX_BPM * 1.25:
            raise ConfigError(f"bpm must be a number between {MIN_BPM / 2:g} and {MAX_BPM * 1.25:g}, got {bpm!r}")
        m = _METER.match(str(meter))
        if m is None or not 1 <= int(m.group(1)) <= 16 or int(m.group(2)) not in (2, 4, 8, 16):
            raise ConfigError(f"meter must look like 4/4, 3/4 or 6/8 (1-16 beats of a 2, 4, 8 or 16 note), "
                              f"got {meter!r}")
        return cls(float(bpm), int(m.group(1)), int(m.group(2)))

    @property
    def meter(self) -> str:
        return f"{self.beats_per_bar}/{self.beat_unit}"

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.bpm

    @property
    def bar_seconds(self) -> float:
        return self.beats_per_bar * self.beat_seconds

    def samples(self, bars: float, sample_rate: int) -> int:
        """Length of `bars` bars in samples, rounded once (so N bars are exactly this many samples)."""
        return int(round(bars * self.bar_seconds * sample_rate))


def check_bars(bars) -> int:
    if not isinstance(bars, int) or isinstance(bars, bool) or not 1 <= bars <= 256:
        raise ConfigError(f"bars must be a whole number from 1 to 256, got {bars!r}")
    return bars


def mono(wav: torch.Tensor | np.ndarray) -> np.ndarray:
    """[C, T] / [T] audio -> float64 mono [T]."""
    x = wav.detach().cpu().double().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav, np.float64)
    return x.mean(axis=0) if x.ndim == 2 else x


def _frames(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    hop = max(1, int(round(sample_rate / ENVELOPE_RATE)))
    n_fft = 1 << int(math.ceil(math.log2(max(64, 2 * hop))))
    x = np.pad(x, (n_fft // 2, n_fft // 2))  # frame j is centred on sample j * hop
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    count = 1 + (x.size - n_fft) // hop
    idx = np.arange(n_fft)[None] + hop * np.arange(count)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft), axis=1))
    return spec, n_fft


def onset_envelope(wav, sample_rate: int, low_only: bool = False) -> np.ndarray:
    """Half-wave-rectified log-spectral flux at ENVELOPE_RATE frames/s (`low_only`: below 200 Hz)."""
    spec, n_fft = _frames(mono(wav), sample_rate)
    if low_only:
        spec = spec[:, : max(2, int(200 * n_fft / sample_rate))]
    logs = np.log1p(1000.0 * spec)
    flux = np.maximum(0.0, np.diff(logs, axis=0)).sum(axis=1)
    env = np.concatenate([[0.0], flux])
    return env - np.convolve(env, np.ones(17) / 17, mode="same")  # remove the slow trend


def estimate_tempo(wav, sample_rate: int, prior_bpm: float = 120.0) -> float:
    """The clip's tempo in bpm (0.0 when no beat is found, e.g. silence)."""
    env = np.maximum(onset_envelope(wav, sample_rate), 0.0)
    if env.size < 16 or not np.any(env > 0):
        return 0.0
    env = env - env.mean()
    ac = np.correlate(env, env, mode="full")[env.size - 1:]
    lags = np.arange(ac.size, dtype=np.float64)
    valid = (lags >= 60 * ENVELOPE_RATE / MAX_BPM) & (lags <= 60 * ENVELOPE_RATE / MIN_BPM) & (lags < env.size / 2)
    if not np.any(valid):
        return 0.0
    bpm_of = np.where(lags > 0, 60 * ENVELOPE_RATE / np.maximum(lags, 1e-9), 0)
    prior = np.exp(-0.5 * (np.log2(np.maximum(bpm_of, 1e-9) / prior_bpm) / 1.0) ** 2)
    score = np.where(valid, ac / (env.size - lags + 1e-9) * prior, -np.inf)
    k = int(np.argmax(score))
    if not np.isfinite(score[k]) or score[k] <= 0:
        return 0.0
    shift = 0.0
    if 0 < k < ac.size - 1:  # parabolic refinement of the peak lag
        a, b, c = ac[k - 1], ac[k], ac[k + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    bpm = float(60 * ENVELOPE_RATE / (k + shift))
    # music is nearly always made at a whole bpm: snap within 0.2 % (a finer estimate is false precision)
    return float(round(bpm)) if abs(bpm - round(bpm)) <= 0.002 * bpm else bpm


def beat_phase(wav, sample_rate: int, bpm: float, beats_per_bar: int = 4) -> float:
    """Seconds from the clip start to its first downbeat at `bpm` (in [0, one bar))."""
    env = np.maximum(onset_envelope(wav, sample_rate), 0.0)
    low = np.maximum(onset_envelope(wav, sample_rate, low_only=True), 0.0)
    beat = 60.0 * ENVELOPE_RATE / bpm

    def comb(e: np.ndarray, offset: float, step: float) -> float:
        pos = np.arange(offset, e.size - 1 - 0.1 * ENVELOPE_RATE, step)  # not the last 0.1 s (cut off)
        return float(np.interp(pos, np.arange(e.size), e).mean()) if pos.size else 0.0

    offsets = np.arange(0.0, beat, 0.5)
    best = offsets[int(np.argmax([comb(env, o, beat) for o in offsets]))]
    bar_offsets = [best + i * beat for i in range(beats_per_bar)]
    accent = low / max(low.max(), 1e-9) + 0.25 * env / max(env.max(), 1e-9)  # kick drums weigh most
    down = bar_offsets[int(np.argmax([comb(accent, o, beat * beats_per_bar) for o in bar_offsets]))]
    return float(down / ENVELOPE_RATE)


def nearest_zero_crossing(x: np.ndarray, pos: int, radius: int) -> int:
    """The index i nearest `pos` (within `radius`) where x rises through zero (x[i-1] < 0 <= x[i]); `pos`
    when there is none."""
    lo, hi = max(1, pos - radius), min(x.size - 1, pos + radius)
    if hi <= lo:
        return pos
    seg = np.arange(lo, hi + 1)
    hits = seg[(x[seg - 1] < 0) & (x[seg] >= 0)]
    return int(hits[np.argmin(np.abs(hits - pos))]) if hits.size else pos


def crossfade(out_part: torch.Tensor, in_part: torch.Tensor, from_start: bool = True) -> torch.Tensor:
    """Blend [C, n] `out_part` (fading out) into `in_part` (fading in) with a constant-power law.

    Equal power (g_out = cos, g_in = sin) keeps the level of uncorrelated material; for correlated material
    (two decodings of the same tokens) it gives a +3 dB bump, where equal gain is right. So the gains are
    sin/cos scaled by 1 / sqrt(1 + 2 rho sin cos), rho = the parts' correlation clamped to [0, 1]: equal power
    at rho = 0, equal gain at rho = 1, constant power in between. `from_start`: t runs 0..(n-1)/n (the
    first sample is all `out_part`), else 1/n..1 (the last sample is all `in_part`)."""
    n = out_part.shape[-1]
    if n == 0:
        return in_part.clone()
    a, b = out_part.double(), in_part.double()
    denom = float(torch.sqrt((a * a).sum() * (b * b).sum()))
    rho = min(1.0, max(0.0, float((a * b).sum()) / denom)) if denom > 0 else 0.0
    t = torch.arange(n, dtype=torch.float64) / n + (0.0 if from_start else 1.0 / n)
    g_out, g_in = torch.cos(0.5 * math.pi * t), torch.sin(0.5 * math.pi * t)
    norm = torch.sqrt(1.0 + 2.0 * rho * g_out * g_in)
    return ((a * g_out + b * g_in) / norm).to(out_part.dtype)


def estimate_key(wav, sample_rate: int) -> str:
    """"C major", "A minor", ... by Krumhansl-Schmuckler on the mean chroma ("unknown" for silence)."""
    from ..conditioning.chroma import ChromaExtractor

    x = torch.as_tensor(mono(wav), dtype=torch.float32)[None]
    if x.shape[-1] < 2048 or float(x.abs().max()) == 0.0:
        return "unknown"
    profile = ChromaExtractor(sample_rate=sample_rate, argmax=False)(x)[0].mean(0).double().numpy()
    if not np.isfinite(profile).all() or profile.std() == 0:
        return "unknown"
    best, name = -2.0, "unknown"
    for tonic in range(12):
        for mode, ref in (("major", _MAJOR), ("minor", _MINOR)):
            r = float(np.corrcoef(profile, np.roll(ref, tonic))[0, 1])
            if r > best:
                best, name = r, f"{KEYS[tonic]} {mode}"
    return name


# --- seam measures ----------------------------------------------------------------------------------------

_SEAM_WINDOW_S = 0.032  # spectra compared on either side of a boundary
_JUMP_CONTEXT_S = 0.010  # typical sample-to-sample step measured around a boundary


def boundary_measures(x: np.ndarray, pos: int, sample_rate: int) -> tuple[float, float]:
    """(spectral flux, waveform jump) across sample boundary `pos` of circular mono audio `x`.

    flux: RMS distance of the log-magnitude spectra of the `_SEAM_WINDOW_S` before and after `pos`;
    jump: the largest |second difference| touching the boundary over the median |second difference| in the
    10 ms around it. A click is a break in the slope, far above the local curvature; a smooth zero crossing
    (steep but straight) is not."""
    n = int(round(_SEAM_WINDOW_S * sample_rate))
    r = np.roll(x, -(pos - 2 * n))  # pos now at index 2n, the neighbourhood contiguous across the wrap
    window = np.hanning(n)
    before = np.log1p(1000 * np.abs(np.fft.rfft(r[n:2 * n] * window)))
    after = np.log1p(1000 * np.abs(np.fft.rfft(r[2 * n:3 * n] * window)))
    flux = float(np.sqrt(np.mean((after - before) ** 2)))
    c = max(4, int(round(_JUMP_CONTEXT_S * sample_rate)))
    seg = r[2 * n - c - 1: 2 * n + c + 1]
    d2 = np.abs(seg[2:] - 2 * seg[1:-1] + seg[:-2])  # d2[j] centred on seg[j + 1]; the boundary is seg[c+1]
    at = d2[c - 1:c + 1]  # centred on x[pos-1] and x[pos]: both straddle the boundary
    typical = float(np.median(np.delete(d2, [c - 1, c]))) + 1e-9
    return flux, float(at.max() / typical)


def seam_report(loop, sample_rate: int, bars: int, beats_per_bar: int = 4) -> dict:
    """The seam (end -> start) against the boundaries inside a loop of `bars` equal bars.

    `within_bars`: the seam's flux and jump are both no larger than the largest at an interior bar line (a
    seamless loop scores like a bar line inside the music); `within_beats`: the same against every interior
    beat line (a larger sample: 15 lines in 4 bars of 4/4). `score`: the larger ratio seam / that maximum,
    over the beat lines (<= 1: within)."""
    x = mono(loop)
    if bars * beats_per_bar < 2:
        raise ConfigError("a seam report needs at least 2 beats (interior lines to compare with)")
    seam = boundary_measures(x, 0, sample_rate)
    lines = bars * beats_per_bar
    inner = {i: boundary_measures(x, int(round(i * x.size / lines)), sample_rate) for i in range(1, lines)}

    def ratio(keys) -> float:
        if not keys:
            return math.inf
        max_flux, max_jump = max(inner[k][0] for k in keys), max(inner[k][1] for k in keys)
        return max(seam[0] / max(max_flux, 1e-9), seam[1] / max(max_jump, 1e-9))

    bar_keys = [k for k in inner if k % beats_per_bar == 0]
    score, bar_score = ratio(list(inner)), ratio(bar_keys)
    return {"seam_flux": seam[0], "seam_jump": seam[1], "interior_flux": [inner[k][0] for k in bar_keys],
            "interior_jump": [inner[k][1] for k in bar_keys], "score": score, "bar_score": bar_score,
            "within_beats": bool(score <= 1.0), "within_bars": bool(bar_score <= 1.0)}
