"""Probe features of a clip, independent of any model: what the instrument/tempo classifier sees.

All audio is brought to 32 kHz mono and RMS-normalised to -20 dBFS (the corpus level) first, so the probe
ignores loudness. Features (one float32 vector per clip):

- TIMBRE (192, used by the instrument-family probe): log10 mel spectrogram (64 bands, n_fft 2048, hop 512;
  `train.losses.MelSpectrogram`), per band the mean and standard deviation over time and the mean absolute
  frame-to-frame change;
- RHYTHM (101, used by the tempo-bucket probe): librosa onset strength (hop 512) mean, std, share of frames
  above mean + std, log onset rate (librosa onset_detect per second), log2(beat-tracking tempo / 120); the
  librosa tempogram averaged over time and the global autocorrelation of the onset strength, both read at
  48 log-spaced tempi from 40 to 320 bpm.
Each probe sees one block only: with both, the CV accuracy on the corpus was lower for either task.

`librosa` is needed for the onset and tempo parts (it is installed in the dev venv; not a core dependency).
"""
from __future__ import annotations

import numpy as np
import torch

from ..audio import resample

SAMPLE_RATE = 32_000
HOP = 512
N_MELS = 64
TEMPO_GRID = np.geomspace(40.0, 320.0, 48)
TARGET_RMS = 10 ** (-20 / 20)

_MEL = None


def prepare(wav, sample_rate: int, seconds: float | None = None) -> np.ndarray:
    """Any [T] / [C, T] / [1, C, T] audio -> float32 mono [T] at 32 kHz, cropped to `seconds`, RMS -20 dBFS."""
    x = torch.as_tensor(np.asarray(wav) if not isinstance(wav, torch.Tensor) else wav).detach().float().cpu()
    while x.dim() > 2:
        x = x[0]
    if x.dim() == 2:
        x = x.mean(0)
    x = resample(x[None], int(sample_rate), SAMPLE_RATE)[0] if int(sample_rate) != SAMPLE_RATE else x
    if seconds is not None:
        x = x[: int(round(seconds * SAMPLE_RATE))]
    y = x.numpy().astype(np.float32, copy=True)
    y = np.nan_to_num(y)
    rms = float(np.sqrt(np.mean(y ** 2))) if y.size else 0.0
    if rms > 1e-6:
        y *= TARGET_RMS / rms
    return y


def log_mel(y: np.ndarray) -> np.ndarray:
    global _MEL
    from ..train.losses import MelSpectrogram

    if _MEL is None:
        _MEL = MelSpectrogram(SAMPLE_RATE, n_fft=2048, hop_length=HOP, n_mels=N_MELS, log=True)
    with torch.no_grad():
        return _MEL(torch.from_numpy(y)[None, None]).numpy()[0]  # [64, frames]


def onset_envelope(y: np.ndarray) -> np.ndarray:
    import librosa

    return librosa.onset.onset_strength(y=y, sr=SAMPLE_RATE, hop_length=HOP)


def tempogram_profile(env: np.ndarray) -> np.ndarray:
    """Mean autocorrelation tempogram read at `TEMPO_GRID` bpm (linear interpolation over lags)."""
    import librosa

    win = 384
    if env.size < 4 or not np.any(env > 0):
        return np.zeros(len(TEMPO_GRID), dtype=np.float32)
    tg = librosa.feature.tempogram(onset_envelope=env, sr=SAMPLE_RATE, hop_length=HOP, win_length=win)
    prof = np.nan_to_num(tg.mean(axis=1))
    lags = 60.0 * SAMPLE_RATE / HOP / TEMPO_GRID  # frames per beat
    return np.interp(lags, np.arange(len(prof)), prof).astype(np.float32)


def autocorr_profile(env: np.ndarray) -> np.ndarray:
    """Global autocorrelation of the onset strength read at `TEMPO_GRID` bpm (lag 0 = 1)."""
    e = env - env.mean()
    if e.size < 4 or not np.any(e):
        return np.zeros(len(TEMPO_GRID), dtype=np.float32)
    n = 1 << int(np.ceil(np.log2(2 * e.size)))
    a = np.fft.irfft(np.abs(np.fft.rfft(e, n)) ** 2, n)[: e.size]
    a = a / (a[0] + 1e-9)
    lags = 60.0 * SAMPLE_RATE / HOP / TEMPO_GRID
    return np.interp(lags, np.arange(a.size), a).astype(np.float32)


def probe_features(wav, sample_rate: int, seconds: float | None = None) -> np.ndarray:
    return probe_features_and_bpm(wav, sample_rate, seconds)[0]


def probe_features_and_bpm(wav, sample_rate: int, seconds: float | None = None) -> tuple[np.ndarray, float]:
    """(features, librosa beat-tracking bpm) from one pass over the clip: [TIMBRE block | RHYTHM block]."""
    import librosa

    from .tempo import estimate_bpm

    y = prepare(wav, sample_rate, seconds)
    if y.size < HOP * 4:
        raise ValueError(f"clip too short for probe features ({y.size} samples at {SAMPLE_RATE} Hz)")
    m = log_mel(y)
    timbre = [m.mean(1), m.std(1), np.abs(np.diff(m, axis=1)).mean(1)]
    env = onset_envelope(y)
    mu, sd = float(env.mean()), float(env.std())
    peaks = librosa.onset.onset_detect(onset_envelope=env, sr=SAMPLE_RATE, hop_length=HOP) if sd > 0 else []
    rate = len(peaks) / (env.size * HOP / SAMPLE_RATE)
    bpm = estimate_bpm(env=env)
    stats = np.array([mu, sd, float((env > mu + sd).mean()), np.log(rate + 0.5),
                      np.log2(bpm / 120.0) if bpm > 0 else 0.0], dtype=np.float32)
    feats = np.concatenate([*timbre, stats, tempogram_profile(env), autocorr_profile(env)]).astype(np.float32)
    return np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0), bpm


FEATURE_DIM = 3 * N_MELS + 5 + 2 * len(TEMPO_GRID)
TIMBRE = slice(0, 3 * N_MELS)          # what the instrument-family probe sees
RHYTHM = slice(3 * N_MELS, FEATURE_DIM)  # what the tempo-bucket probe sees
TASK_FEATURES = {"family": TIMBRE, "tempo": RHYTHM}
