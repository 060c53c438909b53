"""LSTM block of SEANet: a plain multi-layer LSTM over time with a residual skip.

Takes and returns the convolutional layout [B, C, T]; the attribute is `lstm` so parameters are named
`...lstm.weight_ih_l0` as in the original checkpoints.
"""
from __future__ import annotations

import torch
from torch import nn


class StreamableLSTM(nn.Module):
    """`y = lstm(x) + x` on [B, C, T] tensors; streaming carries the (h, c) state between chunks."""

    def __init__(self, dimension: int, num_layers: int = 2, skip: bool = True):
        super().__init__()
        self.skip = skip
        self.lstm = nn.LSTM(dimension, dimension, num_layers)

    def _run(self, x: torch.Tensor, hx=None):
        t = x.permute(2, 0, 1)  # [T, B, C]
        y, hx = self.lstm(t, hx)
        if self.skip:
            y = y + t if torch.is_grad_enabled() else y.add_(t)
        return y.permute(1, 2, 0), hx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[0]

    # --- streaming -------------------------------------------------------------------------
    def init_state(self) -> list:
        return [None]

    def step(self, x: torch.Tensor, st: list) -> torch.Tensor:
        if x.shape[-1] == 0:
            return x
        y, st[0] = self._run(x, st[0])
        return y

    def flush(self, st: list) -> None:
        return None
