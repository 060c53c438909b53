"""Optimiser, learning-rate schedule (warm-up + cosine / linear / constant) and EMA weights."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import ConfigError


@dataclass
class OptimConfig:
    optimizer: str = "adamw"  # adam | adamw
    lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    weight_decay: float = 0.1
    max_norm: float = 1.0  # gradient clipping; 0 disables
    schedule: str = "cosine"  # constant | cosine | linear
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # final lr = lr * min_lr_ratio (cosine / linear)
    ema_decay: float = 0.0  # 0 disables EMA weights
    ema_every: int = 1

    def __post_init__(self):
        if self.optimizer not in ("adam", "adamw"):
            raise ConfigError(f"optim.optimizer must be adam or adamw, got {self.optimizer!r}")
        if self.schedule not in ("constant", "cosine", "linear"):
            raise ConfigError(f"optim.schedule must be constant, cosine or linear, got {self.schedule!r}")
        if len(self.betas) != 2:
            raise ConfigError("optim.betas needs two values")
        if self.lr <= 0 or self.warmup_steps < 0 or not 0 <= self.ema_decay < 1 or self.ema_every < 1:
            raise ConfigError("optim: lr must be > 0, warmup_steps >= 0, 0 <= ema_decay < 1, ema_every >= 1")


def build_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay)


class WarmupSchedule:
    """Multiplies every param group's base lr by a factor of the step (linear warm-up, then decay).

    Step 0 is the first update. State is just the step, so resuming is exact."""

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int, schedule: str = "cosine",
                 warmup_steps: int = 0, min_lr_ratio: float = 0.0):
        self.optimizer = optimizer
        self.total_steps = max(1, total_steps)
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self.min_lr_ratio = min_lr_ratio
        self.base_lrs = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
        for g, lr in zip(optimizer.param_groups, self.base_lrs):
            g["initial_lr"] = lr
        self.step_count = 0
        self._apply()

    def factor(self, step: int) -> float:
        if self.warmup_steps and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return 1.0
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, max(0.0, (step - self.warmup_steps) / span))
        if self.schedule == "cosine":
            decay = 0.5 * (1 + math.cos(math.pi * progress))
        else:
            decay = 1 - progress
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * decay

    def _apply(self) -> None:
        f = self.factor(self.step_count)
        for g, lr in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = lr * f

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        self._apply()


def build_schedule(optimizer, cfg: OptimConfig, total_steps: int) -> WarmupSchedule:
    return WarmupSchedule(optimizer, total_steps, cfg.schedule, cfg.warmup_steps, cfg.min_lr_ratio)


class ModelEMA:
    """Exponential moving average of a module's floating-point parameters (fp32 copies).

    Buffers (e.g. RVQ codebooks, which are already EMA statistics) are not averaged: the averaged
    state uses their live values."""

    def __init__(self, module: nn.Module, decay: float, every: int = 1):
        self.decay = decay
        self.every = every
        self.shadow = {k: v.detach().float().clone() for k, v in module.named_parameters()
                       if v.dtype.is_floating_point}
        self.updates = 0

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        """Call after optimiser step `step` (0-based); updates every `every` steps."""
        if (step + 1) % self.every:
            return
        self.updates += 1
        for k, v in module.named_parameters():
            if k in self.shadow:
                self.shadow[k].mul_(self.decay).add_(v.detach().float(), alpha=1 - self.decay)

    def state_dict(self) -> dict:
        return {"shadow": self.shadow, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.shadow = {k: v.float().clone() for k, v in state["shadow"].items()}
        self.updates = int(state["updates"])

    def to(self, device) -> "ModelEMA":
        self.shadow = {k: v.to(device) for k, v in self.shadow.items()}
        return self

    def averaged_state(self, module: nn.Module) -> dict:
        """The module's state dict with the EMA values substituted (same dtypes as the module)."""
        out = {}
        for k, v in module.state_dict().items():
            out[k] = self.shadow[k].to(v.dtype) if k in self.shadow else v
        return out
