"""LM trainer: overfitting, exact resume after a crash, export / fine-tune, CLI."""
import json

import pytest
import torch

from tonecraft.train.config import from_dict
from tonecraft.train.lm_trainer import LMTrainConfig, LMTrainer, codebook_cross_entropy
from tonecraft.train.metrics import read_metrics

from train_helpers import assert_states_equal, lm_config, module_states, token_cache


def _trainer(cache, out, resume=False, **sections):
    return LMTrainer(from_dict(LMTrainConfig, lm_config(cache, out, **sections)), resume=resume)


def test_cross_entropy_masks_positions():
    logits = torch.zeros(1, 2, 3, 4)
    logits[0, 0, :, 1] = 10.0
    targets = torch.tensor([[[1, 1, 2], [0, 0, 0]]])
    mask = torch.tensor([[[True, True, False], [False, False, False]]])
    ce, per_k = codebook_cross_entropy(logits, targets, mask)
    assert per_k[0].item() < 1e-3 and per_k[1].item() == 0.0
    assert ce.item() == pytest.approx(per_k[0].item() / 2)


def test_lm_overfits_short_sequence(tmp_path):
    cache = token_cache(tmp_path / "cache", n_items=1)
    tr = _trainer(cache, tmp_path / "run", run={"steps": 60, "log_every": 5},
                  optim={"schedule": "constant"})
    tr.fit()
    logs = [r for r in read_metrics(tmp_path / "run") if r["split"] == "train"]
    assert logs[0]["ce"] > 2.0  # ~ln(16) at the start
    assert logs[-1]["ce"] < 0.3, logs[-1]
    assert (tmp_path / "run" / "export" / "model.safetensors").exists()


def test_resume_after_crash_is_exact(tmp_path):
    cache = token_cache(tmp_path / "cache")
    common = dict(run={"steps": 10, "checkpoint_every": 4, "num_workers": 0},
                  optim={"ema_decay": 0.9, "warmup_steps": 3},
                  conditioner={"cfg_dropout": 0.3, "word_dropout": 0.2},
                  data={"merge_text_p": 0.5, "drop_desc_p": 0.3, "drop_other_p": 0.5},
                  model={"params": {"card": 16, "dim": 32, "num_heads": 2, "num_layers": 2}})
    ref = _trainer(cache, tmp_path / "ref", **common)
    ref.fit()
    crashed = _trainer(cache, tmp_path / "run", **common)
    crashed.fit(max_steps=7)  # dies between checkpoints (4 and 8): steps 5-7 are lost
    del crashed
    resumed = _trainer(cache, tmp_path / "run", resume=True, **common)
    assert resumed.step == 4
    resumed.fit()
    assert resumed.step == 10
    assert_states_equal(module_states(ref), module_states(resumed))
    assert_states_equal(ref.ema.shadow, resumed.ema.shadow)
    # the log reads as one run: one record per step, equal to the reference
    a = [(r["step"], r["ce"]) for r in read_metrics(tmp_path / "ref") if r["split"] == "train"]
    b = [(r["step"], r["ce"]) for r in read_metrics(tmp_path / "run") if r["split"] == "train"]
    assert a == b and [s for s, _ in b] == list(range(1, 11))


def test_validation_split_and_finetune_from_export(tmp_path):
    cache = token_cache(tmp_path / "cache", n_items=6)
    tr = _trainer(cache, tmp_path / "run", data={"valid_fraction": 0.3}, run={"steps": 3})
    valid = tr.fit()
    assert valid["ce"] > 0 and "ce_q1" in valid and "ppl" in valid
    export = tmp_path / "run" / "export"
    cfg = json.loads((export / "config.json").read_text())
    assert cfg["format"] == "tonecraft-lm" and cfg["lm"]["dim"] == 32 and cfg["frame_rate"] == 10
    from safetensors.torch import load_file

    keys = load_file(str(export / "model.safetensors"))
    assert "emb.0.weight" in keys and "transformer.layers.0.self_attn.in_proj_weight" in keys
    assert "condition_provider.conditioners.description.output_proj.weight" in keys
    # fine-tuning starts from the exported weights (any other model.params are ignored)
    ft = _trainer(cache, tmp_path / "ft", model={"init_from": str(export)}, run={"steps": 1})
    assert_states_equal(module_states(tr), module_states(ft))
    # ... and from a training checkpoint
    ft2 = _trainer(cache, tmp_path / "ft2", model={"init_from": str(tmp_path / "run" / "checkpoint.pt")})
    assert_states_equal(module_states(tr), module_states(ft2))


def test_loader_workers_do_not_change_results(tmp_path):
    cache = token_cache(tmp_path / "cache")
    a = _trainer(cache, tmp_path / "a", run={"steps": 3, "num_workers": 0}, conditioner={"cfg_dropout": 0.5})
    b = _trainer(cache, tmp_path / "b", run={"steps": 3, "num_workers": 1}, conditioner={"cfg_dropout": 0.5})
    a.fit()
    b.fit()
    assert_states_equal(module_states(a), module_states(b))


def test_pooled_prefix_valid_gain_and_export_roundtrip(tmp_path):
    cache = token_cache(tmp_path / "cache", n_items=6)
    tr = _trainer(cache, tmp_path / "run", data={"valid_fraction": 0.3}, run={"steps": 3},
                  conditioner={"pooled_prefix": True})
    valid = tr.fit()
    assert valid["ce_null"] > 0 and valid["cond_gain"] == valid["ce_null"] - valid["ce"]
    export = tmp_path / "run" / "export"
    from safetensors.torch import load_file

    keys = load_file(str(export / "model.safetensors"))
    assert "condition_provider.conditioners.description.pooled_proj.weight" in keys
    assert json.loads((export / "config.json").read_text())["conditioner"]["pooled_prefix"] is True
    ft = _trainer(cache, tmp_path / "ft", model={"init_from": str(export)}, run={"steps": 1})
    assert ft.module.conditioner.pooled
    assert_states_equal(module_states(tr), module_states(ft))


def test_finetune_adds_tempo_embedding_that_learns_and_exports(tmp_path):
    from tonecraft.pretrained.export_format import load_lm_export

    cache = token_cache(tmp_path / "cache", n_items=4, description="song number {i} at {bpm} bpm")
    base = _trainer(cache, tmp_path / "run", run={"steps": 2}, conditioner={"pooled_prefix": True})
    base.fit()
    ft = _trainer(cache, tmp_path / "ft", model={"init_from": str(tmp_path / "run" / "checkpoint.pt")},
                  conditioner={"pooled_prefix": True, "tempo": True}, run={"steps": 8})
    start = module_states(ft)
    assert start["model.conditioner.tempo_proj.proj.weight"].abs().sum() == 0  # step 0 == the base model
    assert_states_equal({k: v for k, v in start.items() if "tempo_proj" not in k}, module_states(base))
    ft.fit()
    assert ft.module.conditioner.tempo_proj.proj.weight.abs().sum() > 0  # the bpm in the captions is learned
    export = tmp_path / "ft" / "export"
    assert json.loads((export / "config.json").read_text())["conditioner"]["tempo"] is True
    _lm, cond, cond_cfg, _ = load_lm_export(export)
    assert cond_cfg.tempo and cond.tempo
    final = module_states(ft)
    assert torch.equal(cond.tempo_proj.proj.weight, final["model.conditioner.tempo_proj.proj.weight"])


def test_finetune_adds_beat_grid_fed_with_segment_phase(tmp_path):
    from tonecraft.errors import ConfigError
    from tonecraft.pretrained.export_format import load_lm_export

    cache = token_cache(tmp_path / "cache", n_items=4, description="song number {i} at {bpm} bpm")
    base = _trainer(cache, tmp_path / "run", run={"steps": 2}, conditioner={"pooled_prefix": True})
    base.fit()
    init = {"init_from": str(tmp_path / "run" / "checkpoint.pt"), "params": {"beat_grid_rate": 10.0}}
    with pytest.raises(ConfigError, match="needs conditioner.tempo"):
        _trainer(cache, tmp_path / "bad", model=init, conditioner={"pooled_prefix": True})
    ft = _trainer(cache, tmp_path / "ft", model=init, conditioner={"pooled_prefix": True, "tempo": True},
                  run={"steps": 6})
    assert ft.module.lm.beat_grid.proj.weight.abs().sum() == 0
    seen = []
    real_forward = ft.module.lm.forward
    ft.module.lm.forward = lambda *a, **kw: (seen.append(kw), real_forward(*a, **kw))[1]
    ft.fit()
    assert seen and all(torch.is_tensor(kw["first_frame"]) for kw in seen)  # each segment's start in its clip
    assert any(not torch.isnan(kw["bpm"]).all() for kw in seen)
    assert ft.module.lm.beat_grid.proj.weight.abs().sum() > 0
    lm, _cond, _cfg, config = load_lm_export(tmp_path / "ft" / "export")
    assert config["lm"]["beat_grid_rate"] == 10.0
    assert torch.equal(lm.beat_grid.proj.weight, ft.module.lm.beat_grid.proj.weight.detach())


def test_pooled_prefix_needs_cross_attention(tmp_path):
    from tonecraft.errors import ConfigError

    cache = token_cache(tmp_path / "cache")
    with pytest.raises(ConfigError, match="pooled_prefix needs an LM with cross-attention"):
        _trainer(cache, tmp_path / "run", conditioner={"pooled_prefix": True},
                 model={"params": {"card": 16, "dim": 32, "num_heads": 2, "num_layers": 2,
                                   "cross_attention": False}})


def test_balance_on_reaches_the_training_set(tmp_path):
    """data.balance_on / balance_power weight the trainer's draws (genre: 2 rock items, 1 jazz)."""
    cache = token_cache(tmp_path / "cache")
    plain = _trainer(cache, tmp_path / "a")
    balanced = _trainer(cache, tmp_path / "b", data={"balance_on": ["genre"], "balance_power": 1.0})
    plain.build_data()
    balanced.build_data()
    assert plain.train_set.sample_probs is None
    assert balanced.train_set.sample_probs.tolist() == pytest.approx([0.25, 0.5, 0.25])
