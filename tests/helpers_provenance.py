"""Synthetic clips for the watermark tests (no corpus needed): music-like notes, sound effects, noise."""
import numpy as np
import torch


def music(seconds: float = 6.0, sr: int = 32000, seed: int = 0) -> torch.Tensor:
    """Notes with harmonics and decaying envelopes over a soft noise bed, [1, T]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    out = 0.003 * rng.standard_normal(t.size)
    note = 0.25
    for start in np.arange(0, seconds, note):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        m = (t >= start) & (t < start + 3 * note)
        tt = t[m] - start
        env = np.exp(-tt * 4)
        out[m] += sum(0.15 / k * np.sin(2 * np.pi * k * f0 * tt) for k in range(1, 8)) * env
    return torch.from_numpy(out / np.abs(out).max() * 0.8).float()[None]


def sfx(seconds: float = 4.0, sr: int = 32000, seed: int = 1) -> torch.Tensor:
    """Filtered noise bursts with silence between them (footsteps / impacts), [1, T]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n)
    for start in range(0, n - sr // 4, sr // 3):
        burst = rng.standard_normal(sr // 5) * np.exp(-np.arange(sr // 5) / (sr * 0.04))
        out[start:start + burst.size] += np.convolve(burst, np.ones(8) / 8, mode="same")
    return torch.from_numpy(out / np.abs(out).max() * 0.7).float()[None]


def noise(seconds: float = 5.0, sr: int = 32000, seed: int = 2) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(int(seconds * sr)) * 0.2).float()[None]


def snr_db(clean: torch.Tensor, marked: torch.Tensor) -> float:
    return 10 * np.log10(clean.double().pow(2).mean().item() / (marked - clean).double().pow(2).mean().item())
