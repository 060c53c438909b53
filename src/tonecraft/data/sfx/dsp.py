"""Signal helpers shared by the recorded and procedural sources (numpy + scipy.signal, deterministic)."""
from __future__ import annotations

import random

import numpy as np
from scipy import signal

SAMPLE_RATE = 16000
PEAK = 0.89  # the music corpus's ceiling
SILENCE_DB = -60.0


def np_rng(r: random.Random) -> np.random.Generator:
    """A numpy generator drawn from a clip's `random.Random`, so a clip's noise follows its seed."""
    return np.random.default_rng(r.getrandbits(63))


def db(x: float) -> float:
    return 20.0 * np.log10(max(float(x), 1e-12))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def to_mono(x: np.ndarray) -> np.ndarray:
    """[T] or [T, C] -> float32 [T] (channel mean)."""
    x = np.asarray(x, dtype=np.float32)
    return x.mean(axis=1).astype(np.float32) if x.ndim == 2 else x


def resample(x: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """soxr VHQ (the library tonecraft.audio uses); identical input gives identical output."""
    if from_rate == to_rate:
        return x.astype(np.float32)
    import soxr

    return soxr.resample(x.astype(np.float32), from_rate, to_rate, quality="VHQ").astype(np.float32)


def frame_db(x: np.ndarray, sr: int, frame_s: float = 0.01) -> np.ndarray:
    n = max(1, int(sr * frame_s))
    m = len(x) // n
    if m == 0:
        return np.array([db(rms(x))])
    e = np.sqrt(np.mean(np.square(x[: m * n].reshape(m, n), dtype=np.float64), axis=1))
    return 20.0 * np.log10(np.maximum(e, 1e-12))


def trim_silence(x: np.ndarray, sr: int, below_peak_db: float = 45.0, floor_db: float = SILENCE_DB,
                 keep_s: float = 0.02) -> np.ndarray:
    """Cut leading/trailing 10 ms frames quieter than max(peak frame - below_peak_db, floor_db)."""
    f = frame_db(x, sr)
    thr = max(float(f.max()) - below_peak_db, floor_db)
    loud = np.flatnonzero(f > thr)
    if len(loud) == 0:
        return x[:0]
    n = max(1, int(sr * 0.01))
    keep = int(keep_s * sr)
    a = max(0, loud[0] * n - keep)
    b = min(len(x), (loud[-1] + 1) * n + keep)
    return x[a:b]


def fade(x: np.ndarray, sr: int, fade_in_s: float = 0.002, fade_out_s: float = 0.01) -> np.ndarray:
    x = x.astype(np.float32, copy=True)
    n_in, n_out = min(len(x), int(fade_in_s * sr)), min(len(x), int(fade_out_s * sr))
    if n_in:
        x[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
    if n_out:
        x[-n_out:] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)
    return x


def split_long(x: np.ndarray, sr: int, max_s: float, min_s: float) -> list[np.ndarray]:
    """Cut into equal pieces of at most `max_s` (none shorter than `min_s` unless `x` itself is)."""
    n_max = int(max_s * sr)
    if len(x) <= n_max:
        return [x]
    k = int(np.ceil(len(x) / n_max))
    edges = np.linspace(0, len(x), k + 1).astype(int)
    parts = [x[a:b] for a, b in zip(edges[:-1], edges[1:])]
    return [p for p in parts if len(p) >= min_s * sr]


def normalize(x: np.ndarray, target_rms_db: float = -20.0, peak: float = PEAK) -> np.ndarray:
    """RMS to `target_rms_db` with the peak kept at or below `peak` (as the music corpus)."""
    r = rms(x)
    if r <= 0:
        return x.astype(np.float32)
    g = 10 ** (target_rms_db / 20.0) / r
    p = float(np.max(np.abs(x))) * g
    if p > peak:
        g *= peak / p
    return (x * g).astype(np.float32)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def lowpass(x: np.ndarray, hz: float, sr: int, order: int = 2) -> np.ndarray:
    hz = min(max(hz, 20.0), 0.45 * sr)
    sos = signal.butter(order, hz, "lowpass", fs=sr, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def highpass(x: np.ndarray, hz: float, sr: int, order: int = 2) -> np.ndarray:
    hz = min(max(hz, 10.0), 0.45 * sr)
    sos = signal.butter(order, hz, "highpass", fs=sr, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def bandpass(x: np.ndarray, lo: float, hi: float, sr: int, order: int = 2) -> np.ndarray:
    lo = max(lo, 10.0)
    hi = min(max(hi, lo * 1.05), 0.45 * sr)
    sos = signal.butter(order, [lo, hi], "bandpass", fs=sr, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def smooth_noise(rng: np.random.Generator, n: int, rate_hz: float, sr: int) -> np.ndarray:
    """A slow random control signal in [-1, 1]: noise at `rate_hz` points, cubic-interpolated."""
    k = max(4, int(n / sr * rate_hz) + 4)
    pts = rng.uniform(-1.0, 1.0, k)
    t = np.linspace(0, k - 3, n)
    i = np.floor(t).astype(int)
    f = t - i
    p0, p1, p2, p3 = pts[i], pts[i + 1], pts[i + 2], pts[np.minimum(i + 3, k - 1)]
    y = p1 + 0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)))
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def reverb(x: np.ndarray, sr: int, rng: np.random.Generator, seconds: float, wet: float) -> np.ndarray:
    """Convolution with exponentially decaying noise (a plain room tail); output keeps the input length
    plus the tail."""
    n = max(1, int(seconds * sr))
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir = lowpass(ir.astype(np.float32), 4000.0, sr)
    ir /= np.sqrt(np.sum(ir ** 2)) + 1e-9
    tail = signal.fftconvolve(np.concatenate([x, np.zeros(n, np.float32)]), ir)[: len(x) + n]
    dry = np.concatenate([x, np.zeros(n, np.float32)])
    return ((1 - wet) * dry + wet * tail * (rms(x) / (rms(tail) + 1e-9))).astype(np.float32)
