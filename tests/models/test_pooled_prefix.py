"""A MusicGen whose text conditioner adds a pooled prefix position (tonecraft's default model): generation
must feed the LM exactly what training feeds it (prefix + cross-attention, zero prefix for the null text)."""
import pytest
import torch

from helpers_generation import tiny_codec, tiny_lm
from tonecraft.conditioning.base import TextConditioner
from tonecraft.lm.patterns import get_pattern
from tonecraft.models.musicgen import MusicGen
from tonecraft.train.lm_trainer import LMTrainModule
from tonecraft.conditioning.hash_encoder import HashTextEncoder


def _model(seed: int = 0, tempo: bool = False, grid: bool = False) -> MusicGen:
    torch.manual_seed(seed)
    cond = TextConditioner(HashTextEncoder(dim=16, vocab=64), output_dim=32, pooled=True, tempo=tempo or grid)
    codec, lm = tiny_codec(), tiny_lm()
    with torch.no_grad():
        cond.pooled_proj.weight.mul_(20)  # make the prefix matter for a random LM
        if tempo:
            torch.nn.init.normal_(cond.tempo_proj.proj.weight, std=20.0)
        if grid:
            lm.add_beat_grid(codec.frame_rate)
            torch.nn.init.normal_(lm.beat_grid.proj.weight, std=20.0)
    return MusicGen("tiny-pooled", codec, lm, cond, max_duration=1.0)


def _teacher_forced_greedy(model: MusicGen, codes: torch.Tensor, text: str, cfg_coef: float) -> torch.Tensor:
    """Greedy CFG choices of the *training* forward (LMTrainModule) along the generated sequence."""
    lm, K, T = model.lm, codes.shape[1], codes.shape[2]
    pattern = get_pattern(lm.cfg.pattern, K, T, lm.cfg.delays)
    seq, mask = pattern.build(codes, lm.cfg.special_token)
    module = LMTrainModule(lm, model.conditioner).eval()
    with torch.no_grad():
        cond = module(seq[..., :-1], model.conditioner.tokenize([text]))
        null = module(seq[..., :-1], model.conditioner.tokenize([None]))
    logits = null + (cond - null) * cfg_coef  # [1, K, S-1, card]
    return logits.argmax(-1), seq[..., 1:], mask[:, 1:]


@pytest.mark.parametrize("tempo, grid", [(False, False), (True, False), (False, True)])
def test_generation_matches_training_forward(tempo, grid):
    model = _model(tempo=tempo, grid=grid)
    model.set_generation_params(duration=0.4, use_sampling=False, cfg_coef=3.0)
    _, codes = model.generate(["slow church organ"], return_tokens=True)
    choice, target, valid = _teacher_forced_greedy(model, codes, "slow church organ", 3.0)
    assert valid.sum() > 20
    assert torch.equal(choice[0][valid], target[0][valid])


def test_prefix_is_used_and_unconditional_is_null_text():
    model = _model()
    model.set_generation_params(duration=0.4, use_sampling=False, cfg_coef=3.0)
    _, with_prefix = model.generate(["slow church organ"], return_tokens=True)
    with torch.no_grad():
        model.conditioner.pooled_proj.weight.zero_()
        model.conditioner.pooled_proj.bias.zero_()
    _, without = model.generate(["slow church organ"], return_tokens=True)
    assert not torch.equal(with_prefix, without)
    model.set_generation_params(duration=0.3, top_k=5)
    _, u = model.generate_unconditional(2, return_tokens=True, seed=3)
    _, n = model.generate([None, ""], return_tokens=True, seed=3)
    assert torch.equal(u, n)


def test_tempo_changes_generation():
    model = _model(tempo=True)
    model.set_generation_params(duration=0.4, use_sampling=False, cfg_coef=3.0)
    _, slow = model.generate(["church organ, 60 bpm"], return_tokens=True)
    _, fast = model.generate(["church organ, 180 bpm"], return_tokens=True)
    with torch.no_grad():
        model.conditioner.tempo_proj.proj.weight.zero_()
    _, slow0 = model.generate(["church organ, 60 bpm"], return_tokens=True)
    assert not torch.equal(slow, fast)
    assert not torch.equal(slow, slow0)


def test_beat_grid_follows_the_bpm_and_keeps_its_phase_across_windows():
    model = _model(grid=True)
    model.set_generation_params(duration=0.4, use_sampling=False, cfg_coef=3.0)
    _, slow = model.generate(["church organ, 60 bpm"], return_tokens=True)
    _, fast = model.generate(["church organ, 180 bpm"], return_tokens=True)
    assert not torch.equal(slow, fast)
    calls = []
    step = model.lm.step
    model.lm.step = lambda *a, **kw: (calls.append(kw["first_frame"]), step(*a, **kw))[1]
    model.set_generation_params(duration=1.6, use_sampling=False, extend_stride=0.5)
    model.generate(["church organ, 60 bpm"], return_tokens=True)
    stride = round(0.5 * model.frame_rate)
    assert sorted(set(calls)) == [0, stride, 2 * stride]  # window i starts i * stride frames into the piece
