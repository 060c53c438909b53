"""Weight files read safely, in one place: `safe_torch_load` is the only `torch.load` call of the package
(weights_only=True, after checking that the path is a non-empty regular file), and `read_tensor_file` /
`read_sharded_tensors` / `read_weights` the only readers of weight files (safetensors, pickled state dicts,
sharded `*.index.json` folders). Any unreadable, truncated, hostile or refused file becomes a CheckpointError
naming the file.
"""
from __future__ import annotations

import json
import os
import typing as tp
from pathlib import Path

from .errors import CheckpointError
from .fileio import check_input_file


def safe_torch_load(path: str | os.PathLike, map_location: tp.Any = "cpu") -> tp.Any:
    """`torch.load(weights_only=True)`: tensors, containers, strings and numbers only, never arbitrary code.
    Any unreadable, truncated or refused file becomes a CheckpointError naming the file."""
    import pickle

    import torch

    p = check_input_file(path, CheckpointError, "a checkpoint file")
    try:
        return torch.load(str(p), map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, ImportError, OSError,
            KeyError, TypeError, IndexError, UnicodeDecodeError, MemoryError, OverflowError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(
            f"{p}: cannot read it as a plain weights file ({type(exc).__name__}: {first}). "
            "It is corrupt, truncated, or holds Python objects that are refused for safety") from None


def read_tensor_file(path: str | os.PathLike, prefix: str = "") -> dict:
    """Tensors of one weights file (`.safetensors`, else a pickled state dict), keys under `prefix` only
    (prefix stripped)."""
    import torch

    p = check_input_file(path, CheckpointError, "a checkpoint file")
    if p.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(p), framework="pt") as f:
                return {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types for bad files
            raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from None
    obj = safe_torch_load(p)
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{p}: expected a dict of tensors")
    return {k[len(prefix):]: v for k, v in obj.items() if isinstance(k, str) and k.startswith(prefix)}


def read_sharded_tensors(index_path: str | os.PathLike, prefix: str = "") -> dict:
    """Tensors of a sharded checkpoint (`*.index.json` with a `weight_map` of key -> shard file); only the
    shards holding keys under `prefix` are read."""
    index_path = Path(index_path)
    try:
        weight_map = json.loads(index_path.read_text())["weight_map"]
        shards = sorted({f for k, f in weight_map.items() if k.startswith(prefix)})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{index_path}: malformed shard index ({exc})") from None
    tensors: dict = {}
    for shard in shards:
        if Path(shard).name != shard:
            raise CheckpointError(f"{index_path}: shard {shard!r} is not a file name in the same folder")
        tensors.update(read_tensor_file(index_path.parent / shard, prefix))
    return tensors


def read_weights(path: str | os.PathLike, prefix: str = "") -> dict:
    """A weights file or a shard index (`*.index.json`), see `read_tensor_file` / `read_sharded_tensors`."""
    p = Path(path)
    if p.name.endswith(".index.json"):
        return read_sharded_tensors(p, prefix)
    return read_tensor_file(p, prefix)
