"""Fine-tuning an official-format checkpoint (tiny random MusicGen, transformers layout) through the
MusicGen loader, with its T5 text conditioner; the export reloads with the fine-tuned weights."""
import pytest
import torch

pytest.importorskip("transformers")

from tonecraft.train.config import from_dict  # noqa: E402
from tonecraft.pretrained.export_format import load_lm_export  # noqa: E402
from tonecraft.train.lm_trainer import LMTrainConfig, LMTrainer  # noqa: E402

from train_helpers import lm_config, token_cache  # noqa: E402


def test_finetune_tiny_musicgen(tmp_path):
    from helpers_musicgen import CARD, N_Q, save_tiny_hf_musicgen

    from tonecraft.pretrained.musicgen_loading import load_musicgen

    save_tiny_hf_musicgen(tmp_path / "mg")
    original = load_musicgen(tmp_path / "mg")
    cache = token_cache(tmp_path / "cache", n_items=2, frames=30, card=CARD, n_q=N_Q)
    cfg = lm_config(cache, tmp_path / "run", model={"init_from": str(tmp_path / "mg")},
                    conditioner={"kind": "t5", "cfg_dropout": 0.3}, run={"steps": 3},
                    optim={"lr": 1e-3, "warmup_steps": 0})
    tr = LMTrainer(from_dict(LMTrainConfig, cfg))
    start = {k: v.clone() for k, v in tr.module.lm.state_dict().items()}
    for k, v in original.lm.state_dict().items():
        assert torch.equal(start[k], v), k
    assert all(p.requires_grad for p in tr.module.parameters())
    tr.fit()
    moved = sum(not torch.equal(start[k], v) for k, v in tr.module.lm.state_dict().items())
    assert moved > 0
    lm, cond, cond_cfg, config = load_lm_export(tmp_path / "run" / "export")
    assert cond_cfg.kind == "t5" and cond_cfg.source == str(tmp_path / "mg")
    for k, v in tr.module.lm.state_dict().items():
        assert torch.equal(lm.state_dict()[k], v), k
    assert torch.equal(cond.output_proj.weight, tr.module.conditioner.output_proj.weight)


def test_finetune_from_a_shipped_models_name_uses_its_export(tmp_path, monkeypatch):
    """`model.init_from: tonecraft-default` starts from the packaged export with its own conditioner, not from
    the MusicGen loader's reading of the name (which would bring a T5 conditioner)."""
    import shutil

    from tonecraft.pretrained import default_model as dm
    from tonecraft.train.export import load_lm_for_finetune

    cache = token_cache(tmp_path / "cache")
    LMTrainer(from_dict(LMTrainConfig, lm_config(cache, tmp_path / "run", run={"steps": 1}))).fit()
    shutil.copytree(tmp_path / "run" / "export", tmp_path / "assets" / "default")
    monkeypatch.setattr(dm, "ASSETS", tmp_path / "assets")
    cfg = from_dict(LMTrainConfig, lm_config(cache, tmp_path / "ft"))
    lm, conditioner, cond_cfg = load_lm_for_finetune("tonecraft-default", cfg.conditioner)
    reference = load_lm_export(tmp_path / "run" / "export")[0]
    assert cond_cfg.kind == "hash" and conditioner is not None
    for k, v in reference.state_dict().items():
        assert torch.equal(lm.state_dict()[k], v), k
