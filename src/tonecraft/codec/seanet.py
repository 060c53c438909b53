"""SEANet encoder / decoder of EnCodec.

Layer order and indices in `model` match encodec/audiocraft (`encoder.model.{i}...`) so official
checkpoints load by name. Encoder: conv -> per ratio (reversed): [res blocks, act, strided conv]
-> LSTM -> act -> conv. Decoder mirrors it with transposed convolutions.
"""
from __future__ import annotations

import typing as tp

import torch
from torch import nn
from torch.nn import functional as F

from . import streaming
from .conv import StreamableConv1d, StreamableConvTranspose1d
from .lstm import StreamableLSTM


def make_activation(name: str, params: dict | None) -> nn.Module:
    return getattr(nn, name)(**(params or {}))


def run_layers(layers: tp.Sequence[nn.Module], x: torch.Tensor, inplace: bool) -> torch.Tensor:
    """Run a stack of layers. An ELU followed by a convolution is fused into the convolution's padding
    copy; other ELUs overwrite their input when `inplace` (autograd off, input not shared)."""
    i = 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, nn.ELU) and isinstance(nxt, StreamableConv1d):
            x = nxt.forward_elu(x, layer.alpha, inplace)
            i += 2
            continue
        if inplace and isinstance(layer, nn.ELU) and x.is_contiguous():
            x = F.elu_(x, layer.alpha)
        else:
            x = layer(x)
        i += 1
    return x


class SEANetResnetBlock(nn.Module):
    """`shortcut(x) + block(x)` with block = [act, conv k (dilated), act, conv 1] and a
    bottleneck of `dim // compress`; the shortcut is identity (`true_skip`) or a 1x1 conv.
    Without autograd the input's memory may be reused for the output (SEANet never reads it again)."""

    def __init__(self, dim: int, kernel_sizes: tp.Sequence[int] = (3, 1), dilations: tp.Sequence[int] = (1, 1),
                 activation: str = "ELU", activation_params: dict | None = None, norm: str = "none",
                 causal: bool = False, pad_mode: str = "reflect", compress: int = 2, true_skip: bool = True):
        super().__init__()
        hidden = dim // compress
        block: list[nn.Module] = []
        for i, (k, d) in enumerate(zip(kernel_sizes, dilations)):
            in_ch = dim if i == 0 else hidden
            out_ch = dim if i == len(kernel_sizes) - 1 else hidden
            block += [make_activation(activation, activation_params),
                      StreamableConv1d(in_ch, out_ch, k, dilation=d, norm=norm, causal=causal, pad_mode=pad_mode)]
        self.block = nn.Sequential(*block)
        self.shortcut: nn.Module = (nn.Identity() if true_skip else
                                    StreamableConv1d(dim, dim, 1, norm=norm, causal=causal, pad_mode=pad_mode))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inplace = not torch.is_grad_enabled()
        layers = list(self.block)
        y = run_layers(layers[:2], x, False)  # the first activation must leave x intact
        last = layers[-1]
        if inplace and len(layers) == 4 and isinstance(layers[2], nn.ELU) and last.conv.pointwise:
            # inference: the final 1x1 conv accumulates straight into the shortcut (no add pass)
            h = F.elu_(y, layers[2].alpha) if y.is_contiguous() else F.elu(y, layers[2].alpha)
            if isinstance(self.shortcut, nn.Identity):
                return last.conv.accumulate_(h, x)  # x is this block's private input
            if self.shortcut.conv.pointwise:
                s = self.shortcut.conv(x, extra_bias=last.conv.conv.bias)
                return last.conv.accumulate_(h, s, bias=False)
        y = run_layers(layers[2:], y, inplace)
        s = self.shortcut(x)
        return y.add_(s) if inplace else s + y

    # --- streaming: the block may lag behind the shortcut (non-causal padding) ----------------
    def init_state(self) -> dict:
        return {"block": streaming.init_state(self.block), "short": streaming.init_state(self.shortcut),
                "skip": None}

    def _combine(self, y: torch.Tensor | None, s: torch.Tensor | None, st: dict) -> torch.Tensor | None:
        st["skip"] = streaming.cat(st["skip"], s)
        if y is None:
            return None
        n = y.shape[-1]
        skip = st["skip"]
        out = y + skip[..., :n]
        st["skip"] = skip[..., n:]
        return out

    def step(self, x: torch.Tensor, st: dict) -> torch.Tensor:
        s = streaming.step(self.shortcut, x, st["short"])
        y = streaming.step(self.block, x, st["block"])
        return self._combine(y, s, st)

    def flush(self, st: dict) -> torch.Tensor | None:
        s = streaming.flush(self.shortcut, st["short"])
        y = streaming.flush(self.block, st["block"])
        return self._combine(y, s, st)


class _SEANetBase(nn.Module):
    model: nn.Sequential

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_layers(list(self.model), x, not torch.is_grad_enabled())

    def init_state(self) -> list:
        return streaming.init_state(self.model)

    def step(self, x: torch.Tensor, st: list) -> torch.Tensor:
        return streaming.step(self.model, x, st)

    def flush(self, st: list) -> torch.Tensor | None:
        return streaming.flush(self.model, st)


class SEANetEncoder(_SEANetBase):
    """Waveform [B, channels, T] -> latent [B, dimension, ceil(T / hop_length)].

    `ratios` are given in decoder order (as in the configs) and used reversed here.
    `disable_norm_outer_blocks` drops the norm on the first N blocks (audiocraft option)."""

    def __init__(self, channels: int = 1, dimension: int = 128, n_filters: int = 32, n_residual_layers: int = 1,
                 ratios: tp.Sequence[int] = (8, 5, 4, 2), activation: str = "ELU",
                 activation_params: dict | None = None, norm: str = "weight_norm", kernel_size: int = 7,
                 last_kernel_size: int = 7, residual_kernel_size: int = 3, dilation_base: int = 2,
                 causal: bool = False, pad_mode: str = "reflect", true_skip: bool = False, compress: int = 2,
                 lstm: int = 2, disable_norm_outer_blocks: int = 0):
        super().__init__()
        self.channels, self.dimension = channels, dimension
        self.ratios = list(reversed(list(ratios)))
        self.hop_length = int(torch.tensor(self.ratios).prod()) if self.ratios else 1
        n_blocks = len(self.ratios) + 2
        act = dict(activation=activation, activation_params=activation_params)
        conv = dict(causal=causal, pad_mode=pad_mode)

        mult = 1
        first_norm = "none" if disable_norm_outer_blocks >= 1 else norm
        layers: list[nn.Module] = [StreamableConv1d(channels, n_filters, kernel_size, norm=first_norm, **conv)]
        for i, ratio in enumerate(self.ratios):
            block_norm = "none" if disable_norm_outer_blocks >= i + 2 else norm
            for j in range(n_residual_layers):
                layers.append(SEANetResnetBlock(mult * n_filters, (residual_kernel_size, 1), (dilation_base ** j, 1),
                                                norm=block_norm, compress=compress, true_skip=true_skip,
                                                **act, **conv))
            layers += [make_activation(activation, activation_params),
                       StreamableConv1d(mult * n_filters, 2 * mult * n_filters, 2 * ratio, stride=ratio,
                                        norm=block_norm, **conv)]
            mult *= 2
        if lstm:
            layers.append(StreamableLSTM(mult * n_filters, num_layers=lstm))
        last_norm = "none" if disable_norm_outer_blocks == n_blocks else norm
        layers += [make_activation(activation, activation_params),
                   StreamableConv1d(mult * n_filters, dimension, last_kernel_size, norm=last_norm, **conv)]
        self.model = nn.Sequential(*layers)


class SEANetDecoder(_SEANetBase):
    """Latent [B, dimension, F] -> waveform [B, channels, F * hop_length]."""

    def __init__(self, channels: int = 1, dimension: int = 128, n_filters: int = 32, n_residual_layers: int = 1,
                 ratios: tp.Sequence[int] = (8, 5, 4, 2), activation: str = "ELU",
                 activation_params: dict | None = None, final_activation: str | None = None,
                 final_activation_params: dict | None = None, norm: str = "weight_norm", kernel_size: int = 7,
                 last_kernel_size: int = 7, residual_kernel_size: int = 3, dilation_base: int = 2,
                 causal: bool = False, pad_mode: str = "reflect", true_skip: bool = False, compress: int = 2,
                 lstm: int = 2, disable_norm_outer_blocks: int = 0, trim_right_ratio: float = 1.0):
        super().__init__()
        self.channels, self.dimension = channels, dimension
        self.ratios = list(ratios)
        self.hop_length = int(torch.tensor(self.ratios).prod()) if self.ratios else 1
        n_blocks = len(self.ratios) + 2
        act = dict(activation=activation, activation_params=activation_params)
        conv = dict(causal=causal, pad_mode=pad_mode)

        mult = 2 ** len(self.ratios)
        first_norm = "none" if disable_norm_outer_blocks == n_blocks else norm
        layers: list[nn.Module] = [StreamableConv1d(dimension, mult * n_filters, kernel_size, norm=first_norm, **conv)]
        if lstm:
            layers.append(StreamableLSTM(mult * n_filters, num_layers=lstm))
        for i, ratio in enumerate(self.ratios):
            block_norm = "none" if disable_norm_outer_blocks >= n_blocks - (i + 1) else norm
            layers += [make_activation(activation, activation_params),
                       StreamableConvTranspose1d(mult * n_filters, mult * n_filters // 2, 2 * ratio, stride=ratio,
                                                 norm=block_norm, causal=causal, trim_right_ratio=trim_right_ratio)]
            for j in range(n_residual_layers):
                layers.append(SEANetResnetBlock(mult * n_filters // 2, (residual_kernel_size, 1),
                                                (dilation_base ** j, 1), norm=block_norm, compress=compress,
                                                true_skip=true_skip, **act, **conv))
            mult //= 2
        last_norm = "none" if disable_norm_outer_blocks >= 1 else norm
        layers += [make_activation(activation, activation_params),
                   StreamableConv1d(n_filters, channels, last_kernel_size, norm=last_norm, **conv)]
        if final_activation is not None:
            layers.append(make_activation(final_activation, final_activation_params))
        self.model = nn.Sequential(*layers)
