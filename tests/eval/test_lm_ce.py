"""Held-out LM cross-entropy with captions vs the empty prompt (tonecraft.eval.lm_ce), on a tiny random model
that is then taught, in a few steps, that the caption tells an impact from rain."""
import pytest
import torch

from helpers_sfx_eval import write_sfx_corpus
from tonecraft.eval.lm_ce import build_heldout_cache, heldout_cross_entropy
from tonecraft.eval.sfx_probe import load_sfx_clips


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tonecraft.eval.tiny import save_tiny_random_model
    from tonecraft.models import load_model

    tmp = tmp_path_factory.mktemp("lm_ce")
    model = load_model(save_tiny_random_model(tmp / "model", sample_rate=16_000))
    clips = load_sfx_clips(write_sfx_corpus(tmp / "corpus", {"test": 4}), "test")
    return model, [c.path for c in clips], [c.description for c in clips], tmp


def test_ce_with_and_without_captions(tiny):
    model, paths, _, tmp = tiny
    res = heldout_cross_entropy(model, paths, segment_duration=2.0, batch_size=3)
    assert res["n_clips"] == 4 and res["segment_duration"] == 2.0
    frames = [8, 75, 8, 75]  # 0.3 s impacts and 3 s rain (cut to 2 s = 50 frames) at 25 Hz
    assert res["n_tokens"] == sum(min(f, 50) for f in frames) * model.lm.cfg.n_q
    assert res["cond_gain"] == pytest.approx(res["ce_null"] - res["ce"])
    assert 0 < res["ce"] < 10 and res["ppl"] == pytest.approx(torch.tensor(res["ce"]).exp().item(), rel=1e-5)
    assert {"ce_q1", "ce_q2"} <= set(res)
    cache = build_heldout_cache(model, paths, tmp / "cache")  # an existing cache gives the same numbers
    again = heldout_cross_entropy(model, cache=cache, segment_duration=2.0, batch_size=3)
    assert again["ce"] == pytest.approx(res["ce"]) and again["ce_null"] == pytest.approx(res["ce_null"])
    assert heldout_cross_entropy(model, [], segment_duration=2.0) == {"n_clips": 0}


def test_same_numbers_as_the_trainers_validation(tmp_path):
    """The evaluation is the trainer's validation: same cache, same weights -> the same ce and ce_null."""
    from types import SimpleNamespace

    from tonecraft.data.token_cache import write_token_cache
    from tonecraft.train.config import from_dict
    from tonecraft.train.lm_trainer import LMTrainConfig, LMTrainer

    g = torch.Generator().manual_seed(0)
    entries = []
    for i in range(5):  # learnable streams of different lengths (the shorter ones padded and masked)
        frames = 12 + 7 * i
        codes = (torch.arange(frames)[None] * torch.randint(1, 16, (4, 1), generator=g) + i) % 16
        entries.append((f"clip{i}.wav", codes, {"description": f"sound number {i}"}))
    cache = write_token_cache(tmp_path / "cache", entries, frame_rate=10, sample_rate=8000, cardinality=16)
    cfg = {"model": {"preset": "xsmall", "params": {"card": 16, "dim": 32, "num_heads": 2, "num_layers": 2}},
           "conditioner": {"kind": "hash", "dim": 16, "vocab": 64, "cfg_dropout": 0.3},
           "data": {"cache": str(cache), "valid_cache": str(cache), "segment_duration": 3.0, "num_samples": 64},
           "optim": {"lr": 1e-2, "warmup_steps": 1, "weight_decay": 0.0, "ema_decay": 0.0},
           "run": {"out_dir": str(tmp_path / "run"), "steps": 4, "batch_size": 2, "checkpoint_every": 100,
                   "precision": "fp32", "progress": False, "tensorboard": False, "device": "cpu"}}
    trainer = LMTrainer(from_dict(LMTrainConfig, cfg))
    trainer.fit()
    valid = trainer.validate()
    model = SimpleNamespace(lm=trainer.module.lm, conditioner=trainer.module.conditioner, max_duration=3.0)
    ours = heldout_cross_entropy(model, cache=cache, batch_size=2)
    assert ours["n_clips"] == 5 and ours["segment_duration"] == 3.0
    for k in ("ce", "ce_null", "cond_gain", "ce_q1", "ce_q4"):
        assert ours[k] == pytest.approx(valid[k], rel=1e-5), k
