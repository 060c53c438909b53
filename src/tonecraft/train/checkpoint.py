"""Atomic training checkpoints and RNG state capture.

A checkpoint is a plain dict of tensors / numbers / strings written with `torch.save` through
`fileio.atomic_write` (temp file, fsync, rename): a kill at any moment leaves either the previous
checkpoint or the new one. Loading goes through `safe_load.safe_torch_load` (weights_only=True).
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..fileio import atomic_write
from ..safe_load import safe_torch_load

FORMAT = "tonecraft-train-checkpoint"
VERSION = 1


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    state = {"format": FORMAT, "version": VERSION, **state}
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    state = safe_torch_load(path, map_location=map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a tonecraft training checkpoint")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state['version']} is newer than supported")
    return state


def trained_weights(state: dict, module_key: str, module: torch.nn.Module) -> dict:
    """The weights of `state["modules"][module_key]` as `tonecraft train export` writes them: the EMA
    average when the run kept one (`extra.ema`), else the raw weights. `module` (the matching architecture)
    receives the raw weights on the way. The one rule for every reader of training checkpoints."""
    from .optim import ModelEMA

    module.load_state_dict(state["modules"][module_key])
    ema = (state.get("extra") or {}).get("ema")
    if ema is None:
        return module.state_dict()
    averaged = ModelEMA(module, 0.0)
    averaged.load_state_dict(ema)
    return averaged.averaged_state(module)


def get_rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU + CUDA) generator states, in weights_only-loadable types."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [np_name, torch.from_numpy(np.asarray(np_keys, dtype=np.int64)), int(np_pos),
                  int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    v, s, g = state["python"]
    random.setstate((v, tuple(s), g))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
