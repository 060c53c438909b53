"""Multi-scale STFT discriminator (EnCodec / audiocraft `adversarial/discriminators/msstftd.py`).

Each sub-discriminator takes the complex STFT (hann window, `center=False`, window-normalised like
torchaudio `Spectrogram(normalized=True)`), stacks [real, imag] as channels laid out
[B, 2C, frames, freq], and applies weight-normed Conv2d layers: (3, 9) -> 3 x (3, 9) with stride
(1, 2) and time dilations 1, 2, 4 -> (3, 3) -> post (3, 3) to one logit map, LeakyReLU in between.
Feature maps are collected after every activation (for feature matching).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


@dataclass
class DiscriminatorConfig:
    filters: int = 32
    max_filters: int = 1024
    filters_scale: int = 1
    n_ffts: list[int] = field(default_factory=lambda: [1024, 2048, 512, 256, 128])
    hop_lengths: list[int] = field(default_factory=lambda: [256, 512, 128, 64, 32])
    win_lengths: list[int] = field(default_factory=lambda: [1024, 2048, 512, 256, 128])
    negative_slope: float = 0.2
    dilations: list[int] = field(default_factory=lambda: [1, 2, 4])


def _pad2d(kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return ((kernel[0] - 1) * dilation[0] // 2, (kernel[1] - 1) * dilation[1] // 2)


class DiscriminatorSTFT(nn.Module):
    def __init__(self, n_fft: int, hop_length: int, win_length: int, in_channels: int = 1, filters: int = 32,
                 max_filters: int = 1024, filters_scale: int = 1, kernel_size: tuple[int, int] = (3, 9),
                 dilations: list[int] = (1, 2, 4), stride: tuple[int, int] = (1, 2), negative_slope: float = 0.2):
        super().__init__()
        self.n_fft, self.hop, self.win = n_fft, hop_length, win_length
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.act = nn.LeakyReLU(negative_slope)
        convs = [weight_norm(nn.Conv2d(2 * in_channels, filters, kernel_size, padding=_pad2d(kernel_size)))]
        in_chs = min(filters_scale * filters, max_filters)
        for i, d in enumerate(dilations):
            out_chs = min(filters_scale ** (i + 1) * filters, max_filters)
            convs.append(weight_norm(nn.Conv2d(in_chs, out_chs, kernel_size, stride, dilation=(d, 1),
                                               padding=_pad2d(kernel_size, (d, 1)))))
            in_chs = out_chs
        out_chs = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        k = (kernel_size[0], kernel_size[0])
        convs.append(weight_norm(nn.Conv2d(in_chs, out_chs, k, padding=_pad2d(k))))
        self.convs = nn.ModuleList(convs)
        self.conv_post = weight_norm(nn.Conv2d(out_chs, 1, k, padding=_pad2d(k)))

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T = x.shape
        spec = torch.stft(x.reshape(B * C, T).float(), self.n_fft, self.hop, self.win, window=self.window,
                          center=False, return_complex=True)
        spec = spec / self.window.pow(2).sum().sqrt()
        spec = spec.reshape(B, C, *spec.shape[-2:])  # [B, C, freq, frames]
        z = torch.cat([spec.real, spec.imag], dim=1)
        return z.transpose(2, 3)  # [B, 2C, frames, freq]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        z = self.spectrogram(x)
        fmaps = []
        for conv in self.convs:
            z = self.act(conv(z))
            fmaps.append(z)
        return self.conv_post(z), fmaps


class MultiScaleSTFTDiscriminator(nn.Module):
    def __init__(self, cfg: DiscriminatorConfig | None = None, in_channels: int = 1):
        super().__init__()
        cfg = cfg or DiscriminatorConfig()
        if not len(cfg.n_ffts) == len(cfg.hop_lengths) == len(cfg.win_lengths):
            from ..errors import ConfigError

            raise ConfigError("discriminator n_ffts, hop_lengths and win_lengths need the same length")
        self.discriminators = nn.ModuleList([
            DiscriminatorSTFT(n, h, w, in_channels, cfg.filters, cfg.max_filters, cfg.filters_scale,
                              dilations=list(cfg.dilations), negative_slope=cfg.negative_slope)
            for n, h, w in zip(cfg.n_ffts, cfg.hop_lengths, cfg.win_lengths)])

    @property
    def min_length(self) -> int:
        return max(d.win for d in self.discriminators)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        logits, fmaps = [], []
        for d in self.discriminators:
            lg, fm = d(x)
            logits.append(lg)
            fmaps.append(fm)
        return logits, fmaps


# -- adversarial losses (hinge) and feature matching --------------------------------------------------------------

def discriminator_hinge_loss(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """mean over sub-discriminators of mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))."""
    loss = sum(torch.relu(1 - r).mean() + torch.relu(1 + f).mean() for r, f in zip(real_logits, fake_logits))
    return loss / len(real_logits)


def generator_hinge_loss(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    return sum(-f.mean() for f in fake_logits) / len(fake_logits)


def feature_matching_loss(real_fmaps: list[list[torch.Tensor]], fake_fmaps: list[list[torch.Tensor]]
                          ) -> torch.Tensor:
    """L1 between feature maps, summed over layers / number of maps, averaged over sub-discriminators."""
    total, n = 0.0, 0
    for rs, fs in zip(real_fmaps, fake_fmaps):
        for r, f in zip(rs, fs):
            total = total + torch.nn.functional.l1_loss(f, r.detach())
            n += 1
    return total / max(n, 1)
