"""A tiny random `transformers.MusicgenMelodyForConditionalGeneration` saved like a hub snapshot.

Same tiny T5 / EnCodec as `helpers_musicgen` (1600 Hz, 50 frames/s, 4 x 64 codes); decoder dim 48, no
cross-attention; chroma_length 235 (30 s). Weights are spread like in `helpers_musicgen` so the tokens depend
on the text and the chroma.
"""
from __future__ import annotations

import os

import torch

from helpers_musicgen import CARD, N_Q, set_generation_defaults, spread_weights_, tiny_encodec_config
from helpers_t5 import tiny_t5_config, tiny_t5_tokenizer

CHROMA_LENGTH = 235


def tiny_hf_melody(seed: int = 0, stereo: bool = False):
    from transformers import (MusicgenMelodyConfig, MusicgenMelodyDecoderConfig,
                              MusicgenMelodyForConditionalGeneration)

    n_q = 2 * N_Q if stereo else N_Q
    audio = tiny_encodec_config()
    decoder = MusicgenMelodyDecoderConfig(
        vocab_size=CARD, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, ffn_dim=192,
        num_codebooks=n_q, audio_channels=2 if stereo else 1, max_position_embeddings=1024, dropout=0.0,
        attention_dropout=0.0, activation_dropout=0.0, pad_token_id=CARD, bos_token_id=CARD,
    )
    config = MusicgenMelodyConfig(text_encoder=tiny_t5_config().to_dict(), audio_encoder=audio.to_dict(),
                                  decoder=decoder.to_dict(), chroma_length=CHROMA_LENGTH)
    torch.manual_seed(seed)
    model = MusicgenMelodyForConditionalGeneration(config).eval()
    spread_weights_(model, extra=(model.audio_enc_to_dec_proj.weight, model.audio_enc_to_dec_proj.bias))
    set_generation_defaults(model)
    return model


def save_tiny_hf_melody(directory: str | os.PathLike, seed: int = 0, stereo: bool = False):
    """Save the tiny melody model and the tiny T5 tokenizer in `directory`; returns the model."""
    model = tiny_hf_melody(seed, stereo)
    model.save_pretrained(str(directory))
    tiny_t5_tokenizer().save_pretrained(str(directory))
    return model
