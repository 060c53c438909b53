"""Residual vector quantiser (RVQ) with EMA codebooks, as in EnCodec / SoundStream.

Buffer names (`vq.layers.{q}._codebook.{inited,cluster_size,embed,embed_avg}`) match the original
checkpoints. Training: k-means init on the first batch, EMA codebook updates (decay), dead-code
replacement, commitment loss and a straight-through estimator on the summed output. Inference: one
matmul per codebook (`argmax(2 x.e - ||e||^2)`), no [N, K, D] temporaries.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


def bandwidth_per_codebook(frame_rate: float, bins: int) -> float:
    """kbps carried by one codebook: log2(bins) bits per frame."""
    return math.log2(bins) * frame_rate / 1000


def n_q_for_bandwidth(bandwidth: float | None, frame_rate: float, bins: int, max_n_q: int) -> int:
    """Number of codebooks for a target bandwidth in kbps (all of them when None or <= 0)."""
    if bandwidth is None or bandwidth <= 0:
        return max_n_q
    n_q = math.floor(bandwidth / bandwidth_per_codebook(frame_rate, bins) + 1e-6)
    return max(1, min(max_n_q, n_q))


def bandwidth_for_n_q(n_q: int, frame_rate: float, bins: int) -> float:
    return n_q * bandwidth_per_codebook(frame_rate, bins)


def _broadcast(*tensors: torch.Tensor) -> None:
    """Keep codebooks identical across data-parallel workers after a data-dependent change."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        for t in tensors:
            torch.distributed.broadcast(t, 0)


def _nearest(x: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codeword for each row of x [N, D]: argmax(2 x.e - ||e||^2)."""
    e_sq = embed.pow(2).sum(1)
    return torch.addmm(e_sq, x, embed.t(), beta=-1, alpha=2).argmax(dim=1)


def _sample_rows(x: torch.Tensor, n: int) -> torch.Tensor:
    if x.shape[0] >= n:
        idx = torch.randperm(x.shape[0], device=x.device)[:n]
    else:
        idx = torch.randint(0, x.shape[0], (n,), device=x.device)
    return x[idx]


def kmeans(x: torch.Tensor, n_clusters: int, n_iters: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain Lloyd k-means on rows of x; returns (means [K, D], cluster sizes [K])."""
    means = _sample_rows(x, n_clusters)
    counts = torch.zeros(n_clusters, device=x.device, dtype=x.dtype)
    for _ in range(n_iters):
        idx = _nearest(x, means)
        counts = torch.bincount(idx, minlength=n_clusters).to(x.dtype)
        sums = torch.zeros_like(means).index_add_(0, idx, x)
        empty = counts == 0
        means = torch.where(empty[:, None], means, sums / counts.clamp(min=1)[:, None])
    return means, counts


class EuclideanCodebook(nn.Module):
    """One codebook of `codebook_size` vectors, updated by exponential moving averages."""

    def __init__(self, dim: int, codebook_size: int, kmeans_init: bool = True, kmeans_iters: int = 50,
                 decay: float = 0.99, epsilon: float = 1e-5, threshold_ema_dead_code: float = 2.0):
        super().__init__()
        self.codebook_size = codebook_size
        self.decay, self.epsilon = decay, epsilon
        self.kmeans_iters = kmeans_iters
        self.threshold_ema_dead_code = threshold_ema_dead_code
        embed = torch.zeros(codebook_size, dim)
        if not kmeans_init:
            nn.init.kaiming_uniform_(embed)
        self.register_buffer("inited", torch.tensor([float(not kmeans_init)]))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return _nearest(x, self.embed)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return F.embedding(codes, self.embed)

    @torch.no_grad()
    def _init_kmeans(self, x: torch.Tensor) -> None:
        means, counts = kmeans(x, self.codebook_size, self.kmeans_iters)
        self.embed.copy_(means)
        self.embed_avg.copy_(means)
        self.cluster_size.copy_(counts)
        self.inited.fill_(1.0)
        _broadcast(self.embed, self.embed_avg, self.cluster_size, self.inited)

    @torch.no_grad()
    def _expire_codes(self, x: torch.Tensor) -> None:
        if self.threshold_ema_dead_code <= 0:
            return
        dead = self.cluster_size < self.threshold_ema_dead_code
        if not bool(dead.any()):
            return
        # Unlike encodec/audiocraft (which only overwrite `embed`, undone by the EMA step that follows),
        # also reset the EMA statistics so the replacement survives.
        mask = dead[:, None]
        samples = _sample_rows(x, self.codebook_size)
        self.embed.copy_(torch.where(mask, samples, self.embed))
        self.embed_avg.copy_(torch.where(mask, samples * self.threshold_ema_dead_code, self.embed_avg))
        self.cluster_size.masked_fill_(dead, self.threshold_ema_dead_code)
        _broadcast(self.embed, self.embed_avg, self.cluster_size)

    @torch.no_grad()
    def _ema_update(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        counts = torch.bincount(codes, minlength=self.codebook_size).to(x.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, codes, x)
        self.cluster_size.lerp_(counts, 1 - self.decay)
        self.embed_avg.lerp_(sums, 1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (n + self.codebook_size * self.epsilon) * n
        self.embed.copy_(self.embed_avg / smoothed[:, None])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantise rows of x [N, D]; in training mode also update the codebook from x."""
        x = x.detach()
        if self.training and not bool(self.inited.item()):
            self._init_kmeans(x)
        codes = self.encode(x)
        quantized = self.decode(codes)  # with the codebook before this step's update
        if self.training:
            self._expire_codes(x)
            self._ema_update(x, codes)
        return quantized, codes


class VectorQuantizer(nn.Module):
    """One RVQ stage; the codebook is stored as `_codebook` like in the original checkpoints."""

    def __init__(self, dim: int, codebook_size: int, **codebook_kwargs):
        super().__init__()
        self._codebook = EuclideanCodebook(dim, codebook_size, **codebook_kwargs)

    @property
    def codebook(self) -> torch.Tensor:
        return self._codebook.embed


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor   # [B, D, T], straight-through in training
    codes: torch.Tensor       # [B, K, T] int64
    penalty: torch.Tensor     # commitment loss (0 in eval mode)
    n_q: int


class ResidualVectorQuantizer(nn.Module):
    """Stack of `n_q` vector quantisers, each coding the residual of the previous ones."""

    def __init__(self, dimension: int = 128, n_q: int = 8, bins: int = 1024, decay: float = 0.99,
                 kmeans_init: bool = True, kmeans_iters: int = 50, threshold_ema_dead_code: float = 2.0,
                 q_dropout: bool = False, commitment_weight: float = 1.0):
        super().__init__()
        self.dimension, self.n_q, self.bins = dimension, n_q, bins
        self.q_dropout = q_dropout
        self.commitment_weight = commitment_weight
        # `vq.layers` keeps the original state-dict names (quantizer.vq.layers.{q}._codebook.*)
        self.vq = nn.Module()
        self.vq.layers = nn.ModuleList(
            VectorQuantizer(dimension, bins, kmeans_init=kmeans_init, kmeans_iters=kmeans_iters, decay=decay,
                            threshold_ema_dead_code=threshold_ema_dead_code) for _ in range(n_q))

    @property
    def layers(self) -> nn.ModuleList:
        return self.vq.layers

    def _check_n_q(self, n_q: int | None) -> int:
        n_q = self.n_q if n_q is None else n_q
        if not 1 <= n_q <= self.n_q:
            raise ValueError(f"n_q must be in [1, {self.n_q}], got {n_q}")
        return n_q

    def encode(self, x: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Latent [B, D, T] -> codes [B, n_q, T] (int64)."""
        n_q = self._check_n_q(n_q)
        B, D, T = x.shape
        residual = x.transpose(1, 2).reshape(B * T, D).clone()  # own copy, updated in place
        codes = x.new_empty((n_q, B * T), dtype=torch.long)
        for q, layer in enumerate(self.layers[:n_q]):
            cb = layer._codebook
            idx = cb.encode(residual)
            codes[q] = idx
            if q + 1 < n_q:
                residual -= cb.decode(idx)
        return codes.view(n_q, B, T).transpose(0, 1).contiguous()

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, K, T] (any K <= n_q) -> latent [B, D, T]: sum of the K codewords."""
        B, K, T = codes.shape
        if K > self.n_q:
            raise ValueError(f"got {K} codebooks but the quantizer has {self.n_q}")
        flat = codes.transpose(0, 1).reshape(K, B * T)
        out = None
        for q in range(K):
            e = self.layers[q]._codebook.decode(flat[q])
            out = e if out is None else out.add_(e)
        if out is None:
            out = torch.zeros(B * T, self.dimension, device=codes.device)
        return out.view(B, T, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor, n_q: int | None = None) -> QuantizerOutput:
        """Quantise [B, D, T]; in training mode update codebooks, return commitment loss and a
        straight-through output (gradients reach x as if quantisation were the identity)."""
        n_q = self._check_n_q(n_q)
        if self.training and self.q_dropout:
            n_q = int(torch.randint(1, n_q + 1, (1,)).item())
        B, D, T = x.shape
        flat = x.transpose(1, 2).reshape(B * T, D)
        residual = flat
        total = torch.zeros_like(flat)
        codes, losses = [], []
        for layer in self.layers[:n_q]:
            quantized, idx = layer._codebook(residual)
            if self.training and self.commitment_weight > 0:
                losses.append(F.mse_loss(quantized, residual) * self.commitment_weight)
            residual = residual - quantized
            total = total + quantized
            codes.append(idx)
        if self.training:
            total = flat + (total - flat).detach()
        penalty = torch.stack(losses).mean() if losses else x.new_zeros(())
        quantized = total.view(B, T, D).transpose(1, 2)
        codes_t = torch.stack(codes).view(n_q, B, T).transpose(0, 1)
        return QuantizerOutput(quantized, codes_t, penalty, n_q)
