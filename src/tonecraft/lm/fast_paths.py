"""Decoding-time replacements of the LM's linear layers, each used only where the CPU supports it.

`LMModel.optimize_decoding` calls `prepare`, which gives every transformer linear a `packed` replacement
(read by `linear`) or none, after asking `cpu_features`:
- bfloat16 LM: weights reordered for oneDNN (`torch.ops.mkldnn._reorder_linear_weight`, a private op that
  PyTorch refuses on CPUs without native bf16: AVX512-BW/VL/DQ or AVX-NE-CONVERT), else plain bf16.
- "int8": dynamic int8 linears (weights int8 per output channel, activations quantised per call; the first
  layer stays float32). A decoding step reads every weight once for one or two rows of activations, so it is
  bound by memory bandwidth and 4x fewer bytes make it several times faster. Built on PyTorch's public dynamic-quantisation modules
  (`torch.ao.nn.quantized.dynamic.Linear`: fbgemm/x86 kernels with AVX2, qnnpack on ARM); they are marked
  deprecated in favour of the separate `torchao` package but are the int8 CPU kernels shipped inside torch,
  so we silence only that notice.
- float32 LM: torch.compile of the decoding step where a C++ compiler exists (set up by the model).
`linear` also takes MKL's faster W @ x.T form for few-row float32 products, only on AVX-512 CPUs.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import cpu_features

_TRANSPOSED_GEMV = [False]  # cpu_features' answer, kept where the hot path can read it cheaply


def refresh() -> None:
    """Re-read `transposed_gemv` from cpu_features (at model construction)."""
    _TRANSPOSED_GEMV[0] = cpu_features.supports("transposed_gemv")


def linear(x: torch.Tensor, w: torch.Tensor, packed=None) -> torch.Tensor:
    """x @ w.T without bias. `packed` is a decoding-time replacement of w (see `prepare`): a oneDNN-reordered
    bf16 tensor, or a callable (int8 linear). On AVX-512 CPUs MKL runs a few-row float32 product about twice as
    fast as W @ x.T (GEMV-shaped); on AVX2 it is slower, so `cpu_features` decides."""
    if packed is not None:
        if isinstance(packed, torch.Tensor):
            return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")
        return packed(x)
    rows = x.numel() // x.shape[-1]
    if (rows <= 8 and x.dtype == torch.float32 and x.device.type == "cpu" and _TRANSPOSED_GEMV[0]
            and not torch.compiler.is_compiling()):
        # MKL takes the fast path only for a transposed view of a contiguous x
        y = torch.mm(w, x.reshape(rows, x.shape[-1]).contiguous().t())
        return y.t().contiguous().view(*x.shape[:-1], w.shape[0])
    return F.linear(x, w)


def int8_linear(weight: torch.Tensor) -> nn.Module:
    """A callable x -> x @ weight.T with `weight` [out, in] quantised to int8 per output row (float32 in/out)."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig

    dense = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    dense.weight = nn.Parameter(weight.detach().float().contiguous(), requires_grad=False)
    dense.qconfig = per_channel_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        return DynamicLinear.from_float(dense)


def onednn_bf16(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight)


def pack_linears(layers, pack) -> None:
    """Give every transformer linear a replacement `pack(weight)`, or none with `pack=None`."""
    for layer in layers:
        parts = [(layer, {"linear1": layer.linear1.weight, "linear2": layer.linear2.weight}),
                 (layer.self_attn, {"qkv": layer.self_attn.in_proj_weight, "out": layer.self_attn.out_proj.weight})]
        if layer.cross_attention is not None:
            ca, D = layer.cross_attention, layer.norm1.weight.shape[0]
            parts.append((ca, {"q": ca.in_proj_weight[:D].contiguous(), "out": ca.out_proj.weight}))
        for module, weights in parts:
            module.packed = {} if pack is None else {name: pack(w) for name, w in weights.items()}


def prepare(layers, layer_dtype: torch.dtype, device: torch.device, enable: bool, dtype: str | None) -> str:
    """Pack `layers` for the fastest supported path of `dtype` (None: the LM's own precision); say once which
    path was taken and why others were not. Returns "eager", "onednn-bf16", "int8" or "compiled" (for the
    caller to set up)."""
    pack_linears(layers, None)
    if not enable:
        return "eager"
    if dtype not in (None, "int8", "float32", "bfloat16"):
        raise ValueError(f"optimize_decoding: dtype must be None, 'float32', 'bfloat16' or 'int8', got {dtype!r}")
    if dtype == "int8":
        return _prepare_int8(layers, layer_dtype, device)
    if dtype is not None and getattr(torch, dtype) != layer_dtype:
        raise ValueError(f"optimize_decoding(dtype={dtype!r}) on a {layer_dtype} LM: load it in {dtype}")
    if device.type != "cpu":
        cpu_features.announce("decoding", f"eager {layer_dtype} on {device.type}")
        return "eager"
    if layer_dtype == torch.bfloat16:
        reason = cpu_features.why_not("onednn_prepack")
        if reason is not None:
            cpu_features.announce("decoding", f"plain bfloat16 (oneDNN prepacking off: {reason})")
            return "eager"
        pack_linears(layers, onednn_bf16)
        cpu_features.announce("decoding", "bfloat16 with oneDNN-prepacked weights")
        return "onednn-bf16"
    reason = cpu_features.why_not("compile")
    if reason is not None:
        cpu_features.announce("decoding", f"eager float32 (torch.compile off: {reason})")
        return "eager"
    cpu_features.announce("decoding", "float32 through torch.compile (the first generation compiles)")
    return "compiled"


def _prepare_int8(layers, layer_dtype: torch.dtype, device: torch.device) -> str:
    if layer_dtype != torch.float32:
        raise ValueError(f"int8 decoding quantises a float32 LM; this one is {layer_dtype}")
    reason = cpu_features.why_not("int8") if device.type == "cpu" else "int8 kernels are CPU-only"
    if reason is not None:
        cpu_features.announce("decoding", f"eager float32 (int8 off: {reason})")
        return "eager"
    engine = cpu_features.cpu_features().quantized_engine
    if torch.backends.quantized.engine != engine:
        torch.backends.quantized.engine = engine
    # The first layer stays float32: its input (summed codebook embeddings and the condition prefix) has outlier
    # channels that per-tensor activation quantisation rounds badly. On the trained tonecraft-default (6 layers)
    # top-1 agreement with float32 rose from 0.945 (all int8) to 0.961; float32 last layer: 0.948; on
    # musicgen-small (24 layers) it costs ~1/8 more bytes per step.
    pack_linears(layers[1:] if len(layers) > 1 else layers, int8_linear)
    cpu_features.announce("decoding", f"int8 dynamic-quantised linears ({engine}), first layer float32")
    return "int8"
