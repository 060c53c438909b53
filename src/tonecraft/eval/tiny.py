"""A tiny random codec + LM export (tonecraft-lm format with a hash text encoder) for tests and smoke runs.

Quality is chance level by construction; it exercises the whole evaluation path without a trained model."""
from __future__ import annotations

import os
from pathlib import Path

import torch


def tiny_codec_config(sample_rate: int = 32_000):
    from ..codec.configs import CodecConfig

    return CodecConfig(name="tiny_random", sample_rate=sample_rate, channels=1, n_filters=4, ratios=[8, 5, 4, 4],
                       dimension=16, n_q=2, bins=32, lstm_layers=0, causal=False, norm="weight_norm",
                       pad_mode="reflect", true_skip=True)


def save_tiny_random_model(directory: str | os.PathLike, seed: int = 0, sample_rate: int = 32_000) -> Path:
    """A tonecraft-lm export in `directory` (the shipped default's layout) with its codec in `<directory>/codec`."""
    from ..codec.model import Codec
    from ..lm.config import LMConfig
    from ..lm.model import LMModel
    from ..conditioning.factory import ConditionerConfig, build_conditioner
    from ..pretrained.export_format import export_lm

    out = Path(directory)
    torch.manual_seed(seed)
    codec = Codec(tiny_codec_config(sample_rate)).eval()
    with torch.no_grad():
        for name, buf in codec.quantizer.named_buffers():  # random-init codebooks are zeros
            if name.endswith("._codebook.embed") or name.endswith("._codebook.embed_avg"):
                buf.normal_()
            elif name.endswith("inited"):
                buf.fill_(1.0)
    codec.save_pretrained(out / "codec")
    lm_cfg = LMConfig(dim=32, num_heads=2, num_layers=1, n_q=codec.total_n_q, card=codec.cardinality)
    cond_cfg = ConditionerConfig(kind="hash", dim=16, vocab=256)
    lm = LMModel(lm_cfg)
    cond = build_conditioner(cond_cfg, lm_cfg.dim)
    state = torch.nn.ModuleDict({"lm": lm, "conditioner": cond}).state_dict()  # the trainer's tensor names
    export_lm(out, state, lm_cfg, cond_cfg, conditioner=cond,
              extra={"codec": "codec", "sample_rate": sample_rate,
                     "frame_rate": codec.frame_rate, "max_duration": 10.0})
    return out
