"""Tiny data and configs shared by the trainer tests."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import torch

from tonecraft.data.token_cache import write_token_cache

REPO = Path(__file__).resolve().parents[2]


def token_cache(path, n_items: int = 3, frames: int = 40, card: int = 16, n_q: int = 4, seed: int = 0,
                description: str = "song number {i}"):
    """Deterministic, learnable token streams with descriptions (`description` formatted with i, bpm)."""
    g = torch.Generator().manual_seed(seed)
    entries = []
    for i in range(n_items):
        step = torch.randint(1, card, (n_q, 1), generator=g)
        codes = (torch.arange(frames)[None] * step + i) % card
        bpm = 100 + 20 * i
        info = {"description": description.format(i=i, bpm=bpm), "genre": ["rock", "jazz"][i % 2], "bpm": bpm}
        entries.append((f"item{i}.wav", codes, info))
    return write_token_cache(path, entries, frame_rate=10, sample_rate=8000, cardinality=card)


def lm_config(cache, out_dir, **sections) -> dict:
    cfg = {
        "model": {"preset": "xsmall", "params": {"card": 16, "dim": 32, "num_heads": 2, "num_layers": 2}},
        "conditioner": {"kind": "hash", "dim": 16, "vocab": 64},
        "data": {"cache": str(cache), "segment_duration": 2.0, "num_samples": 64},
        "optim": {"lr": 1e-2, "warmup_steps": 2, "weight_decay": 0.0},
        "run": {"out_dir": str(out_dir), "steps": 10, "batch_size": 4, "log_every": 1, "checkpoint_every": 100,
                "progress": False, "tensorboard": False, "device": "cpu"},
    }
    for sec, values in sections.items():
        cfg.setdefault(sec, {}).update(values)
    return copy.deepcopy(cfg)


def write_yaml(path, data: dict) -> Path:
    import yaml

    Path(path).write_text(yaml.safe_dump(data))
    return Path(path)


def subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env["HF_HUB_OFFLINE"] = "1"
    return env


def run_cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tonecraft.cli", *args], env=subprocess_env(),
                          capture_output=True, text=True, **kw)


def module_states(trainer) -> dict[str, torch.Tensor]:
    from tonecraft.train import distributed

    out = {}
    for name, m in trainer.modules.items():
        for k, v in distributed.unwrap(m).state_dict().items():
            out[f"{name}.{k}"] = v.detach().cpu().clone()
    return out


def assert_states_equal(a: dict, b: dict, atol: float = 0.0):
    assert a.keys() == b.keys()
    for k in a:
        if atol == 0:
            assert torch.equal(a[k], b[k]), k
        else:
            torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0, msg=k)
