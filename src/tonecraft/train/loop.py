"""The training loop shared by the codec and LM trainers.

Run folder (`run.out_dir`):  config.yaml (resolved config), checkpoint.pt (latest, atomic),
checkpoint_<step>.pt (every `run.keep_every` steps), metrics.jsonl, tensorboard/, export/.

Exact resume: the data position is the step (see `data.dataset.StepBatchSampler`), the checkpoint
holds model / optimiser / schedule / EMA / scaler states and every rank's RNG states, and random
choices that must agree across ranks (condition dropout) come from generators seeded by the step.
SIGTERM / SIGINT finish the current step, write a checkpoint and stop.
"""
from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, ConfigError
from . import distributed
from .checkpoint import get_rng_state, load_checkpoint, save_checkpoint, set_rng_state
from .config import dump_yaml, to_dict
from .distributed import DistInfo
from .metrics import MetricLogger


@dataclass
class RunConfig:
    out_dir: str = "runs/run"
    steps: int = 1000
    batch_size: int = 8  # global batch (all processes together)
    num_workers: int = 0
    seed: int = 1234
    checkpoint_every: int = 100
    keep_every: int = 0  # also keep checkpoint_<step>.pt every N steps (0: latest only)
    log_every: int = 10
    valid_every: int = 0  # 0: validate at the end only
    valid_batches: int = 0  # 0: the whole validation set
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (auto: LM bf16 on CUDA if supported else fp16
    #                          with loss scaling; codec fp32; CPU: bf16 autocast where the CPU has native bf16,
    #                          else fp32: emulated bf16 is several times slower)
    progress: bool = True
    tensorboard: bool = True
    export_at_end: bool = True

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1 or self.log_every < 1:
            raise ConfigError("run.steps, run.batch_size, run.checkpoint_every and run.log_every must be >= 1")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ConfigError(f"run.precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def step_generator(seed: int, step: int, salt: int = 0) -> torch.Generator:
    """A generator that depends only on (seed, step): identical on every rank and after a resume."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 7919 + salt) % (2**63))


@contextlib.contextmanager
def preserve_rng():
    """Run a block (validation, export) without disturbing the training RNG streams."""
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


class Trainer:
    """Subclasses build `self.modules` / `self.optimizers` in `build()` and implement `train_step`,
    `validate`, `make_train_loader(start_step)`, `extra_state()` / `load_extra_state()` and `export()`."""

    name = "trainer"
    cpu_autocast = True  # whether run.precision=auto may pick bf16 autocast on a CPU with native bf16

    def __init__(self, cfg, resume: bool = False, dist: DistInfo | None = None, write_config: bool = True):
        self.cfg = cfg
        self.run_cfg: RunConfig = cfg.run
        self.dist = dist or distributed.init_distributed(self.run_cfg.device)
        self.device = self.dist.device
        self.out_dir = Path(self.run_cfg.out_dir)
        self.step = 0
        self.precision = self._resolve_precision()
        seed_all(self.run_cfg.seed)  # same initial weights on every rank
        self.modules: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict = {}
        self.build()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        seed_all(self.run_cfg.seed + 1000 * self.dist.rank + 1)  # per-rank streams from here on
        self._stop = False
        self.stop_signal: int | None = None  # SIGTERM/SIGINT that stopped `fit` early (checkpoint saved)
        if resume:
            self.resume()
        if self.dist.is_main and write_config:  # the effective config (with this session's overrides)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            dump_yaml(cfg, self.out_dir / "config.yaml")
        distributed.barrier()

    # -- to implement --------------------------------------------------------------------------------------------

    def build(self) -> None:
        raise NotImplementedError

    def train_step(self, batch) -> dict[str, float]:
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        return {}

    def make_train_loader(self, start_step: int):
        raise NotImplementedError

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def export(self, out_dir: str | Path | None = None) -> Path | None:
        return None

    # -- precision -----------------------------------------------------------------------------------------------

    def _resolve_precision(self) -> str:
        p = self.run_cfg.precision
        if self.device.type != "cuda":
            if p == "fp16":
                raise ConfigError("run.precision=fp16 needs a CUDA device; CPU training runs in fp32 or bf16")
            return self._cpu_precision(p)
        if p == "auto":
            return self.auto_precision()
        return p

    def auto_precision(self) -> str:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"

    def _cpu_precision(self, asked: str) -> str:
        """CPU bf16 autocast makes LM steps ~1.4x faster with native bf16 (AVX512-BF16, AMX) and several times
        slower without it (emulated); `auto` takes it only where it pays, an explicit `bf16` is kept but warned."""
        from ..cpu_features import announce, supports, why_not

        native = supports("native_bf16")
        if asked == "auto":
            chosen = "bf16" if native and self.cpu_autocast else "fp32"
            announce("train-precision", f"CPU training in {chosen}" + ("" if native else f" ({why_not('native_bf16')})"))
            return chosen
        if asked == "bf16" and not native:
            announce("train-precision", f"run.precision=bf16 on a CPU without native bf16 ({why_not('native_bf16')}): "
                     "emulated bf16 is several times slower than fp32; set run.precision=auto or fp32",
                     level=logging.WARNING)
        return "bf16" if asked == "bf16" else "fp32"

    def autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    # -- checkpoints ---------------------------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"

    def state_dict(self) -> dict:
        rng = distributed.all_gather_object(get_rng_state())
        return {
            "kind": self.name,
            "step": self.step,
            "world_size": self.dist.world_size,
            "config": to_dict(self.cfg),
            "modules": {k: distributed.unwrap(m).state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "extra": self.extra_state(),
        }

    def save(self) -> None:
        state = self.state_dict()  # collective (RNG gather): every rank takes part
        if self.dist.is_main:
            save_checkpoint(self.checkpoint_path, state)
            keep = self.run_cfg.keep_every
            if keep and self.step % keep == 0:
                save_checkpoint(self.out_dir / f"checkpoint_{self.step}.pt", state)
        distributed.barrier()

    def resume(self, path: str | Path | None = None) -> None:
        path = Path(path) if path else self.checkpoint_path
        state = load_checkpoint(path, map_location="cpu")
        if state.get("kind") != self.name:
            raise CheckpointError(f"{path}: a {state.get('kind')} checkpoint, not a {self.name} one")
        for k, m in self.modules.items():
            if k not in state["modules"]:
                raise CheckpointError(f"{path}: no weights for {k}")
            distributed.unwrap(m).load_state_dict(state["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        self.scaler.load_state_dict(state["scaler"])
        self.load_extra_state(state.get("extra", {}))
        self.step = int(state["step"])
        rng = state["rng"]
        if len(rng) == self.dist.world_size:
            set_rng_state(rng[self.dist.rank])
        else:  # different process count: data order is still exact, random streams are re-seeded
            seed_all(self.run_cfg.seed + 1000 * self.dist.rank + 1 + self.step)

    # -- loop ------------------------------------------------------------------------------------------------------

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return {}

        old = {}

        def handler(signum, frame):
            self._stop = True  # finish the step, checkpoint, stop; a second signal acts as usual
            self.stop_signal = signum
            signal.signal(signum, old.get(signum, signal.SIG_DFL))

        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, handler)
        return old

    def fit(self, max_steps: int | None = None) -> dict[str, float]:
        """Train until `run.steps`. `max_steps` stops early *without* a checkpoint (simulates a crash;
        used by tests). Returns the last validation metrics."""
        total = self.run_cfg.steps
        logger = MetricLogger(self.out_dir, enabled=self.dist.is_main, total_steps=total, start_step=self.step,
                              progress=self.run_cfg.progress, tensorboard=self.run_cfg.tensorboard)
        old_handlers = self._install_signal_handlers()
        valid_metrics: dict[str, float] = {}
        done = 0
        try:
            if self.step >= total:
                return valid_metrics
            for batch in self.make_train_loader(self.step):
                for m in self.modules.values():
                    m.train()
                metrics = self.train_step(batch)
                self.step += 1
                done += 1
                logger.advance()
                if self.step % self.run_cfg.log_every == 0 or self.step == total:
                    metrics = distributed.average_metrics(metrics, device=self.device)
                    metrics["lr"] = self._lr()
                    logger.log(self.step, metrics)
                if max_steps is not None and done >= max_steps and self.step < total:
                    return valid_metrics  # simulated crash: nothing saved
                stop = distributed.any_true(self._stop, self.device)
                finished = self.step >= total
                if self.step % self.run_cfg.checkpoint_every == 0 or finished or stop:
                    self.save()
                ve = self.run_cfg.valid_every
                if (ve and self.step % ve == 0) or finished:
                    with preserve_rng():
                        valid_metrics = self.validate()
                    if valid_metrics:
                        logger.log(self.step, valid_metrics, split="valid")
                if finished:
                    if self.run_cfg.export_at_end:
                        with preserve_rng():
                            path = self.export()
                        if path is not None:
                            logger.write(f"exported to {path}")
                    break
                if stop:
                    self.stop_signal = self.stop_signal or signal.SIGTERM  # another rank was signalled
                    logger.write(f"stopped at step {self.step}; resume with --resume")
                    break
        finally:
            logger.close()
            for sig, h in old_handlers.items():
                signal.signal(sig, h)
        return valid_metrics

    def _lr(self) -> float:
        for o in self.optimizers.values():
            return float(o.param_groups[0]["lr"])
        return 0.0

    def loader_kwargs(self) -> dict:
        n = self.run_cfg.num_workers
        kw = {"num_workers": n, "pin_memory": self.device.type == "cuda",
              "generator": torch.Generator()}  # never draw from the global RNG (exact resume)
        if n > 0:
            kw["persistent_workers"] = False
            kw["prefetch_factor"] = 2
        return kw
