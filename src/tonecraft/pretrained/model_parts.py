"""The LM and the conditioners of a checkpoint, built from already converted weights, with clear errors when
the weights do not match the config. Shared by every checkpoint layout (audiocraft, transformers, our export)."""
from __future__ import annotations

import os

import torch

from ..conditioning.base import TextConditioner, TextEncoder
from ..conditioning.t5 import T5Encoder
from ..errors import CheckpointError
from ..lm.config import LMConfig
from ..lm.model import LMModel


def build_lm(cfg: LMConfig, sd: dict[str, torch.Tensor], source: str) -> LMModel:
    """An LMModel holding `sd`, built without random init (meta device) so large models load fast."""
    with torch.device("meta"):
        lm = LMModel(cfg)
    dtypes = {n: p.dtype for n, p in lm.named_parameters()}
    expected, found = set(dtypes), set(sd)
    if expected != found:
        missing, extra = sorted(expected - found), sorted(found - expected)
        raise CheckpointError(f"{source}: LM weights do not match the config ({cfg.num_layers} layers, dim {cfg.dim}, "
                              f"n_q {cfg.n_q}): missing {missing[:3]}, unexpected {extra[:3]}")
    try:
        lm.load_state_dict({k: v.to(dtypes[k]) for k, v in sd.items()}, strict=True, assign=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: LM weight shapes do not match the config: {str(exc)[:300]}") from None
    return lm.eval()


def make_text_conditioner(encoder: TextEncoder | str | os.PathLike, dim: int, proj: dict[str, torch.Tensor],
                          source: str) -> TextConditioner:
    if not isinstance(encoder, TextEncoder):
        encoder = T5Encoder.from_pretrained(encoder)
    if not proj and encoder.dim == dim:  # transformers omits enc_to_dec_proj when the widths match
        proj = {"weight": torch.eye(dim), "bias": torch.zeros(dim)}
    if set(proj) != {"weight", "bias"}:
        raise CheckpointError(f"{source}: the text projection (weight + bias) is missing")
    if tuple(proj["weight"].shape) != (dim, encoder.dim):
        raise CheckpointError(f"{source}: text projection is {tuple(proj['weight'].shape)}, expected "
                              f"({dim}, {encoder.dim}) for text encoder {encoder.name}")
    cond = TextConditioner(encoder, dim)
    cond.output_proj.load_state_dict({k: v.float() for k, v in proj.items()})
    return cond.eval()


def make_chroma_conditioner(dim: int, proj: dict[str, torch.Tensor], source: str, **settings):
    """The melody conditioner of a melody checkpoint: ChromaConditioner(dim, **settings) + its projection.

    No stem separator is attached (no demucs weights ship): chroma comes from the full mix unless the user
    sets `stem_separator` (see conditioning/chroma.py)."""
    from ..conditioning.chroma import ChromaConditioner

    cond = ChromaConditioner(dim, **settings)
    if set(proj) != {"weight", "bias"} or tuple(proj["weight"].shape) != (dim, cond.n_chroma):
        raise CheckpointError(f"{source}: the chroma projection must be weight [{dim}, {cond.n_chroma}] + bias, "
                              f"found {({k: tuple(v.shape) for k, v in proj.items()})}")
    cond.output_proj.load_state_dict({k: v.float() for k, v in proj.items()})
    return cond.eval()
