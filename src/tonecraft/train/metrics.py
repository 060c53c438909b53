"""Metric logging: JSONL file (always), console progress with tqdm, TensorBoard when installed.

Only rank 0 writes. On resume, records newer than the resumed step are dropped from the JSONL so the
log reads as one uninterrupted run.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from ..fileio import atomic_write_text


class MetricLogger:
    def __init__(self, out_dir: str | os.PathLike, enabled: bool = True, total_steps: int | None = None,
                 start_step: int = 0, progress: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(out_dir) / "metrics.jsonl"
        self._bar = None
        self._tb = None
        self._file = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._truncate_after(start_step)
        self._file = open(self.path, "a", encoding="utf-8")
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                             file=sys.stderr, disable=None)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(out_dir) / "tensorboard"), purge_step=start_step or None)
            except Exception:  # noqa: BLE001 -- tensorboard is optional
                self._tb = None

    def _truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        keep = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill
                if rec.get("step", 0) <= step:
                    keep.append(json.dumps(rec))
        atomic_write_text(self.path, "".join(k + "\n" for k in keep))

    def log(self, step: int, metrics: dict[str, float], split: str = "train") -> None:
        if not self.enabled:
            return
        clean = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in metrics.items()}
        rec = {"step": step, "split": split, "time": round(time.time(), 3), **clean}
        self._file.write(json.dumps(rec) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in clean.items():
                if isinstance(v, float) and math.isfinite(v):
                    self._tb.add_scalar(f"{split}/{k}", v, step)
        text = " ".join(f"{k}={_fmt(v)}" for k, v in clean.items())
        if split == "train" and self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
        else:
            self.write(f"[{split} step {step}] {text}")

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def write(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        if self._file is not None:
            self._file.close()
            self._file = None


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def read_metrics(path: str | os.PathLike) -> list[dict]:
    out = []
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.jsonl"
    with open(p, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out
