"""Multi-process helpers for `torchrun` (DDP): gloo on CPU, nccl on GPU.

Launch: `torchrun --nproc_per_node N -m tonecraft.cli train lm -c cfg.yaml` (or
`python -m torch.distributed.run ...`). Without the torchrun environment everything is a no-op and
rank 0 of 1 is assumed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def init_distributed(device: str = "auto") -> DistInfo:
    """Initialise the process group from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    dev = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", 0)
        return DistInfo(device=dev)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def is_enabled() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if is_enabled() else 1


def barrier() -> None:
    if is_enabled():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if is_enabled():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    if is_enabled():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= dist.get_world_size()
    return t


def any_true(flag: bool, device: torch.device | str = "cpu") -> bool:
    """True on every rank when `flag` is true on any rank (used for coordinated stops)."""
    if not is_enabled():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def average_metrics(metrics: dict[str, float], count: float = 1.0, device: torch.device | str = "cpu"
                    ) -> dict[str, float]:
    """Count-weighted mean of scalar metrics over ranks (identical result on every rank)."""
    if not is_enabled() or not metrics:
        return dict(metrics)
    keys = sorted(metrics)
    t = torch.tensor([float(metrics[k]) * count for k in keys] + [float(count)], dtype=torch.float64,
                     device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    total = t[-1].item()
    return {k: (t[i].item() / total if total else 0.0) for i, k in enumerate(keys)}


def broadcast_buffers(module: nn.Module, src: int = 0) -> None:
    if is_enabled():
        for b in module.buffers():
            dist.broadcast(b.data, src)


def average_buffers(module: nn.Module) -> None:
    """Average floating-point buffers (e.g. RVQ EMA statistics) so every rank holds the same values."""
    if is_enabled():
        for b in module.buffers():
            if b.dtype.is_floating_point:
                dist.all_reduce(b.data, op=dist.ReduceOp.SUM)
                b.data /= dist.get_world_size()


def all_gather_object(obj: Any) -> list[Any]:
    if not is_enabled():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def wrap_ddp(module: nn.Module, info: DistInfo, broadcast_buffers: bool = False,
             find_unused_parameters: bool = False) -> nn.Module:
    if not info.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [info.device.index] if info.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=broadcast_buffers,
                                   find_unused_parameters=find_unused_parameters)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if hasattr(module, "module") and isinstance(
        module, torch.nn.parallel.DistributedDataParallel) else module


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
