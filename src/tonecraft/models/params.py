"""Generation settings and every default of a model family, each defined once.

`GenerationParams` holds what one generation uses (length, sampling, guidance, long-form stride). Its
field defaults are audiocraft's MusicGen defaults (audiocraft/models/musicgen.py, `set_generation_params`).
`FamilyDefaults` gathers the defaults that differ between MusicGen and AudioGen; the models, the CLI
(`tonecraft generate` without -d) and the docs read them from here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ..errors import ConfigError

MAX_DURATION_S = 3600.0  # anything longer is almost certainly a typo (and would take days)


@dataclass
class GenerationParams:
    """Sampling and length settings (audiocraft's `set_generation_params` defaults for MusicGen)."""

    duration: float = 30.0
    use_sampling: bool = True
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    cfg_coef: float = 3.0
    extend_stride: float = 18.0

    def with_given(self, **given) -> "GenerationParams":
        """A copy with the values that were given; None means "not given" (keep this one's)."""
        return replace(self, **{k: v for k, v in given.items() if v is not None})

    def validate(self, max_duration: float) -> "GenerationParams":
        """Raise ConfigError naming the first bad value; returns self so calls chain."""
        def bad(msg: str):
            raise ConfigError(msg)

        for name in ("duration", "top_p", "temperature", "cfg_coef", "extend_stride"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                bad(f"{name} must be a finite number, got {v!r}")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool):
            bad(f"top_k must be an integer, got {self.top_k!r}")
        if self.duration <= 0:
            bad(f"duration must be > 0 seconds, got {self.duration}")
        if self.duration > MAX_DURATION_S:
            bad(f"duration {self.duration} s is above the {MAX_DURATION_S:.0f} s limit")
        if self.top_k < 0:
            bad(f"top_k must be >= 0 (0 disables top-k), got {self.top_k}")
        if not 0.0 <= self.top_p <= 1.0:
            bad(f"top_p must be in [0, 1] (0 disables nucleus sampling), got {self.top_p}")
        if self.temperature < 0:
            bad(f"temperature must be >= 0 (0 means greedy), got {self.temperature}")
        if self.cfg_coef < 0 or self.cfg_coef > 100:
            bad(f"cfg_coef must be in [0, 100] (1 disables guidance), got {self.cfg_coef}")
        if self.duration > max_duration and not 0 < self.extend_stride < max_duration:
            bad(f"extend_stride must be in (0, {max_duration}) s for durations above {max_duration} s, "
                f"got {self.extend_stride}")
        return self


@dataclass(frozen=True)
class FamilyDefaults:
    """The defaults of one model family. Three durations, because three callers want different things:
    right after loading (audiocraft's constructor), after `set_generation_params()` without a duration
    (audiocraft's signature), and `tonecraft generate` without -d (short, so a first result comes fast)."""

    max_duration: float  # one window (the training segment) when a checkpoint does not say
    loaded_duration: float  # `model.duration` right after loading
    params: GenerationParams = field(default_factory=GenerationParams)  # what set_generation_params() resets to
    cli_duration: float = 10.0  # `tonecraft generate` / `tonecraft sfx` without -d

    def model_params(self, cfg_coef: float, temperature: float, top_k: int) -> GenerationParams:
        """The family's parameters with a checkpoint's own sampling defaults (guidance, temperature, top-k):
        what `set_generation_params()` resets omitted values to."""
        return replace(self.params, cfg_coef=cfg_coef, temperature=temperature, top_k=top_k)

    def initial_params(self, max_duration: float, model_params: GenerationParams) -> GenerationParams:
        """The parameters a freshly loaded model starts with."""
        return replace(model_params, duration=min(self.loaded_duration, max_duration))


def sampling_defaults(loaded) -> dict:
    """The sampling defaults a loaded checkpoint (`pretrained.musicgen_loading.LoadedModel`) carries, as the
    keyword arguments of the model constructors."""
    return dict(cfg_coef=loaded.cfg_coef, temperature=loaded.temperature, top_k=loaded.top_k)


# audiocraft/models/musicgen.py: MusicGen.__init__ sets 15 s, set_generation_params defaults to 30 s, stride 18 s.
MUSICGEN_DEFAULTS = FamilyDefaults(max_duration=30.0, loaded_duration=15.0,
                                   params=GenerationParams(duration=30.0, extend_stride=18.0), cli_duration=10.0)
# audiocraft/models/audiogen.py: AudioGen.__init__ sets 5 s, set_generation_params defaults to 10 s, stride 2 s;
# the released audiogen-medium was trained on 10 s segments.
AUDIOGEN_DEFAULTS = FamilyDefaults(max_duration=10.0, loaded_duration=5.0,
                                   params=GenerationParams(duration=10.0, extend_stride=2.0), cli_duration=5.0)
FAMILY_DEFAULTS = {"musicgen": MUSICGEN_DEFAULTS, "audiogen": AUDIOGEN_DEFAULTS}


def family_defaults(family: str) -> FamilyDefaults:
    try:
        return FAMILY_DEFAULTS[family]
    except KeyError:
        raise ConfigError(f"unknown model family {family!r}: use {' or '.join(FAMILY_DEFAULTS)}") from None
