"""Codec configs and weight names of the other implementations -> ours: transformers `EncodecModel`
(config dict and state-dict keys) and audiocraft's stored Hydra config (`xp.cfg` of a compression model)."""
from __future__ import annotations

import re
import typing as tp

import torch

from ..codec.configs import CodecConfig
from ..codec.conv import StreamableConvTranspose1d
from ..codec.model import Codec
from ..codec.quantizer import bandwidth_for_n_q
from ..errors import CheckpointError

StateDict = dict[str, torch.Tensor]


def hf_config_to_codec_config(d: dict, n_q: int | None = None) -> CodecConfig:
    """Map a transformers `EncodecConfig` dict onto CodecConfig (HF defaults for missing fields)."""
    g = lambda k, default: d.get(k, default) if d.get(k, default) is not None else default  # noqa: E731
    hidden = g("hidden_size", 128)
    if g("codebook_dim", hidden) != hidden:
        raise CheckpointError("codebook_dim != hidden_size (projected codebooks) is not supported")
    chunk = d.get("chunk_length_s")
    ratios = list(g("upsampling_ratios", [8, 5, 4, 2]))
    sr = int(g("sampling_rate", 24_000))
    bins = int(g("codebook_size", 1024))
    bws = [float(b) for b in g("target_bandwidths", [1.5, 3.0, 6.0, 12.0, 24.0])]
    if n_q is None:  # transformers' own formula
        frame_rate = -(-sr // int(torch.tensor(ratios).prod()))
        n_q = int(1000 * bws[-1] // (frame_rate * (bins - 1).bit_length()))
    return CodecConfig(
        name=str(d.get("_name_or_path") or "hf_encodec"), sample_rate=sr, channels=int(g("audio_channels", 1)),
        dimension=hidden, n_filters=int(g("num_filters", 32)), ratios=ratios,
        n_residual_layers=int(g("num_residual_layers", 1)), kernel_size=int(g("kernel_size", 7)),
        last_kernel_size=int(g("last_kernel_size", 7)), residual_kernel_size=int(g("residual_kernel_size", 3)),
        dilation_base=int(g("dilation_growth_rate", 2)), compress=int(g("compress", 2)),
        lstm_layers=int(g("num_lstm_layers", 2)), norm=str(g("norm_type", "weight_norm")),
        causal=bool(g("use_causal_conv", True)), pad_mode=str(g("pad_mode", "reflect")),
        true_skip=not bool(g("use_conv_shortcut", True)), trim_right_ratio=float(g("trim_right_ratio", 1.0)),
        n_q=n_q, bins=bins, target_bandwidths=bws, normalize=bool(g("normalize", False)),
        segment=None if chunk is None else float(chunk),
        overlap=float(d["overlap"]) if d.get("overlap") is not None else (0.0 if chunk else 0.01))


def hf_to_tonecraft_keys(sd: StateDict, codec: Codec) -> StateDict:
    """Rename transformers EncodecModel keys to the encodec/audiocraft names we use."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"^(encoder|decoder)\.layers\.", r"\1.model.", k)
        k = re.sub(r"\.(block\.\d+|shortcut)\.(conv|norm)\.", r".\1.conv.\2.", k)
        m = re.match(r"^(encoder|decoder)\.model\.(\d+)\.(conv|norm)\.(.*)$", k)
        if m:
            part, idx, kind, rest = m.groups()
            layer = getattr(codec, part).model[int(idx)]
            wrap = "convtr" if isinstance(layer, StreamableConvTranspose1d) else "conv"
            inner = wrap if kind == "conv" else "norm"
            k = f"{part}.model.{idx}.{wrap}.{inner}.{rest}"
        k = re.sub(r"^quantizer\.layers\.(\d+)\.codebook\.", r"quantizer.vq.layers.\1._codebook.", k)
        out[k] = v
    return out


def _resolve_interpolations(node: tp.Any, root: dict) -> tp.Any:
    """Resolve OmegaConf `${a.b}` references (exported configs are not resolved)."""
    if isinstance(node, dict):
        return {k: _resolve_interpolations(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_interpolations(v, root) for v in node]
    if isinstance(node, str):
        m = re.fullmatch(r"\$\{([\w.]+)\}", node.strip())
        if m:
            cur: tp.Any = root
            for part in m.group(1).split("."):
                if not isinstance(cur, dict) or part not in cur:
                    raise CheckpointError(f"xp.cfg: cannot resolve {node}")
                cur = cur[part]
            return _resolve_interpolations(cur, root)
    return node


def audiocraft_config_to_codec_config(xp: dict, n_q: int | None = None) -> CodecConfig:
    """Map an audiocraft xp.cfg (`encodec`, `seanet`, `rvq` sections) onto CodecConfig."""
    xp = _resolve_interpolations(xp, xp)
    if xp.get("compression_model", "encodec") != "encodec":
        raise CheckpointError(f"unsupported compression_model {xp.get('compression_model')!r}")
    enc = dict(xp.get("encodec") or {})
    seanet = dict(xp.get("seanet") or {})
    rvq = dict(xp.get("rvq") or {})
    if enc.get("quantizer", "rvq") != "rvq" or enc.get("autoencoder", "seanet") != "seanet":
        raise CheckpointError("only seanet autoencoders with an rvq quantizer are supported")
    enc_over, dec_over = dict(seanet.pop("encoder", None) or {}), dict(seanet.pop("decoder", None) or {})
    trim = float(dec_over.pop("trim_right_ratio", 1.0))
    final_act = dec_over.pop("final_activation", None)
    dec_over.pop("final_activation_params", None)
    for over in (enc_over, dec_over):
        for k, v in over.items():
            if seanet.get(k) != v:
                raise CheckpointError(f"xp.cfg: encoder/decoder-specific seanet.{k} is not supported")
    if seanet.get("norm_params"):
        raise CheckpointError("xp.cfg: seanet.norm_params are not supported")
    n_q = int(rvq.get("n_q", 8)) if n_q is None else n_q
    sr = int(enc.get("sample_rate", xp.get("sample_rate", 32_000)))
    ratios = [int(r) for r in seanet.get("ratios", [8, 5, 4, 2])]
    bins = int(rvq.get("bins", 1024))
    frame_rate = sr / int(torch.tensor(ratios).prod())
    return CodecConfig(
        name=str(xp.get("name") or "audiocraft_encodec"), sample_rate=sr,
        channels=int(enc.get("channels", seanet.get("channels", xp.get("channels", 1)))),
        dimension=int(seanet.get("dimension", 128)), n_filters=int(seanet.get("n_filters", 32)), ratios=ratios,
        n_residual_layers=int(seanet.get("n_residual_layers", 1)), kernel_size=int(seanet.get("kernel_size", 7)),
        last_kernel_size=int(seanet.get("last_kernel_size", 7)),
        residual_kernel_size=int(seanet.get("residual_kernel_size", 3)),
        dilation_base=int(seanet.get("dilation_base", 2)), compress=int(seanet.get("compress", 2)),
        lstm_layers=int(seanet.get("lstm", 2)), activation=str(seanet.get("activation", "ELU")),
        activation_params=dict(seanet.get("activation_params") or {"alpha": 1.0}), final_activation=final_act,
        norm=str(seanet.get("norm", "weight_norm")), causal=bool(seanet.get("causal", enc.get("causal", False))),
        pad_mode=str(seanet.get("pad_mode", "constant")), true_skip=bool(seanet.get("true_skip", True)),
        trim_right_ratio=trim, disable_norm_outer_blocks=int(seanet.get("disable_norm_outer_blocks", 0)),
        n_q=n_q, bins=bins, decay=float(rvq.get("decay", 0.99)), kmeans_init=bool(rvq.get("kmeans_init", True)),
        kmeans_iters=int(rvq.get("kmeans_iters", 50)),
        threshold_ema_dead_code=float(rvq.get("threshold_ema_dead_code", 2)),
        q_dropout=bool(rvq.get("q_dropout", False)),
        target_bandwidths=[round(bandwidth_for_n_q(n_q, frame_rate, bins), 6)],
        normalize=bool(enc.get("renormalize", False)))
