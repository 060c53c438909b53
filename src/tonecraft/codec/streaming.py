"""Chunked (streaming) evaluation of stacks of streamable modules.

A streamable module has `init_state() -> state`, `step(x, state) -> y` and `flush(state) -> y | None`.
Element-wise modules (activations) are streamable for free. State lives in plain objects owned by the
caller, so one model can serve several independent streams at once.
"""
from __future__ import annotations

import typing as tp

import torch
from torch import nn


def _is_pointwise(m: nn.Module) -> bool:
    return not hasattr(m, "step") and not isinstance(m, nn.Sequential) and not any(True for _ in m.parameters())


def init_state(m: nn.Module) -> tp.Any:
    if hasattr(m, "init_state"):
        return m.init_state()
    if isinstance(m, nn.Sequential):
        return [init_state(c) for c in m]
    if _is_pointwise(m):
        return None
    raise TypeError(f"{type(m).__name__} is not streamable")


def step(m: nn.Module, x: torch.Tensor, state: tp.Any) -> torch.Tensor:
    if hasattr(m, "step"):
        return m.step(x, state)
    if isinstance(m, nn.Sequential):
        for child, st in zip(m, state):
            x = step(child, x, st)
        return x
    return m(x)


def cat(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    if b is None:
        return a
    return torch.cat([a, b], dim=-1)


def flush(m: nn.Module, state: tp.Any) -> torch.Tensor | None:
    """Finish the stream: each layer gets the flushed output of the previous one, then flushes."""
    if hasattr(m, "flush"):
        return m.flush(state)
    if isinstance(m, nn.Sequential):
        y = None
        for child, st in zip(m, state):
            if y is not None:
                y = step(child, y, st)
            y = cat(y, flush(child, st))
        return y
    return None
