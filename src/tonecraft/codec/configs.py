"""Codec hyper-parameters (`CodecConfig`) and the four official EnCodec configurations.

Field names follow audiocraft's `seanet` / `rvq` / `encodec` config sections so an `xp.cfg` maps
onto them almost one to one.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from tonecraft.errors import ConfigError


@dataclass
class CodecConfig:
    name: str = "custom"
    sample_rate: int = 24_000
    channels: int = 1
    # SEANet encoder/decoder
    dimension: int = 128
    n_filters: int = 32
    ratios: list[int] = field(default_factory=lambda: [8, 5, 4, 2])  # decoder order
    n_residual_layers: int = 1
    kernel_size: int = 7
    last_kernel_size: int = 7
    residual_kernel_size: int = 3
    dilation_base: int = 2
    compress: int = 2
    lstm_layers: int = 2
    activation: str = "ELU"
    activation_params: dict = field(default_factory=lambda: {"alpha": 1.0})
    final_activation: str | None = None
    norm: str = "weight_norm"            # "weight_norm" | "time_group_norm" | "none"
    causal: bool = False
    pad_mode: str = "reflect"            # "reflect" | "constant"
    true_skip: bool = True               # identity residual shortcut (else a 1x1 conv)
    trim_right_ratio: float = 1.0
    disable_norm_outer_blocks: int = 0
    # residual vector quantiser
    n_q: int = 32
    bins: int = 1024
    decay: float = 0.99
    kmeans_init: bool = True
    kmeans_iters: int = 50
    threshold_ema_dead_code: float = 2.0
    q_dropout: bool = False
    commitment_weight: float = 1.0
    # codec
    target_bandwidths: list[float] = field(default_factory=list)  # kbps; empty = derive from n_q
    normalize: bool = False              # scale each segment by its RMS (48 kHz model)
    segment: float | None = None         # seconds per independently coded segment (None = whole input)
    overlap: float = 0.01                # fraction of a segment shared with the next one

    def __post_init__(self) -> None:
        self.ratios = [int(r) for r in self.ratios]
        self.target_bandwidths = [float(b) for b in self.target_bandwidths]
        self.validate()

    @property
    def hop_length(self) -> int:
        return math.prod(self.ratios)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def validate(self) -> None:
        if self.norm not in ("none", "weight_norm", "time_group_norm"):
            raise ConfigError(f"norm must be weight_norm, time_group_norm or none, got {self.norm!r}")
        if self.norm == "time_group_norm" and self.causal:
            raise ConfigError("time_group_norm cannot be used with a causal codec")
        if self.pad_mode not in ("reflect", "constant", "zero", "replicate", "circular"):
            raise ConfigError(f"unknown pad_mode {self.pad_mode!r}")
        if self.channels < 1 or self.sample_rate <= 0 or self.n_q < 1 or not self.ratios:
            raise ConfigError(f"invalid codec config: channels={self.channels}, sample_rate={self.sample_rate}, "
                              f"n_q={self.n_q}, ratios={self.ratios}")
        if self.bins & (self.bins - 1):
            raise ConfigError(f"codebook size (bins) must be a power of two, got {self.bins}")
        if self.segment is not None and not (self.segment > 0 and 0 <= self.overlap < 1):
            raise ConfigError(f"invalid segment={self.segment} / overlap={self.overlap}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CodecConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown codec config fields: {', '.join(unknown)}")
        return cls(**d)


def encodec_24khz() -> CodecConfig:
    """Original causal 24 kHz mono EnCodec (encodec package, facebook/encodec_24khz)."""
    return CodecConfig(name="encodec_24khz", sample_rate=24_000, channels=1, n_filters=32, ratios=[8, 5, 4, 2],
                       causal=True, norm="weight_norm", pad_mode="reflect", true_skip=False, n_q=32, bins=1024,
                       target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0])


def encodec_48khz() -> CodecConfig:
    """Original non-causal 48 kHz stereo EnCodec: group norm, per-segment RMS normalisation."""
    return CodecConfig(name="encodec_48khz", sample_rate=48_000, channels=2, n_filters=32, ratios=[8, 5, 4, 2],
                       causal=False, norm="time_group_norm", pad_mode="reflect", true_skip=False, n_q=16,
                       bins=1024, target_bandwidths=[3.0, 6.0, 12.0, 24.0], normalize=True, segment=1.0,
                       overlap=0.01)


def musicgen_32khz() -> CodecConfig:
    """MusicGen's 32 kHz tokenizer (audiocraft `encodec_large_nq4_s640`). Audiocraft trained it with
    `pad_mode: constant`, but the released MusicGen models run it through facebook/encodec_32khz whose
    config says `reflect`, so that is what reproduces their tokens; loaders take it from the checkpoint."""
    return CodecConfig(name="musicgen_32khz", sample_rate=32_000, channels=1, n_filters=64, ratios=[8, 5, 4, 4],
                       causal=False, norm="weight_norm", pad_mode="reflect", true_skip=True, n_q=4, bins=2048,
                       target_bandwidths=[2.2])


def audiogen_16khz() -> CodecConfig:
    """AudioGen's 16 kHz tokenizer (audiocraft `encodec_large_nq4_s320`, pad_mode constant)."""
    return CodecConfig(name="audiogen_16khz", sample_rate=16_000, channels=1, n_filters=64, ratios=[8, 5, 4, 2],
                       causal=False, norm="weight_norm", pad_mode="constant", true_skip=True, n_q=4, bins=2048,
                       target_bandwidths=[2.2])


OFFICIAL_CONFIGS = {
    "encodec_24khz": encodec_24khz,
    "encodec_48khz": encodec_48khz,
    "musicgen_32khz": musicgen_32khz,
    "audiogen_16khz": audiogen_16khz,
}


def get_config(name: str) -> CodecConfig:
    try:
        return OFFICIAL_CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"unknown codec config {name!r}; known: {', '.join(OFFICIAL_CONFIGS)}") from None
