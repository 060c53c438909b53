"""tonecraft's own LM export format (`tonecraft-lm`, version 1): written by `tonecraft train export`, read by
`MusicGen.from_pretrained` (the shipped default model is one). Inference reads it without any training code.

    config.json        {"format": "tonecraft-lm", "version": 1, "lm": LMConfig fields,
                        "conditioner": ConditionerConfig fields (+ "encoder_dim"), "sample_rate",
                        "frame_rate", "codec": codec name or folder (or null), "max_duration"
                        (training segment, s), "step"}
    model.safetensors  audiocraft key names: the LM's own keys (emb.*, transformer.*, out_norm.*,
                       linears.*) plus `condition_provider.conditioners.<attribute>.<part>.*` for the trained
                       parts of the text conditioner (output_proj, pooled_proj, tempo_proj)

i.e. the same tensors as an audiocraft `state_dict.bin['best_state']`, in safetensors. In memory, the trainer
names the same tensors `lm.*` and `conditioner.*` (its LMTrainModule); the two mappings below convert.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

from ..conditioning.base import TextConditioner, TextEncoder
from ..conditioning.factory import ConditionerConfig, build_conditioner, conditioner_config_from_dict
from ..errors import CheckpointError, TonecraftError
from ..fileio import atomic_write_bytes, atomic_write_json
from ..lm.config import LMConfig
from ..lm.model import LMModel
from ..safe_load import read_tensor_file

LM_FORMAT = "tonecraft-lm"
LM_VERSION = 1
COND_PREFIX = "condition_provider.conditioners.{}."
COND_PARTS = ("output_proj.", "pooled_proj.", "tempo_proj.")  # trained parts of a text conditioner


def lm_export_tensors(train_state: dict[str, torch.Tensor], attribute: str) -> dict[str, torch.Tensor]:
    """Trainer names (lm.*, conditioner.output_proj.* ...) -> audiocraft names
    (`condition_provider.conditioners.<attribute>.output_proj.*`)."""
    out = {}
    for k, v in train_state.items():
        if k.startswith("lm."):
            out[k[3:]] = v
        elif k.startswith("conditioner.") and k[len("conditioner."):].startswith(COND_PARTS):
            out[COND_PREFIX.format(attribute) + k[len("conditioner."):]] = v
    return out


def lm_train_tensors(tensors: dict[str, torch.Tensor], attribute: str) -> dict[str, torch.Tensor]:
    """Inverse of `lm_export_tensors` (other condition_provider keys are dropped)."""
    prefix = COND_PREFIX.format(attribute)
    out = {}
    for k, v in tensors.items():
        if k.startswith(prefix) and k[len(prefix):].startswith(COND_PARTS):
            out["conditioner." + k[len(prefix):]] = v
        elif not k.startswith("condition_provider."):
            out["lm." + k] = v
    return out


def export_lm(out_dir: str | os.PathLike, train_state: dict[str, torch.Tensor], lm_cfg: LMConfig,
              cond_cfg: ConditionerConfig, conditioner=None, extra: dict | None = None) -> Path:
    """Write an export folder; the weights first, the config (which marks the folder as an export) last."""
    from safetensors.torch import save

    out = Path(out_dir)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in
               lm_export_tensors(train_state, cond_cfg.attribute).items()}
    cond = asdict(cond_cfg)
    if conditioner is not None:
        cond["encoder_dim"] = int(conditioner.encoder.dim)
    config = {"format": LM_FORMAT, "version": LM_VERSION, "lm": lm_cfg.to_dict(), "conditioner": cond,
              **(extra or {})}
    atomic_write_bytes(out / "model.safetensors", save(tensors, metadata={"format": LM_FORMAT}))
    atomic_write_json(out / "config.json", config)
    return out


def is_lm_export(path: str | os.PathLike) -> bool:
    p = Path(path) / "config.json"
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text()).get("format") == LM_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_export_config(path: str | os.PathLike) -> dict:
    """The config.json of an export folder, checked for format and version."""
    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable config.json ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != LM_FORMAT:
        raise CheckpointError(f"{path}: not a {LM_FORMAT} export")
    if config.get("version", 0) > LM_VERSION:
        raise CheckpointError(f"{path}: export version {config['version']} is newer than supported")
    return config


def load_conditioner(cfg: ConditionerConfig, output_dim: int, text_encoder: TextEncoder | None = None
                     ) -> TextConditioner | None:
    """`conditioning.factory.build_conditioner`, plus one fallback: a T5 that cannot be loaded by its name
    is taken from the MusicGen checkpoint `cfg.source` names (a fine-tune of an official model)."""
    if cfg.kind != "t5" or text_encoder is not None or not cfg.source:
        return build_conditioner(cfg, output_dim, text_encoder=text_encoder)
    try:
        return build_conditioner(cfg, output_dim)
    except TonecraftError:
        from .musicgen_loading import load_musicgen

        loaded = load_musicgen(cfg.source)
        if loaded.conditioner is None:
            raise
        return build_conditioner(cfg, output_dim, text_encoder=loaded.conditioner.encoder)


def load_state_into(lm: LMModel, conditioner: TextConditioner | None, state: dict[str, torch.Tensor],
                    source: str) -> None:
    """Load trainer-named tensors (lm.*, conditioner.*) into the LM and the conditioner's trained parts;
    every LM weight and every stored conditioner part must match."""
    modules = torch.nn.ModuleDict({"lm": lm} if conditioner is None else {"lm": lm, "conditioner": conditioner})
    missing, unexpected = modules.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{source}: weights do not match the config (missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]})")


def load_lm_export(path: str | os.PathLike, device: str | torch.device = "cpu", text_encoder=None):
    """-> (LMModel, TextConditioner or None, ConditionerConfig, config dict).

    `text_encoder` (a TextEncoder) replaces loading the encoder named in the config."""
    path = Path(path)
    config = read_export_config(path)
    lm = LMModel.for_loading(LMConfig.from_dict(config["lm"]))  # load_state_into fills every weight
    cond_cfg = conditioner_config_from_dict(config.get("conditioner", {"kind": "none"}))
    conditioner = load_conditioner(cond_cfg, lm.cfg.dim, text_encoder=text_encoder)
    tensors = read_tensor_file(path / "model.safetensors")
    load_state_into(lm, conditioner, lm_train_tensors(tensors, cond_cfg.attribute), str(path))
    return lm.to(device), (conditioner.to(device) if conditioner is not None else None), cond_cfg, config
