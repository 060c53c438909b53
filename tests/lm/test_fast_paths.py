"""Decoding fast paths (oneDNN bf16 prepacking, int8, torch.compile) and their fallbacks on CPUs without the
feature. The fallbacks are tested on every machine by forcing the capability check off (TONECRAFT_CPU=avx2,
TONECRAFT_NO_FAST_PATH); CI runs this file once more with TONECRAFT_CPU=avx2 set for the whole process."""
import logging

import pytest
import torch

from tonecraft import cpu_features
from tonecraft.lm.config import LMConfig
from tonecraft.lm.generate import ConditionTensors, generate_tokens
from tonecraft.lm.model import LMModel

CARD, D = 64, 64


def _model(dtype="float32", seed=0):
    torch.manual_seed(seed)
    return LMModel(LMConfig(dim=D, num_heads=4, num_layers=2, card=CARD, dtype=dtype)).eval()


def _cond(seed=8):
    return ConditionTensors(cross=torch.randn(2, 5, D, generator=torch.Generator().manual_seed(seed)))


def test_bf16_optimized_decoding_matches_eager_on_this_cpu():
    """Prepacked where the CPU has native bf16, plain bf16 otherwise: never an error, same tokens."""
    cpu_features.refresh()
    lm = _model("bfloat16")
    a = generate_tokens(lm, _cond(), max_gen_len=12, use_sampling=False)
    lm.optimize_decoding()
    packed = bool(lm.transformer.layers[0].packed)
    assert packed == cpu_features.supports("onednn_prepack")
    assert lm.decoding_path == ("onednn-bf16" if packed else "eager")
    assert torch.equal(generate_tokens(lm, _cond(), max_gen_len=12, use_sampling=False), a)
    lm.load_state_dict(lm.state_dict())  # stale packed copies are dropped on load
    assert not lm.transformer.layers[0].packed and lm.decoding_path == "eager"


def test_bf16_without_native_support_falls_back_and_says_so(cpu_env, caplog):
    features = cpu_env(TONECRAFT_CPU="avx2")
    assert not features.supports("native_bf16") and not features.supports("onednn_prepack")
    lm = _model("bfloat16")
    a = generate_tokens(lm, _cond(), max_gen_len=10, use_sampling=False)
    with caplog.at_level(logging.INFO, logger="tonecraft"):
        lm.optimize_decoding()
    assert not lm.transformer.layers[0].packed and lm.decoding_path == "eager"
    assert "oneDNN prepacking off" in caplog.text and "native bf16" in caplog.text
    assert torch.equal(generate_tokens(lm, _cond(), max_gen_len=10, use_sampling=False), a)


def test_int8_decoding_is_close_to_float32():
    cpu_features.refresh()
    if not cpu_features.supports("int8"):
        pytest.skip(f"int8 unavailable here: {cpu_features.why_not('int8')}")
    lm = _model()
    codes = torch.randint(0, CARD, (2, 4, 9), generator=torch.Generator().manual_seed(1))
    cross = _cond().cross
    with torch.no_grad():
        ref = lm(codes, cross)
        lm.optimize_decoding(dtype="int8")
        out = lm(codes, cross)
    assert lm.decoding_path == "int8" and callable(lm.transformer.layers[1].packed["linear1"])
    assert not lm.transformer.layers[0].packed  # the first layer stays float32 (activation outliers)
    assert not torch.equal(out, ref)  # really quantised
    err = (out - ref).abs()
    assert err.mean() < 0.02 * ref.std() and err.max() < 0.15 * ref.std()
    agree = (out.argmax(-1) == ref.argmax(-1)).float().mean()
    assert agree > 0.9
    tokens = generate_tokens(lm, _cond(), max_gen_len=12, use_sampling=False)  # KV-cached steps run int8 too
    assert tokens.shape == (2, 4, 12) and tokens.min() >= 0
    lm.optimize_decoding(False)
    with torch.no_grad():
        assert torch.equal(lm(codes, cross), ref)  # float weights untouched


def test_int8_switched_off_falls_back_to_float32(cpu_env, caplog):
    cpu_env(TONECRAFT_NO_FAST_PATH="int8")
    lm = _model()
    a = generate_tokens(lm, _cond(), max_gen_len=10, use_sampling=False)
    with caplog.at_level(logging.INFO, logger="tonecraft"):
        lm.optimize_decoding(dtype="int8")
    assert lm.decoding_path == "eager" and "int8 off" in caplog.text
    assert torch.equal(generate_tokens(lm, _cond(), max_gen_len=10, use_sampling=False), a)


def test_int8_needs_a_float32_lm():
    with pytest.raises(ValueError, match="float32"):
        _model("bfloat16").optimize_decoding(dtype="int8")
    with pytest.raises(ValueError, match="dtype"):
        _model().optimize_decoding(dtype="float16")


def test_compile_unavailable_keeps_eager(cpu_env, caplog):
    cpu_env(TONECRAFT_NO_FAST_PATH="compile")
    lm = _model()
    with caplog.at_level(logging.INFO, logger="tonecraft"):
        lm.optimize_decoding()
    assert lm._compiled_step is None and lm.decoding_path == "eager" and "torch.compile off" in caplog.text


def test_transposed_gemv_only_with_avx512(cpu_env):
    """The W @ x.T form is a measured win on AVX-512 only; either form gives the same product."""
    from tonecraft.lm import fast_paths as lm_model

    cpu_env(TONECRAFT_CPU="avx2")
    _model()
    assert lm_model._TRANSPOSED_GEMV[0] is False
    x, w = torch.randn(2, 1, 32), torch.randn(48, 32)
    plain = lm_model.linear(x, w)
    lm_model._TRANSPOSED_GEMV[0] = True
    try:
        assert torch.allclose(lm_model.linear(x, w), plain, atol=1e-5)
    finally:
        lm_model._TRANSPOSED_GEMV[0] = False
