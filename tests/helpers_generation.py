"""Tiny random generators for the generation-surface tests (continuation, long-form, streaming, AudioGen).

`tiny_generator(...)` builds a MusicGen (or AudioGen) from a tiny random codec, LM and T5 conditioner. The
codec rate is a parameter: the long-form test uses 1000 Hz with hop 200 (5 frames/s) so 70 s of audio is
350 frames and runs in seconds.
"""
from __future__ import annotations

import torch

from helpers_t5 import tiny_t5_encoder, tiny_t5_tokenizer
from tonecraft.codec.configs import CodecConfig
from tonecraft.codec.model import Codec
from tonecraft.conditioning.t5 import T5Conditioner, T5Encoder
from tonecraft.lm.config import LMConfig, stereo_delays
from tonecraft.lm.model import LMModel

CARD = 64


def tiny_codec(sample_rate: int = 1600, ratios=(8, 4), n_q: int = 4, seed: int = 0) -> Codec:
    torch.manual_seed(seed)
    codec = Codec(CodecConfig(sample_rate=sample_rate, channels=1, dimension=8, n_filters=4, ratios=list(ratios),
                              n_q=n_q, bins=CARD, lstm_layers=1, kmeans_init=False))
    with torch.no_grad():  # codebooks at the scale of the random encoder's output, so codes vary with the input
        frames = codec.encoder(0.3 * torch.randn(4, 1, 64 * codec.hop_length)).transpose(1, 2).reshape(-1, 8)
        for q, layer in enumerate(codec.quantizer.layers):
            idx = torch.randint(0, frames.shape[0], (CARD,))
            layer._codebook.embed.copy_((frames[idx] - frames.mean(0)) * 0.5 ** q + (frames.mean(0) if q == 0 else 0))
    return codec.eval().fold_weight_norm()


def tiny_lm(n_q: int = 4, stereo: bool = False, cross_attention: bool = True, seed: int = 0) -> LMModel:
    torch.manual_seed(seed)
    k = 2 * n_q if stereo else n_q
    return LMModel(LMConfig(dim=32, num_heads=2, num_layers=2, n_q=k, card=CARD, cross_attention=cross_attention,
                            delays=stereo_delays(k) if stereo else None)).eval()


def tiny_conditioner(dim: int = 32) -> T5Conditioner:
    cond = T5Conditioner(T5Encoder(tiny_t5_encoder(), tiny_t5_tokenizer(), "tiny"), output_dim=dim)
    with torch.no_grad():
        cond.output_proj.weight.mul_(5)
    return cond.eval()


def tiny_generator(cls=None, sample_rate: int = 1600, ratios=(8, 4), max_duration: float = 1.0,
                   stereo: bool = False, seed: int = 0):
    from tonecraft.models.musicgen import MusicGen

    cls = cls or MusicGen
    return cls("tiny", tiny_codec(sample_rate, ratios, seed=seed), tiny_lm(stereo=stereo, seed=seed),
               tiny_conditioner(), max_duration=max_duration)


def tiny_export(directory, **config):
    """A tiny random 16 kHz tonecraft-lm export (`eval.tiny`, the shipped models' layout) with `config` merged
    into its config.json (e.g. family="audiogen", or a checkpoint's own sampling defaults)."""
    import json
    from pathlib import Path

    from tonecraft.eval.tiny import save_tiny_random_model

    directory = Path(directory)
    save_tiny_random_model(directory, seed=0, sample_rate=16000)
    path = directory / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | config))
    return directory
