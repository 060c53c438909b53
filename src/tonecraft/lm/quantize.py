"""Dynamic int8 linear layers for decoding (weights int8 per output channel, activations quantised per call).

A decoding step of a MusicGen LM on a CPU reads every transformer weight once for one or two rows of
activations: it is bound by memory bandwidth, so int8 weights (4x fewer bytes than float32) make it several
times faster. Built on PyTorch's public dynamic-quantisation modules (`torch.ao.nn.quantized.dynamic.Linear`,
fbgemm/x86 kernels on x86 with AVX2, qnnpack on ARM). Those modules are marked deprecated in favour of the
separate `torchao` package; they are still the only int8 CPU kernels that ship inside torch itself, so we use
them behind `cpu_features.supports("int8")` and silence only that deprecation notice.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn


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


def select_engine(name: str) -> None:
    """Use quantised engine `name` (x86, fbgemm, qnnpack) for the int8 kernels."""
    if torch.backends.quantized.engine != name:
        torch.backends.quantized.engine = name
