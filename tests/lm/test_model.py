import math

import pytest
import torch

from tonecraft.lm.config import LMConfig, preset
from tonecraft.lm.model import LMModel, sin_embedding

CARD = 64


def _model(cross=True, dtype="float32", seed=0, layers=2):
    torch.manual_seed(seed)
    cfg = LMConfig(dim=64, num_heads=4, num_layers=layers, card=CARD, cross_attention=cross, dtype=dtype)
    return LMModel(cfg).eval()


def test_state_dict_keys_are_audiocraft_names():
    keys = set(_model().state_dict())
    expected = {f"emb.{k}.weight" for k in range(4)} | {f"linears.{k}.weight" for k in range(4)}
    expected |= {"out_norm.weight", "out_norm.bias"}
    for i in range(2):
        p = f"transformer.layers.{i}."
        expected |= {p + n for n in ["self_attn.in_proj_weight", "self_attn.out_proj.weight",
                                     "cross_attention.in_proj_weight", "cross_attention.out_proj.weight",
                                     "linear1.weight", "linear2.weight"]}
        expected |= {p + f"{n}.{w}" for n in ["norm1", "norm_cross", "norm2"] for w in ["weight", "bias"]}
    assert keys == expected
    sd = _model().state_dict()
    assert sd["emb.0.weight"].shape == (CARD + 1, 64)
    assert sd["transformer.layers.0.self_attn.in_proj_weight"].shape == (192, 64)
    assert sd["linears.3.weight"].shape == (CARD, 64)
    assert not any("cross" in k for k in _model(cross=False).state_dict())


def test_presets_parameter_counts():
    cfg = preset("musicgen-small")
    D, L = cfg.dim, cfg.num_layers
    per_layer = 16 * D * D + 6 * D  # SA 4D^2 + CA 4D^2 + FFN 8D^2, 3 LayerNorms
    total = L * per_layer + 2 * D + cfg.n_q * ((cfg.card + 1) * D + cfg.card * D)
    assert total / 1e6 == pytest.approx(419.5, abs=0.5)  # "~420M" of audiocraft issue #468
    assert preset("musicgen-stereo-small").delays == [0, 0, 1, 1, 2, 2, 3, 3]
    assert not preset("musicgen-melody").cross_attention
    assert preset("musicgen-large").head_dim == 64 == preset("musicgen-medium").head_dim


def test_sin_embedding_cos_first_half_minus_one():
    pos = torch.arange(5)
    emb = sin_embedding(pos, 8)
    half = 4
    for p in range(5):
        for i in range(half):
            phase = p / (10000 ** (i / (half - 1)))
            assert emb[p, i].item() == pytest.approx(math.cos(phase), abs=1e-6)
            assert emb[p, half + i].item() == pytest.approx(math.sin(phase), abs=1e-6)


def _incremental(lm, codes, cross=None, prefix=None, chunks=(3,)):
    B, K, S = codes.shape
    P = 0 if prefix is None else prefix.shape[1]
    st = lm.init_state(B, P + S, cross)
    outs, i = [], 0
    for n in list(chunks) + [1] * S:
        if i >= S:
            break
        outs.append(lm.step(codes[..., i:i + n], st, prefix=prefix if i == 0 else None, last_only=False))
        i += n
    return torch.cat(outs, dim=2)


@pytest.mark.parametrize("cross,use_prefix", [(True, False), (True, True), (False, True), (False, False)])
def test_incremental_equals_full(cross, use_prefix):
    lm = _model(cross=cross)
    B, S = 2, 11
    g = torch.Generator().manual_seed(1)
    codes = torch.randint(0, CARD + 1, (B, 4, S), generator=g)
    c = torch.randn(B, 5, 64, generator=g) if cross else None
    prefix = torch.randn(B, 3, 64, generator=g) if use_prefix else None
    with torch.inference_mode():
        full = lm(codes, c, prefix)
        inc = _incremental(lm, codes, c, prefix, chunks=(4, 2, 3))  # multi-token steps after a filled cache too
        last = lm.step(codes, lm.init_state(B, S + 3, c), prefix=prefix)
    assert full.shape == (B, 4, S, CARD) and full.dtype == torch.float32
    assert (full - inc).abs().max() < 1e-5
    assert (full[:, :, -1] - last).abs().max() < 1e-5


def test_null_cross_equals_no_cross():
    lm = _model()
    codes = torch.randint(0, CARD, (2, 4, 6))
    with torch.inference_mode():
        a = lm(codes, torch.zeros(2, 7, 64))
        b = lm(codes, None)
    assert (a - b).abs().max() < 1e-6


def test_cache_overflow_raises():
    lm = _model()
    st = lm.init_state(1, 2)
    with torch.inference_mode():
        lm.step(torch.zeros(1, 4, 2, dtype=torch.long), st)
        with pytest.raises(ValueError):
            lm.step(torch.zeros(1, 4, 1, dtype=torch.long), st)


def test_bfloat16_mode():
    ref, lm = _model(), _model(dtype="bfloat16")
    lm.load_state_dict(ref.state_dict())
    assert lm.transformer.layers[0].linear1.weight.dtype == torch.bfloat16
    assert lm.linears[0].weight.dtype == torch.float32 and lm.emb[0].weight.dtype == torch.float32
    codes = torch.randint(0, CARD, (2, 4, 9))
    cross = torch.randn(2, 5, 64)
    with torch.inference_mode():
        a = ref(codes, cross)
        b = lm(codes, cross)
        st = lm.init_state(2, 9, cross)
        assert st.keys[0].dtype == torch.bfloat16
        c = lm.step(codes, st, last_only=False)
    assert b.dtype == torch.float32 and c.dtype == torch.float32
    rel = (a - b).norm() / a.norm()
    assert rel < 0.05
    assert (b - c).abs().max() < 0.1
