"""Export trained models to loadable folders, and load models to fine-tune.

LM export folder (`tonecraft-lm` format, version 1):

    config.json        {"format": "tonecraft-lm", "version": 1, "lm": LMConfig fields,
                        "conditioner": ConditionerConfig fields (+ "encoder_dim"), "sample_rate",
                        "frame_rate", "codec": codec name or folder (or null), "max_duration"
                        (training segment, s), "step"}
    model.safetensors  audiocraft key names: the LM's own keys (emb.*, transformer.*, out_norm.*,
                       linears.*) plus `condition_provider.conditioners.<attribute>.output_proj.*`

i.e. the same tensors as an audiocraft `state_dict.bin['best_state']`, in safetensors.
Codec export: the codec package's `save_pretrained` folder.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..lm.config import LMConfig
from ..lm.model import LMModel
from .checkpoint import atomic_write_bytes, atomic_write_text
from .text import ConditionerConfig, build_conditioner

LM_FORMAT = "tonecraft-lm"
LM_VERSION = 1
COND_PREFIX = "condition_provider.conditioners.{}."
COND_PARTS = ("output_proj.", "pooled_proj.", "tempo_proj.")  # trained parts of a text conditioner


def _cond_cfg_from_dict(d: dict) -> ConditionerConfig:
    known = {f.name for f in fields(ConditionerConfig)}
    return ConditionerConfig(**{k: v for k, v in d.items() if k in known})


def lm_export_tensors(train_state: dict[str, torch.Tensor], attribute: str) -> dict[str, torch.Tensor]:
    """`LMTrainModule` state (lm.*, conditioner.output_proj.*, conditioner.pooled_proj.*) -> audiocraft key
    names (`condition_provider.conditioners.<attribute>.output_proj.*`)."""
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
    from safetensors.torch import save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in
               lm_export_tensors(train_state, cond_cfg.attribute).items()}
    cond = asdict(cond_cfg)
    if conditioner is not None:
        cond["encoder_dim"] = int(conditioner.encoder.dim)
    config = {"format": LM_FORMAT, "version": LM_VERSION, "lm": lm_cfg.to_dict(), "conditioner": cond,
              **(extra or {})}
    blob = save(tensors, metadata={"format": LM_FORMAT})
    atomic_write_bytes(out / "model.safetensors", lambda f: f.write(blob))
    atomic_write_text(out / "config.json", json.dumps(config, indent=2))
    return out


def is_lm_export(path: str | os.PathLike) -> bool:
    p = Path(path) / "config.json"
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text()).get("format") == LM_FORMAT
    except (OSError, json.JSONDecodeError):
        return False


def load_lm_export(path: str | os.PathLike, device: str | torch.device = "cpu", text_encoder=None):
    """-> (LMModel, TextConditioner or None, ConditionerConfig, config dict).

    `text_encoder` (a TextEncoder) replaces loading the T5 named in the config."""
    from safetensors.torch import load_file

    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable config.json ({exc})") from None
    if config.get("format") != LM_FORMAT:
        raise CheckpointError(f"{path}: not a {LM_FORMAT} export")
    if config.get("version", 0) > LM_VERSION:
        raise CheckpointError(f"{path}: export version {config['version']} is newer than supported")
    lm = LMModel(LMConfig.from_dict(config["lm"]))
    cond_cfg = _cond_cfg_from_dict(config.get("conditioner", {"kind": "none"}))
    conditioner = build_conditioner(cond_cfg, lm.cfg.dim, text_encoder=text_encoder)
    tensors = load_file(str(path / "model.safetensors"))
    state = lm_train_tensors(tensors, cond_cfg.attribute)
    from .lm_trainer import LMTrainModule

    module = LMTrainModule(lm, conditioner)
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match the config (missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]})")
    return lm.to(device), (conditioner.to(device) if conditioner is not None else None), cond_cfg, config


def load_lm_for_finetune(spec: str, cond_cfg: ConditionerConfig):
    """LM (+ conditioner) to start fine-tuning from. `spec` is one of:
    - a training checkpoint (`checkpoint.pt` of an LM run),
    - a `tonecraft-lm` export folder,
    - anything the MusicGen loader accepts (official name, audiocraft / HF folder).
    The data-side settings of `cond_cfg` (attribute, dropouts) are kept; kind/name/dims follow the
    loaded model. Returns (LMModel, conditioner or None, ConditionerConfig)."""
    p = Path(spec)
    if p.is_file():
        from .checkpoint import load_checkpoint
        from .lm_trainer import LMTrainModule

        state = load_checkpoint(p)
        extra = state.get("extra") or {}
        if state.get("kind") != "lm" or "lm_config" not in extra:
            raise CheckpointError(f"{p}: not an LM training checkpoint")
        lm = LMModel(LMConfig.from_dict(extra["lm_config"]))
        old_cond = _cond_cfg_from_dict(extra["conditioner"])
        conditioner = build_conditioner(old_cond, lm.cfg.dim)
        LMTrainModule(lm, conditioner).load_state_dict(state["modules"]["model"])
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

def load_codec(spec: str, device: str | torch.device = "cpu"):
    """A codec by official name or saved folder (`Codec.from_pretrained`), or the codec of a codec
    training checkpoint (`.pt`)."""
    p = Path(spec)
    if p.is_file() and p.suffix == ".pt":
        from .codec_trainer import codec_from_checkpoint

        return codec_from_checkpoint(p).to(device).eval()
    from ..codec.model import Codec

    return Codec.from_pretrained(spec, device=device).eval()


def export_codec(codec, out_dir: str | os.PathLike) -> Path:
    """The codec package's `save_pretrained` folder (config.json + model.safetensors)."""
    return Path(codec.save_pretrained(out_dir))
