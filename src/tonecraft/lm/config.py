"""Configuration of the MusicGen / AudioGen language model (the token transformer).

Values follow audiocraft's released configs (audiocraft/config/model/lm/musicgen_lm.yaml and default.yaml): pre-norm, no biases in
linear layers, LayerNorm eps 1e-5, exact GELU, FFN 4*dim, head_dim 64, sinusoidal positions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from ..errors import ConfigError


@dataclass
class LMConfig:
    dim: int = 1024
    num_heads: int = 16
    num_layers: int = 24
    n_q: int = 4  # number of codebooks (8 for stereo)
    card: int = 2048  # codebook size; index `card` is the special token
    hidden_scale: int = 4  # FFN width = hidden_scale * dim
    cross_attention: bool = True  # False for the melody model (conditions are prepended)
    max_period: float = 10000.0  # sinusoidal positional embedding
    norm_eps: float = 1e-5
    pattern: str = "delay"  # delay | parallel | unroll | coarse_first
    delays: list[int] | None = None  # None: [0, 1, ..., n_q-1] for "delay"
    dtype: str = "float32"  # parameter / activation dtype: float32 or bfloat16
    beat_grid_rate: float = 0.0  # > 0: per-step beat-phase input from the asked bpm at this frame rate (lm/beat_grid.py)

    def __post_init__(self):
        if self.dim % self.num_heads:
            raise ConfigError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.delays is not None and len(self.delays) != self.n_q:
            raise ConfigError(f"delays {self.delays} must have n_q={self.n_q} entries")

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def ffn_dim(self) -> int:
        return self.hidden_scale * self.dim

    @property
    def special_token(self) -> int:
        return self.card

    @property
    def torch_dtype(self) -> torch.dtype:
        return to_dtype(self.dtype)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LMConfig":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def to_dtype(name: str | torch.dtype) -> torch.dtype:
    if isinstance(name, torch.dtype):
        return name
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if name not in table:
        raise ConfigError(f"unknown dtype {name!r}; use one of {sorted(table)}")
    return table[name]


def stereo_delays(n_q: int) -> list[int]:
    """Stereo models interleave codebooks [L0,R0,L1,R1,...]; each L/R pair shares a delay."""
    return [k // 2 for k in range(n_q)]


_SIZES = {"small": (1024, 16, 24), "medium": (1536, 24, 48), "large": (2048, 32, 48)}


def _preset(size: str, **kw) -> LMConfig:
    dim, heads, layers = _SIZES[size]
    return LMConfig(dim=dim, num_heads=heads, num_layers=layers, **kw)


PRESETS: dict[str, LMConfig] = {
    "musicgen-small": _preset("small"),
    "musicgen-medium": _preset("medium"),
    "musicgen-large": _preset("large"),
    "musicgen-melody": _preset("medium", cross_attention=False),
    "musicgen-melody-large": _preset("large", cross_attention=False),
    "musicgen-stereo-small": _preset("small", n_q=8, delays=stereo_delays(8)),
    "musicgen-stereo-medium": _preset("medium", n_q=8, delays=stereo_delays(8)),
    "musicgen-stereo-large": _preset("large", n_q=8, delays=stereo_delays(8)),
    "musicgen-stereo-melody": _preset("medium", n_q=8, delays=stereo_delays(8), cross_attention=False),
    "musicgen-stereo-melody-large": _preset("large", n_q=8, delays=stereo_delays(8), cross_attention=False),
    "audiogen-medium": _preset("medium"),
    # Debug size from audiocraft's model_scale/xsmall.yaml; handy in tests.
    "xsmall": LMConfig(dim=64, num_heads=2, num_layers=2),
}


def preset(name: str, **overrides) -> LMConfig:
    """A copy of a named preset (optionally with fields replaced), e.g. preset("musicgen-small", dtype="bfloat16")."""
    if name not in PRESETS:
        raise ConfigError(f"unknown LM preset {name!r}; known: {', '.join(PRESETS)}")
    cfg = PRESETS[name]
    return replace(cfg, delays=list(cfg.delays) if cfg.delays else None, **overrides)


__all__ = ["LMConfig", "PRESETS", "preset", "stereo_delays", "to_dtype"]
