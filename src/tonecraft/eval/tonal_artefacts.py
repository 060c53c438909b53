"""Stationary tonal artefacts of a codec (issue 18): spectral peaks in the decoded audio that the input lacks.

A small codec trained briefly tends to add fixed tones (the "stripes" at a few kHz in every decoded clip, a hum
over silence). They are measured on the long-term average spectrum (Welch: Hann, n_fft 4096, hop 1024):
- a *peak* is a local maximum that stands `min_prominence_db` (10 dB) above the median of the spectrum around
  it (41 bins, ~320 Hz at 32 kHz) and lies within `FLOOR_DB` (40 dB) of the spectrum's maximum (quieter lines
  are masked by the rest of the sound);
- an *artefact* is a peak of the decoded audio where the input has no peak of its own (its prominence within
  +-2 bins stays under 3 dB). For a silent input every peak counts, and its level in dBFS says how loud it is;
- *stationary* artefacts are frequencies found in at least half of the clips: the same tone whatever goes in.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch

N_FFT = 4096
HOP = 1024
MEDIAN_BINS = 41
MIN_PROMINENCE_DB = 10.0
INPUT_PEAK_DB = 3.0
FLOOR_DB = 40.0


def average_spectrum_db(x: np.ndarray) -> np.ndarray:
    """Long-term average power spectrum in dB (re full scale) of a mono signal [T]: [N_FFT // 2 + 1]."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.numel() < N_FFT:
        t = torch.nn.functional.pad(t, (0, N_FFT - t.numel()))
    window = torch.hann_window(N_FFT)
    spec = torch.stft(t, N_FFT, HOP, window=window, center=False, return_complex=True).abs() ** 2
    power = spec.mean(dim=-1).double().numpy() / (window.sum().item() ** 2 / 4)  # a full-scale sine -> ~0 dB
    return 10 * np.log10(power + 1e-20)


def prominence_db(db: np.ndarray) -> np.ndarray:
    """How far each bin stands above the running median of the spectrum around it."""
    half = MEDIAN_BINS // 2
    padded = np.pad(db, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, MEDIAN_BINS)
    return db - np.median(windows, axis=-1)


def spectral_peaks(db: np.ndarray) -> np.ndarray:
    """Bin indices of the prominent local maxima (DC and the lowest 2 bins excluded)."""
    prom = prominence_db(db)
    local_max = np.zeros(db.shape, dtype=bool)
    local_max[1:-1] = (db[1:-1] > db[:-2]) & (db[1:-1] >= db[2:])
    local_max[:3] = False
    return np.flatnonzero(local_max & (prom >= MIN_PROMINENCE_DB) & (db >= db.max() - FLOOR_DB))


def artefact_peaks(x: np.ndarray, y: np.ndarray, sample_rate: int) -> list[dict]:
    """The peaks of decoded `y` that input `x` lacks: [{"hz", "prominence_db", "level_dbfs"}], loudest first."""
    dy = average_spectrum_db(y)
    peaks = spectral_peaks(dy)
    silent = not np.any(np.asarray(x) != 0)
    px = prominence_db(average_spectrum_db(x)) if not silent else None
    prom_y = prominence_db(dy)
    out = []
    for k in peaks:
        if px is not None and px[max(0, k - 2): k + 3].max() >= INPUT_PEAK_DB:
            continue  # the input has this tone
        out.append({"hz": float(k * sample_rate / N_FFT), "prominence_db": float(prom_y[k]),
                    "level_dbfs": float(dy[k]), "below_max_db": float(dy.max() - dy[k])})
    return sorted(out, key=lambda p: -p["level_dbfs"])


def stationary_tones(per_clip: list[list[dict]], min_share: float = 0.5, tolerance_hz: float = 20.0) -> list[dict]:
    """Frequencies (rounded to `tolerance_hz`) among the artefacts of at least `min_share` of the clips."""
    if not per_clip:
        return []
    counts: Counter = Counter()
    for peaks in per_clip:
        counts.update({round(p["hz"] / tolerance_hz) for p in peaks})
    n = len(per_clip)
    return [{"hz": float(b * tolerance_hz), "share": c / n} for b, c in sorted(counts.items())
            if c / n >= min_share]


def summarize_clips(per_clip: list[list[dict]]) -> dict:
    """Artefact peaks per clip (median, mean, share of clips with any), how far the loudest one of a clip sits
    below the clip's spectral maximum (median over clips with any), and the stationary tones."""
    counts = np.array([len(p) for p in per_clip], dtype=np.float64)
    below = [min(q["below_max_db"] for q in p) for p in per_clip if p]
    return {"n_clips": len(per_clip),
            "median_loudest_below_max_db": float(np.median(below)) if below else None,
            "median_peaks": float(np.median(counts)) if counts.size else None,
            "mean_peaks": float(counts.mean()) if counts.size else None,
            "share_with_artefacts": float(np.mean(counts > 0)) if counts.size else None,
            "stationary": stationary_tones(per_clip)}
