"""Training runs -> models: the models a checkpoint holds, what a fine-tune starts from, export folders.

One rule for every reader of a training checkpoint (`checkpoint.trained_weights`): the weights are what
`tonecraft train export` writes, i.e. the EMA average when the run kept one. The export format itself
(written here, read by inference) is `pretrained.export_format`.
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch

from ..conditioning.factory import ConditionerConfig, conditioner_config_from_dict
from ..errors import CheckpointError
from ..lm.config import LMConfig
from ..lm.model import LMModel
from ..pretrained.default_model import find_shipped, shipped_model_dir
from ..pretrained.export_format import export_lm, is_lm_export, load_conditioner, load_lm_export, load_state_into
from .checkpoint import load_checkpoint, trained_weights

__all__ = ["export_codec", "export_lm", "lm_from_checkpoint", "load_lm_for_finetune", "load_training_codec"]


def lm_from_checkpoint(path: str | os.PathLike):
    """(LMModel, conditioner or None, ConditionerConfig, checkpoint state) of an LM training checkpoint."""
    state = load_checkpoint(path)
    extra = state.get("extra") or {}
    if state.get("kind") != "lm" or "lm_config" not in extra:
        raise CheckpointError(f"{path}: not an LM training checkpoint")
    lm = LMModel(LMConfig.from_dict(extra["lm_config"]))
    cond_cfg = conditioner_config_from_dict(extra["conditioner"])
    conditioner = load_conditioner(cond_cfg, lm.cfg.dim)
    modules = torch.nn.ModuleDict({"lm": lm} if conditioner is None else {"lm": lm, "conditioner": conditioner})
    load_state_into(lm, conditioner, trained_weights(state, "model", modules), str(path))
    return lm, conditioner, cond_cfg, state


def load_lm_for_finetune(spec: str, cond_cfg: ConditionerConfig):
    """LM (+ conditioner) to start fine-tuning from. `spec` is one of:
    - a training checkpoint (`checkpoint.pt` of an LM run),
    - a `tonecraft-lm` export folder,
    - a shipped model's name (`tonecraft-default`: its export folder in the package),
    - anything the MusicGen loader accepts (official name, audiocraft / HF folder).
    The data-side settings of `cond_cfg` (attribute, dropouts) are kept; kind/name/dims follow the
    loaded model. Returns (LMModel, conditioner or None, ConditionerConfig)."""
    p = shipped_model_dir(spec) if find_shipped(spec) is not None else Path(spec)
    if p.is_file():
        lm, conditioner, old_cond, _state = lm_from_checkpoint(p)
        return lm, *_with_new_parts(conditioner, _merge_cond(cond_cfg, old_cond))
    if is_lm_export(p):
        lm, conditioner, old_cond, _ = load_lm_export(p)
        return lm, *_with_new_parts(conditioner, _merge_cond(cond_cfg, old_cond))
    return _load_pretrained_lm(spec, cond_cfg)


def _merge_cond(new: ConditionerConfig, old: ConditionerConfig) -> ConditionerConfig:
    d = asdict(old)
    for k in ("cfg_dropout", "attribute_dropout", "word_dropout"):
        d[k] = getattr(new, k)
    d["tempo"] = old.tempo or new.tempo  # a fine-tune may add the tempo embedding, never drop a trained one
    return ConditionerConfig(**d)


def _with_new_parts(conditioner, cond_cfg: ConditionerConfig):
    """Add the parts a fine-tune config asks for that the loaded model lacks (zero-initialised)."""
    if cond_cfg.tempo and conditioner is not None and not conditioner.tempo:
        conditioner.add_tempo()
    return conditioner, cond_cfg


def _load_pretrained_lm(spec: str, cond_cfg: ConditionerConfig):
    """Through the MusicGen loader (official names, audiocraft or transformers folders)."""
    from ..pretrained.musicgen_loading import load_musicgen

    loaded = load_musicgen(spec)
    lm = loaded.lm.float().train().requires_grad_(True)
    cond = loaded.conditioner
    d = asdict(cond_cfg)
    if cond is None:
        d["kind"] = "none"
    else:
        enc = cond.encoder
        d.update(kind="t5", name=str(enc.name), source=str(spec))
        cond.word_dropout = cond_cfg.word_dropout
        cond.float().train().requires_grad_(True)
    return lm, cond, ConditionerConfig(**d)


# -- codec -----------------------------------------------------------------------------------------------------------

def load_training_codec(spec: str, device: str | torch.device = "cpu"):
    """A codec by official name or saved folder (`pretrained.codec_loading.load_codec`), or the codec of a
    codec training checkpoint (`.pt`, weights per `checkpoint.trained_weights`)."""
    p = Path(spec)
    if p.is_file() and p.suffix == ".pt":
        from .codec_trainer import codec_from_checkpoint

        return codec_from_checkpoint(p).to(device).eval()
    from ..pretrained.codec_loading import load_codec

    return load_codec(spec, device=device).eval()


def export_codec(codec, out_dir: str | os.PathLike) -> Path:
    """The codec package's `save_pretrained` folder (config.json + model.safetensors)."""
    return Path(codec.save_pretrained(out_dir))
