import pytest
import torch

from tonecraft.errors import ConfigError
from tonecraft.lm.config import stereo_delays
from tonecraft.lm.patterns import (coarse_first_pattern, delay_pattern, get_pattern, musiclm_pattern,
                                   parallel_pattern, unroll_pattern)

S_ = 99  # special token used in these tests


def _codes(B, K, T):
    # distinct values: code of (b, k, t) = 1000*b + 100*k + t
    b = torch.arange(B)[:, None, None] * 1000
    k = torch.arange(K)[None, :, None] * 100
    t = torch.arange(T)[None, None, :]
    return b + k + t


ALL = [
    ("delay", lambda K, T: delay_pattern(K, T)),
    ("parallel", lambda K, T: parallel_pattern(K, T)),
    ("stereo", lambda K, T: delay_pattern(K, T, stereo_delays(K))),
    ("unroll", lambda K, T: unroll_pattern(K, T)),
    ("unroll_partial", lambda K, T: unroll_pattern(K, T, flattening=[0, 1, 1, 1], delays=[0, 2, 2, 2])),
    ("coarse_first", lambda K, T: coarse_first_pattern(K, T)),
    ("coarse_first_delayed", lambda K, T: coarse_first_pattern(K, T, [0, 1, 2])),
    ("musiclm", lambda K, T: musiclm_pattern(K, T)),
    ("delay_flatten_first", lambda K, T: delay_pattern(K, T, flatten_first=2, empty_initial=1)),
]


def test_delay_example_four_codebooks():
    a, b, c, d = (torch.tensor([[10, 11, 12, 13]]) + 10 * i for i in range(4))
    codes = torch.stack([a, b, c, d], dim=1)  # [1, 4, 4]
    p = delay_pattern(4, 4)
    seq, mask = p.build(codes, S_)
    S = S_
    expected = torch.tensor([
        [S, 10, 11, 12, 13, S, S, S],
        [S, S, 20, 21, 22, 23, S, S],
        [S, S, S, 30, 31, 32, 33, S],
        [S, S, S, S, 40, 41, 42, 43],
    ])
    assert p.num_steps == 8 and p.max_delay == 3
    assert torch.equal(seq[0], expected)
    assert torch.equal(mask, expected != S)
    assert p.first_step_with_timestep(0) == 1 and p.first_step_with_timestep(2) == 3
    assert p.first_step_with_timestep(4) == 5  # layout runs past T (audiocraft does the same)


@pytest.mark.parametrize("name,make", ALL, ids=[n for n, _ in ALL])
def test_round_trip_and_mask(name, make):
    B, K, T = 2, 4, 7
    p = make(K, T)
    codes = _codes(B, K, T)
    seq, mask = p.build(codes, S_)
    assert seq.shape == (B, K, p.num_steps) and mask.shape == (K, p.num_steps)
    assert int(mask.sum()) == K * T  # every code appears exactly once
    assert torch.equal(mask.expand(B, -1, -1), seq != S_)
    assert (seq[..., 0] == S_).all()  # initial special step
    back, rmask = p.revert(seq, -1)
    assert rmask.all() and torch.equal(back, codes)


@pytest.mark.parametrize("name,make", ALL, ids=[n for n, _ in ALL])
def test_revert_logits_aligns_prediction_with_target(name, make):
    B, K, T, card = 2, 4, 5, 3
    p = make(K, T)
    codes = _codes(B, K, T)
    seq, _ = p.build(codes, S_)
    # "logits" at step s carry the token of step s+1 (what the model must predict there)
    nxt = torch.cat([seq[..., 1:], torch.full_like(seq[..., :1], -7)], dim=-1).float()
    logits = nxt[..., None].expand(-1, -1, -1, card)
    out, mask = p.revert_logits(logits)
    assert out.shape == (B, K, T, card) and mask.all()
    assert torch.equal(out[..., 0], codes.float())


def test_unroll_default_is_full_flattening_codebook0_first():
    p = unroll_pattern(3, 2)
    assert p.layout == [[], [(0, 0)], [(0, 1)], [(0, 2)], [(1, 0)], [(1, 1)], [(1, 2)]]


def test_stereo_pairs_share_delays():
    p = delay_pattern(8, 3, stereo_delays(8))
    assert stereo_delays(8) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert p.layout[1] == [(0, 0), (0, 1)]
    assert p.layout[2] == [(1, 0), (1, 1), (0, 2), (0, 3)]
    assert p.num_steps == 3 + 3 + 1


def test_coarse_first_layout():
    p = coarse_first_pattern(3, 2)
    assert p.layout == [[], [(0, 0)], [(1, 0)], [(0, 1), (0, 2)], [(1, 1), (1, 2)]]


def test_partial_codes_and_errors():
    p = delay_pattern(4, 6)
    codes = _codes(1, 4, 4)  # fewer frames than the pattern
    seq, mask = p.build(codes, S_)
    assert int(mask.sum()) == 16 and seq.shape[-1] == p.num_steps
    with pytest.raises(ConfigError):
        p.build(_codes(1, 3, 4), S_)
    with pytest.raises(ConfigError):
        delay_pattern(3, 4, [2, 1, 0])
    with pytest.raises(ConfigError):
        get_pattern("nope", 4, 4)
    assert get_pattern("delay", 4, 4).layout == delay_pattern(4, 4).layout
