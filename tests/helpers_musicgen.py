"""A tiny random `transformers.MusicgenForConditionalGeneration` saved like a hub snapshot.

Sizes: T5 d_model 32 (tiny SentencePiece vocab), EnCodec 1600 Hz with hop 32 (50 frames/s, like the
real 32 kHz model) and 4 codebooks of 64 entries, decoder dim 48 / 2 layers / 4 heads. The decoder
width differs from T5's on purpose: transformers only creates `enc_to_dec_proj` when they differ.
"""
from __future__ import annotations

import os

import torch

from helpers_t5 import tiny_t5_config, tiny_t5_tokenizer

CARD = 64
N_Q = 4
SAMPLE_RATE = 1600
FRAME_RATE = 50


def tiny_encodec_config():
    """1600 Hz EnCodec, hop 32 (50 frames/s), CARD codes: shared by the MusicGen and melody tiny models."""
    from transformers import EncodecConfig

    return EncodecConfig(
        sampling_rate=SAMPLE_RATE, audio_channels=1, num_filters=4, hidden_size=8, upsampling_ratios=[8, 4],
        num_residual_layers=1, num_lstm_layers=2, codebook_size=CARD, target_bandwidths=[1.2],
        use_causal_conv=False, pad_mode="reflect", norm_type="weight_norm", compress=2, trim_right_ratio=1.0,
        use_conv_shortcut=False, normalize=False, chunk_length_s=None, overlap=None,
    )


@torch.no_grad()
def spread_weights_(model, extra=()) -> None:
    """Random init leaves LayerNorms at 1/0 and tiny logits; spread everything so tokens depend on the input.
    `extra`: more parameters (e.g. the melody model's chroma projection) drawn from N(0, 1)."""
    for name, p in model.decoder.named_parameters():
        if "layer_norm" in name:
            p.add_(torch.randn_like(p) * 0.2)
        else:
            p.normal_(0, 0.2 if p.dim() > 1 else 0.1)
    model.enc_to_dec_proj.bias.normal_()
    for p in extra:
        p.normal_()
    for q in model.audio_encoder.quantizer.layers:
        q.codebook.embed.normal_()


def set_generation_defaults(model) -> None:
    """Special token = CARD everywhere, CFG 3, 30 s maximum: what the converted hub configs hold."""
    gen = model.generation_config
    gen.decoder_start_token_id = CARD
    gen.pad_token_id = CARD
    gen.bos_token_id = CARD
    gen.guidance_scale = 3.0
    gen.max_length = 30 * FRAME_RATE


def tiny_hf_musicgen(seed: int = 0, stereo: bool = False):
    from transformers import MusicgenConfig, MusicgenDecoderConfig, MusicgenForConditionalGeneration

    n_q = 2 * N_Q if stereo else N_Q
    text = tiny_t5_config()
    audio = tiny_encodec_config()
    decoder = MusicgenDecoderConfig(
        vocab_size=CARD, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, ffn_dim=192,
        num_codebooks=n_q, audio_channels=2 if stereo else 1, max_position_embeddings=512, dropout=0.0,
        attention_dropout=0.0, activation_dropout=0.0, pad_token_id=CARD, bos_token_id=CARD,
    )
    config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict())
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(config).eval()
    spread_weights_(model)
    set_generation_defaults(model)
    return model


def save_tiny_hf_musicgen(directory: str | os.PathLike, seed: int = 0, stereo: bool = False):
    """Save the tiny model and the tiny T5 tokenizer in `directory`; returns the model."""
    model = tiny_hf_musicgen(seed, stereo)
    model.save_pretrained(str(directory))
    tiny_t5_tokenizer().save_pretrained(str(directory))
    return model


def hf_generate(model, texts: list[str], frames: int, guidance_scale: float = 3.0, **generate_kwargs):
    """Greedy HF generation of `frames` frames -> (codes [B, K, frames], audio [B, C, samples]).
    `generate_kwargs` go to `model.generate` (e.g. `input_features=` chroma for MusicGen-melody)."""
    captured = []
    decode = model.audio_encoder.decode

    def spy(codes, *args, **kwargs):
        captured.append(codes[0])
        return decode(codes, *args, **kwargs)

    model.audio_encoder.decode = spy
    # HF runs T + (codebooks per channel) - 1 steps after the start token (delay pattern per channel).
    per_channel = model.decoder.num_codebooks // model.decoder.config.audio_channels
    try:
        inputs = tiny_t5_tokenizer()(texts, padding=True, return_tensors="pt")
        with torch.no_grad():
            audio = model.generate(**inputs, do_sample=False, guidance_scale=guidance_scale,
                                   max_new_tokens=frames + per_channel - 1, **generate_kwargs)
    finally:
        del model.audio_encoder.decode
    if len(captured) == 2:  # stereo: decoded as left = codes[:, 0::2], right = codes[:, 1::2]
        left, right = captured
        return torch.stack([left, right], dim=2).flatten(1, 2), audio
    return captured[0], audio
