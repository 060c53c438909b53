"""Condition dropout for classifier-free guidance training (audiocraft's order of coins).

The conditioner itself (config, encoders, factory) lives in `conditioning.factory`.
"""
from __future__ import annotations

import torch

from ..conditioning.factory import ConditionerConfig


def apply_condition_dropout(texts: list[str | None], cfg: ConditionerConfig, generator: torch.Generator
                            ) -> tuple[list[str | None], bool]:
    """audiocraft order: CFG dropout (one coin for the whole batch), then attribute dropout (one coin per
    attribute for the whole batch). Only the conditioned attribute exists here, so both null the texts.
    Returns (texts, dropped)."""
    texts = list(texts)
    dropped = cfg.cfg_dropout > 0 and torch.rand((), generator=generator).item() < cfg.cfg_dropout
    for name, p in sorted(cfg.attribute_dropout.items()):
        if p > 0 and torch.rand((), generator=generator).item() < p and name == cfg.attribute:
            dropped = True
    if dropped:
        texts = [None] * len(texts)
    return texts, dropped
