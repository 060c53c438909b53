import random

import pytest
import torch

from tonecraft.codec import streaming
from tonecraft.codec.conv import (StreamableConv1d, StreamableConvTranspose1d, extra_padding_for_conv1d,
                                  fold_weight_norm, pad1d)
from tonecraft.errors import ConfigError

encodec_conv = pytest.importorskip("encodec.modules.conv")


def _copy_params(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """Reference modules use legacy weight norm (weight_g / weight_v)."""
    sd = {k.replace("weight_g", "parametrizations.weight.original0").replace("weight_v", "parametrizations.weight.original1"): v
          for k, v in src.state_dict().items()}
    dst.load_state_dict(sd)


@pytest.mark.parametrize("length", [1, 2, 5, 17, 100])
@pytest.mark.parametrize("k,s", [(7, 1), (4, 2), (10, 5), (16, 8), (3, 1)])
def test_extra_padding_matches_reference(length, k, s):
    x = torch.zeros(1, 1, length)
    assert extra_padding_for_conv1d(length, k, s, k - s) == encodec_conv.get_extra_padding_for_conv1d(x, k, s, k - s)


@pytest.mark.parametrize("length", [1, 2, 3, 6, 20])
@pytest.mark.parametrize("pads", [(6, 0), (3, 3), (2, 5), (0, 0), (1, 0)])
@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_pad1d_matches_reference_incl_short_inputs(length, pads, mode):
    x = torch.randn(2, 3, length)
    ref = encodec_conv.pad1d(x, pads, mode=mode)
    assert torch.equal(pad1d(x, *pads, mode=mode), ref)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
@pytest.mark.parametrize("norm", ["weight_norm", "none", "time_group_norm"])
@pytest.mark.parametrize("k,s,d", [(7, 1, 1), (3, 1, 2), (8, 4, 1), (1, 1, 1)])
def test_conv1d_matches_reference(causal, pad_mode, norm, k, s, d):
    if norm == "time_group_norm" and causal:
        with pytest.raises(ConfigError):
            StreamableConv1d(3, 4, k, stride=s, dilation=d, causal=True, norm=norm)
        return
    torch.manual_seed(0)
    ref = encodec_conv.SConv1d(3, 4, k, stride=s, dilation=d, causal=causal, norm=norm, pad_mode=pad_mode)
    ours = StreamableConv1d(3, 4, k, stride=s, dilation=d, causal=causal, norm=norm, pad_mode=pad_mode)
    _copy_params(ref, ours)
    for length in (1, 5, 37, 64):
        x = torch.randn(2, 3, length)
        y = ours(x)
        assert y.shape[-1] == -(-length // s)
        assert torch.allclose(y, ref(x), atol=1e-6), (length, (y - ref(x)).abs().max())


@pytest.mark.parametrize("causal,ratio", [(True, 1.0), (True, 0.5), (False, 1.0)])
@pytest.mark.parametrize("norm", ["weight_norm", "none"])
@pytest.mark.parametrize("k,s", [(4, 2), (10, 5), (16, 8)])
def test_conv_transpose_matches_reference(causal, ratio, norm, k, s):
    torch.manual_seed(0)
    ref = encodec_conv.SConvTranspose1d(4, 3, k, stride=s, causal=causal, norm=norm, trim_right_ratio=ratio)
    ours = StreamableConvTranspose1d(4, 3, k, stride=s, causal=causal, norm=norm, trim_right_ratio=ratio)
    _copy_params(ref, ours)
    x = torch.randn(2, 4, 9)
    y = ours(x)
    assert y.shape[-1] == 9 * s
    assert torch.allclose(y, ref(x), atol=1e-6)


def test_state_dict_names():
    wn = StreamableConv1d(2, 3, 3, norm="weight_norm")
    assert set(wn.state_dict()) == {"conv.conv.bias", "conv.conv.parametrizations.weight.original0",
                                    "conv.conv.parametrizations.weight.original1"}
    gn = StreamableConv1d(2, 3, 3, norm="time_group_norm")
    assert set(gn.state_dict()) == {"conv.conv.weight", "conv.conv.bias", "conv.norm.weight", "conv.norm.bias"}
    tr = StreamableConvTranspose1d(3, 2, 4, 2, norm="weight_norm")
    assert "convtr.convtr.parametrizations.weight.original1" in tr.state_dict()


def test_fold_weight_norm_is_exact():
    torch.manual_seed(0)
    conv = StreamableConv1d(3, 5, 7, norm="weight_norm")
    tr = StreamableConvTranspose1d(5, 3, 8, 4, norm="weight_norm")
    x = torch.randn(1, 3, 50)
    before = tr(conv(x))
    fold_weight_norm(conv), fold_weight_norm(tr)
    assert "conv.conv.weight" in conv.state_dict() and not any("parametrizations" in k for k in conv.state_dict())
    assert torch.allclose(tr(conv(x)), before, atol=1e-6)


def _run_stream(module, x, chunk_sizes):
    st = streaming.init_state(module)
    outs, i = [], 0
    for n in chunk_sizes:
        outs.append(streaming.step(module, x[..., i:i + n], st))
        i += n
    outs.append(streaming.flush(module, st))
    return torch.cat([o for o in outs if o is not None], dim=-1)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
@pytest.mark.parametrize("k,s,d", [(7, 1, 1), (3, 1, 3), (4, 2, 1), (10, 5, 1)])
def test_conv_streaming_equals_offline(causal, pad_mode, k, s, d):
    torch.manual_seed(0)
    rng = random.Random(k * 10 + s)
    conv = StreamableConv1d(2, 3, k, stride=s, dilation=d, causal=causal, pad_mode=pad_mode, norm="weight_norm")
    for length in (1, 4, 53):
        x = torch.randn(1, 2, length)
        sizes, left = [], length
        while left > 0:
            sizes.append(min(left, rng.randint(0, 9)))
            left -= sizes[-1]
        y = _run_stream(conv, x, sizes)
        assert torch.allclose(y, conv(x), atol=1e-5), (length, sizes)


@pytest.mark.parametrize("causal", [True, False])
def test_conv_transpose_streaming_equals_offline(causal):
    torch.manual_seed(0)
    tr = StreamableConvTranspose1d(3, 2, 10, 5, causal=causal, norm="weight_norm")
    x = torch.randn(2, 3, 23)
    y = _run_stream(tr, x, [1, 0, 5, 2, 7, 8])
    assert torch.allclose(y, tr(x), atol=1e-5)


def test_group_norm_is_not_streamable():
    with pytest.raises(ConfigError):
        streaming.init_state(StreamableConv1d(2, 3, 3, norm="time_group_norm"))
