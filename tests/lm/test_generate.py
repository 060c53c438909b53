import os

import pytest
import torch

from tonecraft.errors import ConfigError
from tonecraft.lm.config import LMConfig
from tonecraft.lm.generate import ConditionTensors, generate_tokens
from tonecraft.lm.model import LMModel
from tonecraft.lm.patterns import get_pattern

CARD, D = 64, 64


def _model(cross=True, pattern="delay", seed=0):
    torch.manual_seed(seed)
    return LMModel(LMConfig(dim=D, num_heads=4, num_layers=2, card=CARD, cross_attention=cross,
                            pattern=pattern)).eval()


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _reference_greedy(lm, cond, null, T, cfg_coef, prompt=None, prefix_key="cross"):
    """Slow reference: full forward over the whole sequence at every step, CFG as two separate forwards."""
    K = lm.cfg.n_q
    B = (cond.cross if cond.cross is not None else cond.prefix).shape[0]
    p = get_pattern(lm.cfg.pattern, K, T)
    codes = torch.full((B, K, T), -1)
    Tp = 0 if prompt is None else prompt.shape[-1]
    if prompt is not None:
        codes[..., :Tp] = prompt
    seq, mask = p.build(codes, CARD)
    with torch.inference_mode():
        for s in range(p.first_step_with_timestep(Tp), p.num_steps):
            c = lm(seq[..., :s], cond.cross, cond.prefix)[:, :, -1]
            u = lm(seq[..., :s], null.cross, null.prefix)[:, :, -1]
            tok = torch.where(mask[:, s], (u + (c - u) * cfg_coef).argmax(-1), CARD)
            seq[..., s] = torch.where(seq[..., s] == -1, tok, seq[..., s])
    return p.revert(seq, -1)[0]


def test_greedy_cfg_matches_slow_reference_with_prompt():
    lm = _model()
    g = _gen(0)
    cross = torch.randn(2, 5, D, generator=g)
    prompt = torch.randint(0, CARD, (2, 4, 6), generator=g)
    cond, null = ConditionTensors(cross=cross), ConditionTensors(cross=torch.zeros(2, 1, D))
    out = generate_tokens(lm, cond, null, prompt=prompt, max_gen_len=20, use_sampling=False, cfg_coef=3.0)
    ref = _reference_greedy(lm, cond, ConditionTensors(cross=torch.zeros(2, 5, D)), 20, 3.0, prompt)
    assert out.shape == (2, 4, 20) and out.dtype == torch.long
    assert torch.equal(out[..., :6], prompt)  # prompt copied and never overwritten
    assert torch.equal(out, ref)


def test_prefix_model_matches_slow_reference():
    lm = _model(cross=False)
    g = _gen(1)
    cond = ConditionTensors(prefix=torch.randn(2, 4, D, generator=g))
    null = ConditionTensors(prefix=torch.randn(2, 4, D, generator=g))
    out = generate_tokens(lm, cond, null, max_gen_len=12, use_sampling=False, cfg_coef=2.0)
    assert torch.equal(out, _reference_greedy(lm, cond, null, 12, 2.0))
    with pytest.raises(ConfigError):  # the null melody is not zeros: it must be given
        generate_tokens(lm, cond, None, max_gen_len=4)
    with pytest.raises(ConfigError):
        generate_tokens(lm, ConditionTensors(cross=torch.randn(2, 3, D)), max_gen_len=4)


def test_null_condition_skips_cfg_with_same_result():
    lm = _model()
    calls = []
    a = generate_tokens(lm, None, None, max_gen_len=10, num_samples=3, generator=_gen(5),
                        callback=lambda i, n: calls.append((i, n)))
    b = generate_tokens(lm, None, None, max_gen_len=10, num_samples=3, generator=_gen(5), cfg_coef=1.0)
    zeros = ConditionTensors(cross=torch.zeros(3, 4, D))
    c = generate_tokens(lm, zeros, None, max_gen_len=10, generator=_gen(5))
    assert a.shape == (3, 4, 10) and torch.equal(a, b) and torch.equal(a, c)
    assert calls == [(i, 13) for i in range(1, 14)]  # 10 frames + 3 delays


def test_sampling_reproducible_with_generator():
    lm = _model()
    cond = ConditionTensors(cross=torch.randn(2, 5, D, generator=_gen(2)))
    a = generate_tokens(lm, cond, max_gen_len=15, generator=_gen(3))
    b = generate_tokens(lm, cond, max_gen_len=15, generator=_gen(3))
    c = generate_tokens(lm, cond, max_gen_len=15, generator=_gen(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() < CARD


def test_different_condition_lengths_are_zero_padded():
    lm = _model()
    cross = torch.randn(2, 5, D, generator=_gen(6))
    a = generate_tokens(lm, ConditionTensors(cross=cross), ConditionTensors(cross=torch.zeros(2, 1, D)),
                        max_gen_len=8, use_sampling=False)
    b = generate_tokens(lm, ConditionTensors(cross=cross), None, max_gen_len=8, use_sampling=False)
    assert torch.equal(a, b)


@pytest.mark.parametrize("pattern", ["parallel", "unroll", "coarse_first"])
def test_other_patterns_fill_every_code(pattern):
    lm = _model(pattern=pattern)
    out = generate_tokens(lm, None, max_gen_len=7, num_samples=2, generator=_gen(0))
    assert out.shape == (2, 4, 7) and out.min() >= 0 and out.max() < CARD


def test_full_prompt_returns_prompt():
    lm = _model()
    prompt = torch.randint(0, CARD, (1, 4, 5))
    assert torch.equal(generate_tokens(lm, prompt=prompt, max_gen_len=5), prompt)


@pytest.mark.skipif(not os.environ.get("TONECRAFT_SLOW_TESTS"), reason="torch.compile takes ~30-80 s; "
                    "set TONECRAFT_SLOW_TESTS=1")
def test_optimized_decoding_fp32_compiled_matches_eager():
    lm = _model()
    cond = ConditionTensors(cross=torch.randn(2, 5, D, generator=_gen(9)))
    a = generate_tokens(lm, cond, max_gen_len=12, use_sampling=False)
    c = generate_tokens(lm, cond, max_gen_len=21, use_sampling=False)
    lm.optimize_decoding()
    assert lm._compiled_step is not None
    assert torch.equal(generate_tokens(lm, cond, max_gen_len=12, use_sampling=False), a)
    assert torch.equal(generate_tokens(lm, cond, max_gen_len=21, use_sampling=False), c)  # other cache length
