"""YAML <-> dataclass configs, overrides, atomic checkpoints, schedule."""
import pathlib

import pytest
import torch

from tonecraft.errors import CheckpointError, ConfigError
from tonecraft.fileio import atomic_write
from tonecraft.train.checkpoint import load_checkpoint, save_checkpoint
from tonecraft.train.codec_trainer import CodecTrainConfig
from tonecraft.train.config import apply_overrides, from_dict, load_config, to_dict
from tonecraft.train.lm_trainer import LMTrainConfig
from tonecraft.train.optim import OptimConfig, WarmupSchedule

from train_helpers import write_yaml


def test_yaml_overrides_and_partial_sections(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"optim": {"lr": "3e-4"}, "run": {"steps": 5},
                                             "adversarial": {"discriminator": {"filters": 8}}})
    cfg = load_config(CodecTrainConfig, path, ["run.batch_size=16", "losses.l1=0.5",
                                                "optim.betas=[0.8, 0.99]", "model.params.n_q=8"])
    assert cfg.optim.lr == 3e-4 and cfg.run.steps == 5 and cfg.run.batch_size == 16
    assert cfg.optim.optimizer == "adam" and cfg.optim.schedule == "constant"  # codec defaults kept
    assert cfg.optim.betas == [0.8, 0.99] and cfg.losses.l1 == 0.5 and cfg.model.params == {"n_q": 8}
    assert cfg.adversarial.discriminator.filters == 8 and len(cfg.adversarial.discriminator.n_ffts) == 5
    assert from_dict(CodecTrainConfig, to_dict(cfg)) == cfg


@pytest.mark.parametrize("data, match", [
    ({"optim": {"learning_rate": 1}}, "optim.learning_rate"),
    ({"bogus": 1}, "unknown config key"),
    ({"run": {"steps": "many"}}, "run.steps: expected an integer"),
    ({"run": {"steps": 1.5}}, "run.steps"),
    ({"run": {"progress": "yes"}}, "run.progress: expected true/false"),
    ({"optim": {"schedule": "weird"}}, "optim.schedule"),
    ({"run": {"precision": "fp8"}}, "run.precision"),
    ({"conditioner": {"cfg_dropout": 2}}, "dropout"),
    ({"data": {"valid_cache": [1]}}, "data.valid_cache"),
])
def test_strict_errors(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(LMTrainConfig, data)


def test_override_syntax():
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["nonsense"])
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x", "d.e=null"]) == {"a": {"b": 1, "c": "x"}, "d": {"e": None}}
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_atomic_checkpoint(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"step": 1, "w": torch.ones(2)})

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom)
    assert load_checkpoint(path)["step"] == 1  # old checkpoint intact
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temp files left
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_warmup_cosine_schedule():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = WarmupSchedule(opt, total_steps=10, schedule="cosine", warmup_steps=2, min_lr_ratio=0.1)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(10):
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == 0.5 and lrs[1] == 1.0 and lrs[2] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1) and all(a >= b for a, b in zip(lrs[1:], lrs[2:]))
    s2 = WarmupSchedule(opt, total_steps=10, schedule="cosine", warmup_steps=2, min_lr_ratio=0.1)
    s2.load_state_dict({"step_count": 5})
    assert opt.param_groups[0]["lr"] == pytest.approx(lrs[5])
    with pytest.raises(ConfigError):
        OptimConfig(optimizer="sgd")


@pytest.mark.parametrize("name", ["codec_musicgen_32khz", "codec_tiny", "musicgen_small_finetune",
                                  "musicgen_medium_32khz", "lm_tiny"])
def test_example_configs_parse(name):
    from pathlib import Path

    from tonecraft.codec.configs import CodecConfig, get_config
    from tonecraft.lm.config import LMConfig, preset

    path = Path(__file__).resolve().parents[2] / "configs" / f"{name}.yaml"
    cls = CodecTrainConfig if name.startswith("codec") else LMTrainConfig
    cfg = load_config(cls, path)
    assert cfg.run.steps > 0
    if cls is CodecTrainConfig:  # the model section builds a valid codec config
        base = get_config(cfg.model.preset).to_dict() if cfg.model.preset else CodecConfig().to_dict()
        CodecConfig.from_dict({**base, **cfg.model.params})
    elif cfg.model.preset:
        LMConfig.from_dict({**preset(cfg.model.preset).to_dict(), **cfg.model.params})


@pytest.mark.parametrize("path", sorted((pathlib.Path(__file__).resolve().parents[2] / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_parse(path):
    """Every config in configs/ loads into its trainer's dataclasses (unknown keys would be errors)."""
    cls = LMTrainConfig if "conditioner" in path.read_text() else CodecTrainConfig
    cfg = load_config(cls, path)
    assert cfg.run.steps > 0 and cfg.optim.lr > 0
