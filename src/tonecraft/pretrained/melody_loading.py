"""Weights of the MusicGen-melody models: split / convert checkpoints into (LM, text proj, chroma proj).

A melody model is an LM *without* cross-attention whose conditions are prepended (audiocraft/modules/conditioners.py
`ConditionFuser`, `prepend` for `self_wav` and `description`; MusicGen paper section 2.3):
`prefix = [chroma_proj(235 one-hot frames), text_proj(T5 states) * mask]`, then the token embeddings.

Key layouts (audiocraft/models/lm.py `LMModel`; transformers models/musicgen_melody/modeling_musicgen_melody.py):

    audiocraft `best_state`                                      transformers MusicgenMelodyForConditionalGeneration
    emb.* / transformer.* / out_norm.* / linears.*               decoder.model.decoder.* / decoder.lm_heads.*
    condition_provider.conditioners.description.output_proj.*    enc_to_dec_proj.*        (T5 -> D)
    condition_provider.conditioners.self_wav.output_proj.*       audio_enc_to_dec_proj.*  (12 -> D)
    condition_provider.conditioners.self_wav.chroma.spec.window  (none; a torchaudio buffer, ignored)
    (no cross_attention / norm_cross keys)                       (no encoder_attn keys)

The HF composite file also holds `text_encoder.*` (T5) and `audio_encoder.*` (EnCodec); they are not part of
these three state dicts (the T5 and codec loaders read them).

Every function returns a `MelodyWeights(lm, text_proj, chroma_proj)`: `lm` loads into
`tonecraft.lm.model.LMModel(cfg with cross_attention=False)`, `text_proj` into `TextConditioner.output_proj`
(keys `weight`, `bias`), `chroma_proj` into `ChromaConditioner.output_proj`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import CheckpointError
from ..lm.config import LMConfig
from .lm_convert import lm_state_dict_from_hf, lm_state_dict_to_hf

AC_TEXT = "condition_provider.conditioners.description.output_proj."
AC_CHROMA = "condition_provider.conditioners.self_wav.output_proj."
AC_IGNORED = ("condition_provider.conditioners.self_wav.chroma.",)  # spec.window buffer (and any fbanks)
HF_TEXT = "enc_to_dec_proj."
HF_CHROMA = "audio_enc_to_dec_proj."
HF_DECODER = "decoder."
HF_SUBMODELS = ("text_encoder.", "audio_encoder.")


@dataclass
class MelodyWeights:
    lm: dict[str, torch.Tensor]
    text_proj: dict[str, torch.Tensor]  # {"weight": [D, text_dim], "bias": [D]}
    chroma_proj: dict[str, torch.Tensor]  # {"weight": [D, 12], "bias": [D]}

    def to_audiocraft(self) -> dict[str, torch.Tensor]:
        """One audiocraft-style `best_state` (LM keys + condition_provider projections)."""
        out = dict(self.lm)
        out.update({AC_TEXT + k: v for k, v in self.text_proj.items()})
        out.update({AC_CHROMA + k: v for k, v in self.chroma_proj.items()})
        return out


def _check_proj(proj: dict[str, torch.Tensor], what: str, in_dim: int | None = None) -> dict[str, torch.Tensor]:
    if set(proj) != {"weight", "bias"}:
        raise CheckpointError(f"{what}: expected weight and bias, found {sorted(proj) or 'nothing'}")
    w, b = proj["weight"], proj["bias"]
    if w.dim() != 2 or b.shape != (w.shape[0],) or (in_dim is not None and w.shape[1] != in_dim):
        raise CheckpointError(f"{what}: bad shapes weight {tuple(w.shape)}, bias {tuple(b.shape)}")
    return proj


def _check_melody_lm(lm: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    if not any(k.startswith("emb.") for k in lm):
        raise CheckpointError(f"{source}: no LM weights found (expected emb.* / transformer.* keys)")
    cross = [k for k in lm if ".cross_attention." in k or ".norm_cross." in k]
    if cross:
        raise CheckpointError(
            f"{source}: has cross-attention weights ({cross[0]} ...), so it is a text-only MusicGen, not a melody model"
        )
    return lm


def melody_weights_from_audiocraft(best_state: dict[str, torch.Tensor], source: str = "checkpoint") -> MelodyWeights:
    """Split an audiocraft melody `best_state` (from `state_dict.bin`) into LM / text proj / chroma proj."""
    lm: dict[str, torch.Tensor] = {}
    text: dict[str, torch.Tensor] = {}
    chroma: dict[str, torch.Tensor] = {}
    for key, t in best_state.items():
        if key.startswith(AC_TEXT):
            text[key[len(AC_TEXT):]] = t
        elif key.startswith(AC_CHROMA):
            chroma[key[len(AC_CHROMA):]] = t
        elif key.startswith(AC_IGNORED):
            continue
        elif key.startswith("condition_provider."):
            raise CheckpointError(f"{source}: unexpected conditioner weights {key!r} for a melody model")
        else:
            lm[key] = t
    return MelodyWeights(_check_melody_lm(lm, source), _check_proj(text, f"{source}: text projection"),
                         _check_proj(chroma, f"{source}: chroma projection"))


def melody_weights_from_hf(sd: dict[str, torch.Tensor], source: str = "checkpoint") -> MelodyWeights:
    """transformers `MusicgenMelodyForConditionalGeneration` state dict -> MelodyWeights.

    `text_encoder.*` / `audio_encoder.*` are skipped. A composite whose T5 width equals the decoder width has no
    `enc_to_dec_proj` in HF (identity); that never happens for released models and is refused here.
    """
    dec = {k: v for k, v in sd.items() if k.startswith(HF_DECODER)}
    text = {k[len(HF_TEXT):]: v for k, v in sd.items() if k.startswith(HF_TEXT)}
    chroma = {k[len(HF_CHROMA):]: v for k, v in sd.items() if k.startswith(HF_CHROMA)}
    other = [k for k in sd if not k.startswith((HF_DECODER, HF_TEXT, HF_CHROMA) + HF_SUBMODELS)]
    if other:
        raise CheckpointError(f"{source}: unexpected keys for a MusicGen-melody checkpoint: {other[:3]}")
    try:
        lm = lm_state_dict_from_hf(dec, prefix=HF_DECODER)
    except KeyError as exc:
        raise CheckpointError(f"{source}: {exc.args[0]}") from None
    return MelodyWeights(_check_melody_lm(lm, source), _check_proj(text, f"{source}: enc_to_dec_proj"),
                         _check_proj(chroma, f"{source}: audio_enc_to_dec_proj"))


def melody_weights_to_hf(weights: MelodyWeights) -> dict[str, torch.Tensor]:
    """MelodyWeights -> the decoder + projection keys of `MusicgenMelodyForConditionalGeneration`
    (load with `strict=False` next to the model's own text_encoder/audio_encoder weights)."""
    out = lm_state_dict_to_hf(weights.lm, prefix=HF_DECODER)
    out.update({HF_TEXT + k: v for k, v in weights.text_proj.items()})
    out.update({HF_CHROMA + k: v for k, v in weights.chroma_proj.items()})
    return out


def lm_config_from_hf_melody(config: dict) -> tuple[LMConfig, dict]:
    """LMConfig and chroma settings from a transformers melody `config.json` dict.

    Returns (LMConfig(cross_attention=False, ...), {"num_chroma": 12, "chroma_length": 235}).
    """
    dec = config.get("decoder", config)
    try:
        dim, heads = int(dec["hidden_size"]), int(dec["num_attention_heads"])
        ffn, n_q = int(dec["ffn_dim"]), int(dec.get("num_codebooks", 4))
        cfg = LMConfig(
            dim=dim, num_heads=heads, num_layers=int(dec["num_hidden_layers"]), n_q=n_q,
            card=int(dec.get("vocab_size", 2048)), hidden_scale=ffn // dim, cross_attention=False,
            delays=[k // 2 for k in range(n_q)] if int(dec.get("audio_channels", 1)) == 2 else None,
        )
    except KeyError as exc:
        raise CheckpointError(f"melody config.json: missing decoder field {exc.args[0]!r}") from None
    if ffn != cfg.ffn_dim:
        raise CheckpointError(f"melody config.json: ffn_dim {ffn} is not a multiple of hidden_size {dim}")
    chroma = {"num_chroma": int(config.get("num_chroma", 12)), "chroma_length": int(config.get("chroma_length", 235))}
    return cfg, chroma


__all__ = [
    "MelodyWeights", "lm_config_from_hf_melody", "melody_weights_from_audiocraft", "melody_weights_from_hf",
    "melody_weights_to_hf",
]
