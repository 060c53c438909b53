"""Official model names -> hub repositories and what each model needs.

One table so the CLI, the loaders and the docs agree on names. Every official repo holds the
audiocraft release files (`state_dict.bin`, `compression_state_dict.bin`); the MusicGen repos also hold
the transformers layout (`config.json` + `model.safetensors`; `musicgen_melody` for the melody models),
which is tried first; the audiocraft files are the fallback.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelNotFoundError

MUSICGEN_CODEC = "facebook/encodec_32khz"


@dataclass(frozen=True)
class ModelInfo:
    name: str  # our short name, e.g. "musicgen-small"
    hub_id: str  # Hugging Face repo, e.g. "facebook/musicgen-small"
    family: str  # "musicgen" | "audiogen"
    size: str  # small | medium | large (LM scale)
    text_encoder: str  # audiocraft T5 name
    codec: str  # default compression model (hub id, or "bundled": in compression_state_dict.bin)
    sample_rate: int
    channels: int = 1
    melody: bool = False  # chroma-conditioned, conditions prepended instead of cross-attention
    max_duration: float = 30.0  # training segment length in seconds
    hf_format: bool = True  # repo also has the transformers MusicgenForConditionalGeneration files
    params: str = ""  # approximate LM size, for listings

    @property
    def kind(self) -> str:
        """'audiogen', 'musicgen', 'musicgen-melody', 'musicgen-stereo' or 'musicgen-stereo-melody'."""
        if self.family == "audiogen":
            return "audiogen"
        return "musicgen" + ("-stereo" if self.channels == 2 else "") + ("-melody" if self.melody else "")


def _mg(size: str, suffix: str = "", *, params: str, stereo=False, melody=False) -> ModelInfo:
    name = f"musicgen-{suffix or size}"
    return ModelInfo(
        name=name, hub_id=f"facebook/{name}", family="musicgen", size=size, text_encoder="t5-base",
        codec=MUSICGEN_CODEC, sample_rate=32000, channels=2 if stereo else 1, melody=melody,
        # Melody repos: transformers MusicgenMelodyForConditionalGeneration files (when present) or audiocraft's.
        hf_format=True, params=params,
    )


MODELS: dict[str, ModelInfo] = {m.name: m for m in [
    _mg("small", params="300M"),
    _mg("medium", params="1.5B"),
    _mg("large", params="3.3B"),
    _mg("medium", "melody", params="1.5B", melody=True),
    _mg("large", "melody-large", params="3.3B", melody=True),
    _mg("small", "stereo-small", params="300M", stereo=True),
    _mg("medium", "stereo-medium", params="1.5B", stereo=True),
    _mg("large", "stereo-large", params="3.3B", stereo=True),
    _mg("medium", "stereo-melody", params="1.5B", stereo=True, melody=True),
    _mg("large", "stereo-melody-large", params="3.3B", stereo=True, melody=True),
    ModelInfo(
        name="audiogen-medium", hub_id="facebook/audiogen-medium", family="audiogen", size="medium",
        text_encoder="t5-large", codec="bundled", sample_rate=16000, max_duration=10.0, hf_format=False,
        params="1.5B",
    ),
]}

# audiocraft's legacy short names (MusicGen.get_pretrained('small')).
_ALIASES = {"small": "musicgen-small", "medium": "musicgen-medium", "large": "musicgen-large",
            "melody": "musicgen-melody"}


def find_model(name: str) -> ModelInfo | None:
    """The registry entry for a short name, alias or hub id (case-insensitive); None if unknown."""
    key = name.strip().lower()
    key = key.removeprefix("facebook/")
    key = _ALIASES.get(key, key)
    return MODELS.get(key)


def get_model(name: str) -> ModelInfo:
    info = find_model(name)
    if info is None:
        raise ModelNotFoundError(
            f"unknown model {name!r}. Official models: {', '.join(MODELS)}; "
            "or pass a local directory with a MusicGen checkpoint"
        )
    return info


def list_models(family: str | None = None) -> list[ModelInfo]:
    return [m for m in MODELS.values() if family is None or m.family == family]


__all__ = ["MODELS", "MUSICGEN_CODEC", "ModelInfo", "find_model", "get_model", "list_models"]
