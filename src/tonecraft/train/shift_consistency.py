"""Shift consistency: the encoder's latents of a sound and of the same sound a little later should match.

Why (issue 15): a waveform codec encodes phase. Delay a clip by a millisecond and most of its tokens change
(`eval/token_stability.py`, SFX codec v3t: 14-15 % of first-codebook tokens kept, 2-4 % of the others), so a
tonal sound's tokens change every frame in a way only a large LM can predict; a small LM samples a noise burst
instead of a laser's falling tone. This loss asks the encoder for the same latent frames for x and for x delayed
by `shift` samples (less than a frame), relative to the latents' energy so that its weight does not depend on
their scale.
The decoder then has to choose a phase itself: train with a phase-free reconstruction loss (multi-scale mel) as
the main one, since a waveform L1 loss asks for the phase the latents no longer hold.
"""
from __future__ import annotations

import random

import torch
import torch.nn.functional as F


def shift_for_step(step: int, hop: int, seed: int = 0) -> int:
    """A delay in [1, hop - 1] samples, the same for a given (step, seed) on every rank and after a resume."""
    if hop < 2:
        raise ValueError(f"a shift below one frame needs a hop of at least 2 samples, got {hop}")
    return random.Random(f"shift/{seed}/{step}").randint(1, hop - 1)


def delay(x: torch.Tensor, shift: int) -> torch.Tensor:
    """x [B, C, T] delayed by `shift` samples (zeros in front), same length."""
    return F.pad(x, (shift, 0))[..., : x.shape[-1]]


def shift_consistency_loss(codec, x: torch.Tensor, shift: int) -> torch.Tensor:
    """Mean squared difference of the encoder's latent frames [B, D, F] of x and of x delayed by `shift`,
    divided by the mean squared latent (no gradient through the divisor); the first and last frames, which see
    the padding differently, are left out."""
    z = codec.encoder(torch.cat([x, delay(x, shift)]))
    a, b = z.float().chunk(2)
    if a.shape[-1] > 2:
        a, b = a[..., 1:-1], b[..., 1:-1]
    return (a - b).pow(2).mean() / (a.detach().pow(2).mean() + 1e-8)
