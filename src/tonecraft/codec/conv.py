"""Streamable 1-d convolutions with EnCodec's padding rules.

The padding arithmetic reproduces encodec/audiocraft exactly (so official weights give the same
numbers): total padding is `kernel_eff - stride`, all on the left when causal, otherwise split with
the extra sample on the left; an extra right padding makes the last window full so a transposed
convolution can rebuild the input length. Module attribute names (`conv.conv`, `convtr.convtr`,
`conv.norm`) follow the original state-dict layout.

Speed: activations are kept time-major in memory ("channels last": a [B, C, T] tensor whose
transpose(1, 2) is contiguous) and convolutions run as 2-d convolutions on [B, C, 1, T] channels-last
views, which oneDNN computes much faster than the [B, C, T] layout for these shapes (transposed
convolutions up to 2-4x, without layout reorders); 1x1 convolutions are single GEMMs. Padding writes
straight into a time-major buffer and can apply the preceding ELU on the way (see bench/codec.py).

Each streamable module also has a stateful chunked API (`init_state`, `step`, `flush`): feeding a
signal in pieces and then flushing yields exactly the output of one `forward` call on the whole
signal. Non-causal convolutions are streamable too, with a delay of their right padding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from tonecraft.errors import ConfigError

NORMS = ("none", "weight_norm", "time_group_norm")
PAD_MODES = ("reflect", "constant", "replicate", "circular")


def extra_padding_for_conv1d(length: int, kernel_size: int, stride: int, padding_total: int) -> int:
    """Right padding needed so that the last (partial) window becomes a full one."""
    n_frames = -(-(length - kernel_size + padding_total) // stride)  # ceil, integer-exact
    ideal_length = n_frames * stride + kernel_size - padding_total
    return ideal_length - length


def pad1d(x: torch.Tensor, left: int, right: int, mode: str = "constant") -> torch.Tensor:
    """`F.pad` on the time axis that also allows reflect padding of inputs shorter than the pad
    (zeros are appended first, as in the reference implementation)."""
    if left == 0 and right == 0:
        return x
    if mode == "reflect":
        length = x.shape[-1]
        max_pad = max(left, right)
        if length <= max_pad:
            extra = max_pad - length + 1
            x = F.pad(x, (0, extra))
            return F.pad(x, (left, right), "reflect")[..., : length + left + right]
        return F.pad(x, (left, right), "reflect")
    if mode in ("constant", "zero"):
        return F.pad(x, (left, right))
    return F.pad(x, (left, right), mode)


def is_time_major(x: torch.Tensor) -> bool:
    return x.transpose(1, 2).is_contiguous()


def to_time_major(x: torch.Tensor) -> torch.Tensor:
    """Same values, memory laid out as [B, T, C] (no copy when it already is)."""
    return x if is_time_major(x) else x.transpose(1, 2).contiguous().transpose(1, 2)


def cat_time(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Concatenate along time keeping the time-major layout."""
    return torch.cat([a.transpose(1, 2), b.transpose(1, 2)], dim=1).transpose(1, 2)


def pad_time_major(x: torch.Tensor, left: int, right: int, mode: str = "constant",
                   elu_alpha: float | None = None) -> torch.Tensor:
    """`pad1d(elu(x))` (ELU only if `elu_alpha` is given) written into a fresh time-major buffer in
    one pass over x; the reflected edges are copied from the buffer itself."""
    B, C, T = x.shape
    if (mode == "reflect" and T <= max(left, right)) or mode not in ("reflect", "constant", "zero"):
        if elu_alpha is not None:
            x = F.elu(x, elu_alpha)
        return to_time_major(pad1d(x, left, right, mode))
    if elu_alpha is not None and x.requires_grad and torch.is_grad_enabled():
        x, elu_alpha = F.elu(x, elu_alpha), None  # out= variants do not support autograd
    buf = x.new_empty(B, left + T + right, C)
    mid = buf[:, left:left + T].transpose(1, 2)
    if elu_alpha is not None:
        torch.ops.aten.elu.out(x, elu_alpha, 1, 1, out=mid)
    else:
        mid.copy_(x)
    if mode == "reflect":
        if left:
            buf[:, :left] = buf[:, left + 1:2 * left + 1].flip(1)
        if right:
            buf[:, left + T:] = buf[:, left + T - 1 - right:left + T - 1].flip(1)
    else:
        buf[:, :left].zero_()
        buf[:, left + T:].zero_()
    return buf.transpose(1, 2)


def _check_norm(norm: str, causal: bool) -> None:
    if norm not in NORMS:
        raise ConfigError(f"unknown conv norm {norm!r}; expected one of {NORMS}")
    if norm == "time_group_norm" and causal:
        raise ConfigError("time_group_norm normalises over time and cannot be causal")


def _empty(x: torch.Tensor, channels: int) -> torch.Tensor:
    return x.new_empty(x.shape[0], channels, 0)


class _WeightCache:
    """Channels-last 4-d copy of a frozen (requires_grad=False, e.g. from `load_codec`) plain weight,
    rebuilt when its storage, version or device changes. Trainable or weight-normed weights are
    converted on every call, so training code (optimisers, EMA via `.data`) never sees a stale copy."""

    def __init__(self):
        self.key, self.value = None, None

    def get(self, module: nn.Module) -> torch.Tensor:
        w = module.weight
        if w.requires_grad or parametrize.is_parametrized(module):
            return w.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        key = (w.data_ptr(), w._version, w.dtype, w.device, tuple(w.shape))
        if key != self.key:
            self.key, self.value = key, w.detach().unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return self.value


def _rows(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T] -> [B*T, C] (a view for time-major tensors)."""
    return x.transpose(1, 2).reshape(-1, x.shape[1])


def _from_rows(y: torch.Tensor, batch: int) -> torch.Tensor:
    return y.view(batch, -1, y.shape[-1]).transpose(1, 2)


class NormConv1d(nn.Module):
    """Conv1d followed by its normalisation; holds `conv` (weight-normed or plain) and `norm`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = True, norm: str = "none"):
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation,
                         groups=groups, bias=bias)
        self.conv = weight_norm(conv) if norm == "weight_norm" else conv
        self.norm = nn.GroupNorm(1, out_channels) if norm == "time_group_norm" else nn.Identity()
        self.norm_type = norm
        # a 1x1 convolution is a plain matrix product on the time-major layout
        self.pointwise = kernel_size == 1 and stride == 1 and groups == 1 and norm != "time_group_norm"
        self._w4 = _WeightCache()

    def forward(self, x: torch.Tensor, extra_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Convolve (then normalise). `extra_bias` (pointwise convs only) is added to the bias, which
        lets a residual block fold the bias of the conv accumulated next into this one."""
        c = self.conv
        if self.pointwise:
            w = c.weight.view(c.out_channels, -1).t()
            bias = c.bias if extra_bias is None else (extra_bias if c.bias is None else c.bias + extra_bias)
            y = torch.addmm(bias, _rows(x), w) if bias is not None else _rows(x) @ w
            return _from_rows(y, x.shape[0])
        y = F.conv2d(x.unsqueeze(2), self._w4.get(c), c.bias, (1, c.stride[0]), 0, (1, c.dilation[0]),
                     c.groups).squeeze(2)
        return self.norm(y)

    def accumulate_(self, x: torch.Tensor, out: torch.Tensor, bias: bool = True) -> torch.Tensor:
        """`out += conv(x)` for a pointwise conv without grad: one GEMM writing into `out`'s memory
        (returns the result, a new tensor only if `out` cannot be viewed as rows)."""
        c = self.conv
        o = _rows(out)
        o.addmm_(_rows(x), c.weight.view(c.out_channels, -1).t())
        if bias and c.bias is not None:
            o.add_(c.bias)
        return _from_rows(o, out.shape[0])


class NormConvTranspose1d(nn.Module):
    """ConvTranspose1d followed by its normalisation; holds `convtr` and `norm`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = True, norm: str = "none"):
        super().__init__()
        convtr = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, bias=bias)
        self.convtr = weight_norm(convtr) if norm == "weight_norm" else convtr
        self.norm = nn.GroupNorm(1, out_channels) if norm == "time_group_norm" else nn.Identity()
        self.norm_type = norm
        self._w4 = _WeightCache()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.convtr
        y = F.conv_transpose2d(to_time_major(x).unsqueeze(2), self._w4.get(c), c.bias,
                               (1, c.stride[0])).squeeze(2)
        return self.norm(y)


@dataclass
class ConvState:
    """Streaming state of a StreamableConv1d: unconsumed (left-padded) input and counters."""
    buf: torch.Tensor | None = None   # input from `history` samples before the next frame start
    pos: int = 0                      # index in `buf` where the next output frame starts
    started: bool = False             # left padding applied
    total_in: int = 0                 # raw input samples seen
    emitted: int = 0                  # output frames produced


class StreamableConv1d(nn.Module):
    """Conv1d with EnCodec's causal / asymmetric padding and optional normalisation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = True, causal: bool = False,
                 norm: str = "none", pad_mode: str = "reflect"):
        super().__init__()
        _check_norm(norm, causal)
        if pad_mode == "zero":
            pad_mode = "constant"
        if pad_mode not in PAD_MODES:
            raise ConfigError(f"unknown pad_mode {pad_mode!r}; expected one of {PAD_MODES}")
        self.conv = NormConv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation,
                               groups=groups, bias=bias, norm=norm)
        self.causal = causal
        self.pad_mode = pad_mode
        self.stride = stride
        self.out_channels = out_channels
        self.kernel_eff = (kernel_size - 1) * dilation + 1
        self.padding_total = self.kernel_eff - stride
        self.pad_right = 0 if causal else self.padding_total // 2
        self.pad_left = self.padding_total - self.pad_right

    def padded(self, x: torch.Tensor, elu_alpha: float | None = None) -> torch.Tensor:
        extra = extra_padding_for_conv1d(x.shape[-1], self.kernel_eff, self.stride, self.padding_total)
        return pad_time_major(x, self.pad_left, self.pad_right + extra, self.pad_mode, elu_alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding_total == 0 and self.stride == 1:
            return self.conv(x)
        return self.conv(self.padded(x))

    def forward_elu(self, x: torch.Tensor, alpha: float = 1.0, inplace: bool = False) -> torch.Tensor:
        """`forward(elu(x))`, with the activation fused into the padding copy when there is one.
        `inplace` lets a 1x1 convolution overwrite x (only for tensors nobody else reads)."""
        if self.padding_total == 0 and self.stride == 1:
            return self.conv(F.elu_(x, alpha) if inplace and is_time_major(x) else F.elu(x, alpha))
        return self.conv(self.padded(x, alpha))

    # --- streaming -------------------------------------------------------------------------
    def init_state(self) -> ConvState:
        if self.conv.norm_type == "time_group_norm":
            raise ConfigError("time_group_norm models cannot be streamed (the norm sees the whole signal)")
        return ConvState()

    def step(self, x: torch.Tensor, st: ConvState) -> torch.Tensor:
        """Consume a chunk; return the output frames that no longer depend on future input."""
        st.total_in += x.shape[-1]
        st.buf = to_time_major(x) if st.buf is None else cat_time(st.buf, x)
        if not st.started:
            # reflect padding needs `pad_left + 1` samples: wait for them (only at stream start)
            if self.pad_mode == "reflect" and st.buf.shape[-1] <= self.pad_left:
                return _empty(x, self.out_channels)
            st.buf = pad_time_major(st.buf, self.pad_left, 0, self.pad_mode)
            st.started = True
        avail = st.buf.shape[-1] - st.pos
        if avail < self.kernel_eff:
            return _empty(x, self.out_channels)
        n = (avail - self.kernel_eff) // self.stride + 1
        end = st.pos + (n - 1) * self.stride + self.kernel_eff
        y = self.conv(st.buf[..., st.pos:end])
        st.pos += n * self.stride
        st.emitted += n
        keep = max(0, st.pos - self.kernel_eff)  # history kept for reflect padding at the end
        st.buf = st.buf[..., keep:]
        st.pos -= keep
        return y

    def flush(self, st: ConvState) -> torch.Tensor | None:
        """End of stream: pad the right edge exactly as `forward` would and emit the rest
        (None when there is nothing left)."""
        buf = st.buf
        if buf is None or st.total_in == 0:
            return None
        if st.emitted == 0:  # nothing emitted yet: the buffer still holds the whole signal
            raw = buf[..., self.pad_left:] if st.started else buf
            return self.forward(raw)
        remaining = -(-st.total_in // self.stride) - st.emitted
        if remaining <= 0:
            return None
        needed = (remaining - 1) * self.stride + self.kernel_eff
        right = needed - (buf.shape[-1] - st.pos)
        buf = pad_time_major(buf, 0, max(0, right), self.pad_mode)
        return self.conv(buf[..., st.pos:st.pos + needed])


@dataclass
class ConvTrState:
    """Streaming state of a StreamableConvTranspose1d: overlap tail and left trim still due."""
    tail: torch.Tensor | None = None
    to_trim: int = 0


class StreamableConvTranspose1d(nn.Module):
    """ConvTranspose1d that trims EnCodec's fixed padding (the extra padding added by the encoder
    is removed by the caller, who knows the target length)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 causal: bool = False, norm: str = "none", trim_right_ratio: float = 1.0,
                 bias: bool = True):
        super().__init__()
        _check_norm(norm, causal)
        if not causal and trim_right_ratio != 1.0:
            raise ConfigError("trim_right_ratio != 1 only makes sense for causal convolutions")
        if not 0.0 <= trim_right_ratio <= 1.0:
            raise ConfigError(f"trim_right_ratio must be in [0, 1], got {trim_right_ratio}")
        self.convtr = NormConvTranspose1d(in_channels, out_channels, kernel_size, stride,
                                          bias=bias, norm=norm)
        self.causal = causal
        self.trim_right_ratio = trim_right_ratio
        self.stride = stride
        self.out_channels = out_channels
        self.padding_total = kernel_size - stride
        if causal:
            self.trim_right = math.ceil(self.padding_total * trim_right_ratio)
        else:
            self.trim_right = self.padding_total // 2
        self.trim_left = self.padding_total - self.trim_right

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.convtr(x)
        return y[..., self.trim_left: y.shape[-1] - self.trim_right]

    # --- streaming -------------------------------------------------------------------------
    def init_state(self) -> ConvTrState:
        if self.convtr.norm_type == "time_group_norm":
            raise ConfigError("time_group_norm models cannot be streamed (the norm sees the whole signal)")
        return ConvTrState(to_trim=self.trim_left)

    def _bias(self) -> torch.Tensor | None:
        b = self.convtr.convtr.bias
        return None if b is None else b.view(1, -1, 1)

    def step(self, x: torch.Tensor, st: ConvTrState) -> torch.Tensor:
        """Overlap-add consecutive chunks: the last `kernel - stride` outputs wait for the next one."""
        if x.shape[-1] == 0:
            return _empty(x, self.out_channels)
        y = self.convtr(x)
        pt = self.padding_total
        if st.tail is not None and pt > 0:
            y[..., :pt] += st.tail
        n = y.shape[-1] - pt
        out, tail = y[..., :n], y[..., n:]
        bias = self._bias()
        st.tail = tail - bias if bias is not None else tail  # the next chunk adds its own bias
        if st.to_trim:
            cut = min(st.to_trim, out.shape[-1])
            out = out[..., cut:]
            st.to_trim -= cut
        return out

    def flush(self, st: ConvTrState) -> torch.Tensor | None:
        if st.tail is None:
            return None
        keep = self.padding_total - self.trim_right
        out = st.tail[..., :keep]
        bias = self._bias()
        if bias is not None:
            out = out + bias
        if st.to_trim:
            out = out[..., min(st.to_trim, out.shape[-1]):]
        return out


def fold_weight_norm(module: nn.Module) -> nn.Module:
    """Replace every weight-norm parametrisation under `module` by its plain weight
    (`w = g * v / ||v||`, computed once) so inference does not recompute it each call."""
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return module
