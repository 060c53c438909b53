"""Reference codecs with random weights for parity tests (encodec package, transformers)."""
from __future__ import annotations

import re

import torch

YAML_32K = """\
sample_rate: 32000
channels: 1
compression_model: encodec
encodec:
  autoencoder: seanet
  quantizer: rvq
  sample_rate: ${sample_rate}
  channels: ${channels}
  causal: false
  renormalize: false
seanet:
  dimension: 128
  channels: ${channels}
  causal: ${encodec.causal}
  n_filters: 64
  n_residual_layers: 1
  ratios: [8, 5, 4, 4]
  activation: ELU
  activation_params: {"alpha": 1.}
  norm: weight_norm
  norm_params: {}
  kernel_size: 7
  residual_kernel_size: 3
  last_kernel_size: 7
  dilation_base: 2
  pad_mode: PAD_MODE
  true_skip: true
  compress: 2
  lstm: 2
  disable_norm_outer_blocks: 0
  decoder:
    trim_right_ratio: 1.0
    final_activation: null
    final_activation_params: null
  encoder: {}
rvq:
  n_q: 4
  q_dropout: false
  bins: 2048
  decay: 0.99
  kmeans_init: true
  kmeans_iters: 50
  threshold_ema_dead_code: 2
  orthogonal_reg_weight: 0.0
  orthogonal_reg_active_codes_only: false
"""


def randomize_codebooks_(codebooks, scale: float = 0.5) -> None:
    """Random-init codebooks are zeros / not `inited`: give them random entries."""
    for cb in codebooks:
        cb.embed.copy_(torch.randn_like(cb.embed) * scale)
        cb.embed_avg.copy_(cb.embed)
        cb.cluster_size.fill_(1.0)
        cb.inited.fill_(1.0)


def encodec_reference(name: str, seed: int = 0):
    """encodec package model (`encodec_24khz` / `encodec_48khz`) with random weights and codebooks."""
    from encodec import EncodecModel
    torch.manual_seed(seed)
    model = {"encodec_24khz": EncodecModel.encodec_model_24khz,
             "encodec_48khz": EncodecModel.encodec_model_48khz}[name](pretrained=False)
    with torch.no_grad():
        randomize_codebooks_(layer._codebook for layer in model.quantizer.vq.layers)
    return model.eval()


def hf_encodec_32khz(pad_mode: str = "reflect", seed: int = 0):
    """transformers EncodecModel with the facebook/encodec_32khz config and random weights."""
    from transformers import EncodecConfig, EncodecModel
    torch.manual_seed(seed)
    cfg = EncodecConfig(sampling_rate=32000, audio_channels=1, upsampling_ratios=[8, 5, 4, 4], num_filters=64,
                        codebook_size=2048, target_bandwidths=[2.2], use_causal_conv=False, normalize=False,
                        use_conv_shortcut=False, pad_mode=pad_mode, hidden_size=128, num_lstm_layers=2,
                        chunk_length_s=None, overlap=None)
    model = EncodecModel(cfg)
    with torch.no_grad():
        randomize_codebooks_(layer.codebook for layer in model.quantizer.layers)
    return model.eval()


def hf_to_audiocraft_state_dict(sd: dict, legacy_weight_norm: bool = True) -> dict:
    """transformers EnCodec keys -> audiocraft keys (transformers models/encodec/convert_encodec_checkpoint_to_pytorch.py, reversed), written out independently of the
    loader under test. Decoder layers 3, 6, 9, 12 are the transposed convolutions."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"^(encoder|decoder)\.layers\.", r"\1.model.", k)
        k = re.sub(r"\.(block\.\d+|shortcut)\.conv\.", r".\1.conv.conv.", k)
        m = re.match(r"^(encoder|decoder)\.model\.(\d+)\.conv\.(.*)$", k)
        if m:
            part, idx, rest = m.groups()
            wrap = "convtr.convtr" if part == "decoder" and int(idx) in (3, 6, 9, 12) else "conv.conv"
            k = f"{part}.model.{idx}.{wrap}.{rest}"
        k = re.sub(r"^quantizer\.layers\.(\d+)\.codebook\.", r"quantizer.vq.layers.\1._codebook.", k)
        if legacy_weight_norm:
            k = k.replace("parametrizations.weight.original0", "weight_g")
            k = k.replace("parametrizations.weight.original1", "weight_v")
        out[k] = v.clone()
    return out

