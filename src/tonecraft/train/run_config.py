"""Which trainer a run uses and its config (YAML + `key.sub=value` overrides, or the run folder on resume).

Shared by `tonecraft train` (cli/train.py) and the torchrun workers the tests launch.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError


def trainer_classes(kind: str):
    """(config class, trainer class) of a trainer kind; imported on demand."""
    if kind == "codec":
        from .codec_trainer import CodecTrainConfig, CodecTrainer

        return CodecTrainConfig, CodecTrainer
    if kind == "lm":
        from .lm_trainer import LMTrainConfig, LMTrainer

        return LMTrainConfig, LMTrainer
    raise ConfigError(f"unknown trainer {kind!r}: use codec or lm")


def load_run_config(kind: str, config: str | None, resume: str | None, overrides: list[str]):
    from .config import apply_overrides, from_dict, read_yaml

    cfg_cls = trainer_classes(kind)[0]
    if config:
        data = read_yaml(config)
    elif resume:
        path = Path(resume) / "config.yaml"
        if not path.exists():
            raise ConfigError(f"{resume}: no config.yaml in this run folder")
        data = read_yaml(path)
    else:
        raise ConfigError("give a config file with -c (or --resume RUN_DIR)")
    data = apply_overrides(data, overrides)
    if resume:
        data = apply_overrides(data, [f"run.out_dir={resume}"])
    return from_dict(cfg_cls, data)
