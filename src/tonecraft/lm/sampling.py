"""Next-token sampling, matching audiocraft's `sample_top_k` / `sample_top_p` / `multinomial`.

softmax(logits / temp) -> top-p if top_p > 0, else top-k if top_k > 0, else the full distribution ->
torch.multinomial. Greedy (argmax of the raw logits) when `use_sampling` is False or temp <= 0. Each codebook is
sampled independently. Pass a `torch.Generator` for reproducible results; with the global generator and the same
seed the draws are those of audiocraft (same op sequence).
"""
from __future__ import annotations

import torch

from ..errors import ConfigError


def multinomial(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per row of probs [..., card] -> [...]."""
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])


def top_k_filter(probs: torch.Tensor, k: int) -> torch.Tensor:
    """Zero the probabilities below the k-th largest (ties with it are kept), renormalise."""
    kth = torch.topk(probs, k, dim=-1).values[..., -1:]
    probs = probs * (probs >= kth)
    return probs / probs.sum(dim=-1, keepdim=True)


def sample_top_k(probs: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    return multinomial(top_k_filter(probs, k), generator)


def sample_top_p(probs: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Nucleus sampling: keep the smallest prefix of the sorted distribution whose mass reaches p."""
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    cum = torch.cumsum(sorted_probs, dim=-1)
    sorted_probs = sorted_probs * ((cum - sorted_probs) <= p)
    sorted_probs = sorted_probs / sorted_probs.sum(dim=-1, keepdim=True)
    choice = multinomial(sorted_probs, generator)
    return torch.gather(order, -1, choice.unsqueeze(-1)).squeeze(-1)


def sample(logits: torch.Tensor, use_sampling: bool = True, temp: float = 1.0, top_k: int = 250,
           top_p: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """logits [..., card] (float32) -> token ids [...] (int64)."""
    if not use_sampling or temp <= 0:
        return logits.argmax(dim=-1)
    if top_k < 0 or not 0.0 <= top_p <= 1.0:
        raise ConfigError(f"invalid sampling parameters top_k={top_k} top_p={top_p}")
    probs = torch.softmax(logits.float() / temp, dim=-1)
    if top_p > 0.0:
        return sample_top_p(probs, top_p, generator)
    if top_k > 0:
        return sample_top_k(probs, min(top_k, probs.shape[-1]), generator)
    return multinomial(probs, generator)
