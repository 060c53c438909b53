"""Codec reconstruction losses and metrics (audiocraft `losses/specloss.py`, `sisnr.py` semantics).

- `MultiScaleMelLoss`: mel spectrograms at n_fft = 2^6 .. 2^10 (hop n_fft/4, window n_fft, 64 mels,
  f_min 64 Hz); per scale L1 on the linear mel + alpha * MSE on the log10 mel; averaged over scales.
- `mel_distance`: L1 between log mels at one scale (validation metric).
- `si_snr`: scale-invariant SNR in dB (higher is better); the loss is its negation.
No torchaudio: the HTK mel filterbank and the framing are implemented here.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _hz_to_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """HTK-scale triangular filters without area normalisation, [n_freqs, n_mels]
    (torchaudio `melscale_fbanks(..., norm=None, mel_scale='htk')`)."""
    f_max = f_max if f_max is not None else sample_rate / 2
    n_freqs = n_fft // 2 + 1
    all_freqs = torch.linspace(0, sample_rate / 2, n_freqs, dtype=torch.float64)
    m_pts = torch.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2, dtype=torch.float64)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0).float()


class MelSpectrogram(nn.Module):
    """[B, C, T] -> [B, C*n_mels, frames]; reflect-pads so frames = ceil(T / hop) (audiocraft wrapper)."""

    def __init__(self, sample_rate: int, n_fft: int, hop_length: int, n_mels: int = 64, f_min: float = 0.0,
                 f_max: float | None = None, log: bool = False, floor_level: float = 1e-5,
                 normalized: bool = False, power: float = 1.0):
        super().__init__()
        self.n_fft, self.hop, self.log, self.floor, self.normalized, self.power = (
            n_fft, hop_length, log, floor_level, normalized, power)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fbank", mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T = x.shape
        x = x.reshape(B * C, T).float()
        p = (self.n_fft - self.hop) // 2
        frames = math.ceil(T / self.hop)
        extra = max(0, (frames - 1) * self.hop + self.n_fft - (T + 2 * p))
        mode = "reflect" if T > p + extra else "constant"
        x = F.pad(x[:, None], (p, p + extra), mode=mode)[:, 0]
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, center=False,
                          normalized=self.normalized, return_complex=True).abs()
        if self.power != 1.0:
            spec = spec.pow(self.power)
        mel = torch.matmul(spec.transpose(1, 2), self.fbank).transpose(1, 2)  # [BC, n_mels, frames]
        if self.log:
            mel = torch.log10(mel.clamp(min=self.floor))
        return mel.reshape(B, C * mel.shape[1], mel.shape[2])


class MultiScaleMelLoss(nn.Module):
    def __init__(self, sample_rate: int, range_start: int = 6, range_end: int = 11, n_mels: int = 64,
                 f_min: float = 64.0, f_max: float | None = None, normalized: bool = False,
                 alphas: bool = False, floor_level: float = 1e-5):
        super().__init__()
        self.l1 = nn.ModuleList()
        self.l2 = nn.ModuleList()
        self.alphas = []
        for i in range(range_start, range_end):
            n_fft = 2 ** i
            kw = dict(sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels,
                      f_min=f_min, f_max=f_max, normalized=normalized, floor_level=floor_level)
            self.l1.append(MelSpectrogram(log=False, **kw))
            self.l2.append(MelSpectrogram(log=True, **kw))
            self.alphas.append(math.sqrt(2 ** i - 1) if alphas else 1.0)
        self.total = sum(1 + a for a in self.alphas)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = x.new_zeros((), dtype=torch.float32)
        for a, m1, m2 in zip(self.alphas, self.l1, self.l2):
            loss = loss + F.l1_loss(m1(x), m1(y)) + a * F.mse_loss(m2(x), m2(y))
        return loss / self.total


class MelDistance(nn.Module):
    """L1 distance between log10 mel spectrograms (n_fft 1024, hop 256, 64 mels): validation metric."""

    def __init__(self, sample_rate: int, n_fft: int = 1024, hop_length: int = 256, n_mels: int = 64):
        super().__init__()
        self.mel = MelSpectrogram(sample_rate, n_fft, hop_length, n_mels, log=True)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(self.mel(x), self.mel(y))


def si_snr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SNR in dB per item: [B, C, T] -> [B] (channels flattened, means removed)."""
    est = estimate.reshape(estimate.shape[0], -1).float()
    ref = reference.reshape(reference.shape[0], -1).float()
    est = est - est.mean(dim=1, keepdim=True)
    ref = ref - ref.mean(dim=1, keepdim=True)
    proj = (est * ref).sum(1, keepdim=True) * ref / (ref.pow(2).sum(1, keepdim=True) + eps)
    noise = est - proj
    ratio = proj.pow(2).sum(1) / (noise.pow(2).sum(1) + eps)
    return 10 * torch.log10(ratio + eps)


def si_snr_loss(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return -si_snr(estimate, reference).mean()
