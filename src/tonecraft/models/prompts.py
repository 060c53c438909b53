"""What goes into the LM besides sampling settings: the text descriptions (checked), their conditions
(text embeddings, pooled prefix, bpm) with the CFG null condition, and audio prompts encoded to tokens."""
from __future__ import annotations

import torch

from ..audio import check_finite, convert_audio
from ..conditioning.tempo import bpm_tensor
from ..errors import AudioError, ConfigError
from ..lm.generate import ConditionTensors


def check_descriptions(descriptions) -> list[str | None]:
    """A list of texts (or None for "no text"); a single string is a batch of one."""
    if isinstance(descriptions, str):
        descriptions = [descriptions]
    if descriptions is None:
        raise ConfigError("descriptions is None: pass a list of texts (or Nones)")
    descriptions = list(descriptions)
    if not descriptions:
        raise ConfigError("descriptions is empty: pass at least one text (or None)")
    for d in descriptions:
        if d is not None and not isinstance(d, str):
            raise ConfigError(f"descriptions must be strings or None, got {type(d).__name__}")
    return descriptions


@torch.inference_mode()
def text_conditions(model, descriptions: list[str | None]) -> tuple[ConditionTensors, ConditionTensors]:
    """Text -> cross-attention condition (+ pooled prefix, + bpm for a beat-grid LM) and its CFG null
    (all zeros, same shape). The bpm is read from the text once, when the conditioner tokenizes it."""
    B = len(descriptions)
    conditioner, cfg = model.conditioner, model.lm.cfg
    if all(not d for d in descriptions) or conditioner is None:
        if conditioner is None and any(descriptions):
            raise ConfigError(f"{model.name} has no text conditioning; descriptions must be None")
        if not cfg.cross_attention:
            return ConditionTensors(), ConditionTensors()
        zeros = torch.zeros(B, 1, cfg.dim, device=model.device)
        # a pooled-prefix model was trained with the (zero) prefix position present for null texts too
        prefix = zeros if getattr(conditioner, "pooled", False) else None
        return ConditionTensors(cross=zeros, prefix=prefix), ConditionTensors(cross=zeros, prefix=prefix)
    inputs = conditioner.tokenize(descriptions)
    emb, _mask, pooled = conditioner.encode_all(inputs)
    null_pooled = None if pooled is None else torch.zeros_like(pooled)
    bpm = None
    if model.lm.beat_grid is not None:  # a beat-grid LM always comes with a tempo conditioner (the trainer checks)
        bpm = inputs["bpm"] if "bpm" in inputs else bpm_tensor(descriptions)
    return (ConditionTensors(cross=emb, prefix=pooled, bpm=bpm),
            ConditionTensors(cross=torch.zeros_like(emb), prefix=null_pooled))


def encode_prompt(model, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Audio [C, T] / [B, C, T] at `sample_rate` -> LM tokens [B, K, ceil(T' / hop)] (T' at the model rate).
    Stereo models encode each channel with the mono codec and interleave [L0, R0, L1, R1, ...]."""
    wav = torch.as_tensor(wav)
    if wav.dim() == 2:
        wav = wav[None]
    if wav.dim() != 3:
        raise AudioError(f"prompt audio must be shaped [channels, samples] or [batch, channels, samples], "
                         f"got {tuple(wav.shape)}")
    if wav.shape[-1] == 0 or wav.shape[0] == 0:
        raise AudioError("the prompt audio is empty")
    wav = wav.detach().to("cpu", torch.float32)
    check_finite(wav, "prompt audio")
    wav = convert_audio(wav, sample_rate, model.sample_rate, model.audio_channels).to(model.device)
    stereo = model.stereo_interleaved
    n_q = model.lm.cfg.n_q // (2 if stereo else 1)
    with torch.inference_mode():
        B = wav.shape[0]
        codes, scale = model.codec.encode(wav.reshape(B * 2, 1, wav.shape[-1]) if stereo else wav)
        if scale is not None:
            raise ConfigError(f"{model.name}: the codec rescales its input (normalize=True), which token "
                              "prompts cannot carry")
        if codes.shape[1] < n_q:
            raise ConfigError(f"{model.name}: the codec gives {codes.shape[1]} codebooks at its bandwidth, "
                              f"the LM needs {n_q}")
        codes = codes[:, :n_q]
        if stereo:
            codes = codes.view(B, 2, n_q, -1).transpose(1, 2).reshape(B, 2 * n_q, -1)
    return codes.long().clone()
