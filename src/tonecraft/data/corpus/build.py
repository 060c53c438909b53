"""Render a corpus: plan, skip what is complete, render the rest with workers, write manifests.

Resumable: a clip is complete when its sidecar JSON exists (written after the audio), so an
interrupted run simply continues. `corpus.json` pins the settings that change the bytes; resuming with
different ones is refused instead of silently mixing two corpora.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...errors import ConfigError
from .deps import find_mma, find_soundfont, load_fluidsynth, load_mido, load_music21
from .mma import GROOVES, groove_variants
from .plan import ClipPlan, make_plan, work_units
from .sources import COLLECTIONS, DEFAULT_COLLECTIONS, EXCLUDED_NOTE, list_works
from .worker import Worker, WorkerConfig, init_process, run_unit_in_process
from ...fileio import atomic_write_bytes
from .writer import AUDIO_FORMATS, sidecar_of, write_manifests

PLAN_VERSION = 1


@dataclass
class CorpusConfig:
    out: Path
    hours: float
    seed: int = 0
    clip_seconds: tuple[float, float] = (10.0, 30.0)
    workers: int = 1
    sample_rate: int = 32000
    collections: tuple[str, ...] = DEFAULT_COLLECTIONS
    mma_fraction: float = 0.25
    drums_p: float = 0.35
    audio_format: str = "flac"
    valid_fraction: float = 0.02
    test_fraction: float = 0.02
    soundfont: str | None = None
    progress: bool = True
    manifest_every_s: float = 120.0

    def validate(self) -> None:
        lo, hi = self.clip_seconds
        if not 0.5 <= lo <= hi <= 600:
            raise ConfigError(f"clip length must satisfy 0.5 <= min <= max <= 600 s, got {lo}-{hi}")
        if not self.hours > 0:
            raise ConfigError(f"--hours must be positive, got {self.hours}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if not 8000 <= self.sample_rate <= 96000:
            raise ConfigError(f"--sample-rate must be within 8000-96000 Hz, got {self.sample_rate}")
        for name in ("mma_fraction", "drums_p", "valid_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name.replace('_', '-')} must be within [0, 1]")
        if self.valid_fraction + self.test_fraction >= 1.0:
            raise ConfigError("valid + test fractions must leave something for training")
        if self.audio_format not in AUDIO_FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(AUDIO_FORMATS)}")
        if not self.collections and self.mma_fraction < 1.0:
            raise ConfigError("no music21 collection selected; pass --collections or --mma-fraction 1")
        bad = [c for c in self.collections if c not in COLLECTIONS]
        if bad:
            why = "; ".join(f"{c}: {EXCLUDED_NOTE.get(c, 'not a music21 collection')}" for c in bad)
            raise ConfigError(f"music21 collection(s) not allowed ({why}); choose from {', '.join(COLLECTIONS)}")

    def identity(self, soundfont: Path, music21_version: str) -> dict:
        """Everything that changes the bytes of a clip (hours and workers do not)."""
        return {"plan_version": PLAN_VERSION, "seed": self.seed, "clip_seconds": list(self.clip_seconds),
                "sample_rate": self.sample_rate, "collections": list(self.collections),
                "mma_fraction": self.mma_fraction, "drums_p": self.drums_p, "format": self.audio_format,
                "valid_fraction": self.valid_fraction, "test_fraction": self.test_fraction,
                "soundfont": soundfont.name, "music21": music21_version}


@dataclass
class BuildReport:
    planned: int = 0
    planned_hours: float = 0.0
    already_done: int = 0
    rendered: int = 0
    rendered_seconds: float = 0.0
    failed: list[dict] = field(default_factory=list)
    done_hours: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    splits: dict = field(default_factory=dict)
    interrupted: bool = False

    @property
    def realtime_factor(self) -> float:
        return self.rendered_seconds / self.wall_s if self.wall_s > 0 else 0.0


def _check_identity(out: Path, ident: dict, hours: float) -> None:
    path = out / "corpus.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if old is not None:
            prev = old.get("identity", {})
            diff = [k for k in ident if prev.get(k) != ident[k]]
            if diff:
                was = ", ".join(f"{k} was {prev.get(k)!r}, now {ident[k]!r}" for k in diff)
                raise ConfigError(f"{out} holds a corpus rendered with other settings ({was}); "
                                  f"use the same settings to resume, or a new --out folder")
    body = {"identity": ident, "hours": hours, "tool": "tonecraft corpus music"}
    atomic_write_bytes(path, (json.dumps(body, indent=1) + "\n").encode())


def _cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def build_corpus(cfg: CorpusConfig) -> BuildReport:
    cfg.validate()
    t0, cpu0 = time.time(), _cpu_seconds()
    soundfont = find_soundfont(cfg.soundfont)
    load_fluidsynth()
    load_mido()
    m21 = load_music21()
    mma_exe = find_mma() if cfg.mma_fraction > 0 else None
    works = list_works(cfg.collections) if cfg.mma_fraction < 1 else []
    grooves = [g for g in GROOVES if groove_variants(g)] if mma_exe else []
    plan = make_plan(works, grooves, cfg.hours, cfg.seed, cfg.clip_seconds, cfg.mma_fraction,
                     cfg.valid_fraction, cfg.test_fraction)
    out = Path(cfg.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    _check_identity(out, cfg.identity(soundfont, str(m21.__version__)), cfg.hours)
    ext = AUDIO_FORMATS[cfg.audio_format][2]
    sr = cfg.sample_rate
    entries: dict[int, tuple] = {}
    for c in plan:
        if sidecar_of(out / c.rel_path(ext)).exists():
            entries[c.index] = (c.index, c.split, c.rel_path(ext), round(c.seconds * sr) / sr, sr)
    report = BuildReport(planned=len(plan), planned_hours=sum(c.seconds for c in plan) / 3600,
                         already_done=len(entries))
    todo = [c for c in plan if c.index not in entries]
    work_by_id = {w.piece_id: w for w in works}
    work_order = {w.piece_id: i for i, w in enumerate(works)}
    units = work_units(todo, work_order)
    wcfg = WorkerConfig(out=str(out), soundfont=str(soundfont), seed=cfg.seed, sample_rate=sr,
                        audio_format=cfg.audio_format, drums_p=cfg.drums_p, mma_exe=mma_exe)

    from tqdm import tqdm

    tty = sys.stderr.isatty()
    bar = tqdm(total=len(plan), initial=len(entries), unit="clip", desc="corpus", disable=not cfg.progress,
               mininterval=0.5 if tty else 30.0, dynamic_ncols=True, smoothing=0.05)
    last_manifest = time.time()

    def handle(res: dict) -> None:
        nonlocal last_manifest
        if res["status"] == "ok":
            entries[res["index"]] = (res["index"], res["split"], res["path"], res["duration"], sr)
            report.rendered += 1
            report.rendered_seconds += res["duration"]
        else:
            report.failed.append(res)
            bar.set_postfix(failed=len(report.failed), refresh=False)
        bar.update(1)
        if time.time() - last_manifest > cfg.manifest_every_s:
            write_manifests(out, list(entries.values()))
            last_manifest = time.time()

    try:
        if cfg.workers == 1 or len(units) <= 1:
            worker = Worker(wcfg)
            for unit in units:
                worker.run_unit(unit, {c.source: work_by_id[c.source] for c in unit if c.source in work_by_id},
                                handle)
        else:
            _run_pool(cfg.workers, wcfg, units, work_by_id, handle)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        bar.close()
        report.splits = write_manifests(out, list(entries.values()))
        _write_failures(out, report.failed)
        report.done_hours = sum(e[3] for e in entries.values()) / 3600
        report.wall_s = time.time() - t0
        report.cpu_s = _cpu_seconds() - cpu0
        _write_status(out, report)
    if report.interrupted:
        raise KeyboardInterrupt
    return report


def _run_pool(workers: int, wcfg: WorkerConfig, units: list[list[ClipPlan]], work_by_id: dict, handle) -> None:
    """Units go to a spawned process pool; per-clip results come back through a queue (progress)."""
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_process,
                             initargs=(wcfg, q)) as pool:
        futures = [pool.submit(run_unit_in_process,
                               (u, {c.source: work_by_id[c.source] for c in u if c.source in work_by_id}))
                   for u in units]
        pending, expected, got = set(futures), sum(len(u) for u in units), 0
        while pending:
            try:
                handle(q.get(timeout=0.5))
                got += 1
                continue
            except queue_mod.Empty:
                pass
            for f in [f for f in pending if f.done()]:
                pending.discard(f)
                f.result()  # a dead worker (BrokenProcessPool) stops the run; it is resumable
        while got < expected:  # results still in the queue's pipe
            try:
                handle(q.get(timeout=5.0))
                got += 1
            except queue_mod.Empty:
                break


def _write_failures(out: Path, failed: list[dict]) -> None:
    lines = "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in sorted(failed, key=lambda f: f["index"]))
    atomic_write_bytes(out / "failures.jsonl", lines.encode("utf-8"))


def _write_status(out: Path, r: BuildReport) -> None:
    body = {k: v for k, v in asdict(r).items() if k != "failed"}
    body.update(failed=len(r.failed), realtime_factor=round(r.realtime_factor, 1),
                finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"), pid=os.getpid())
    atomic_write_bytes(out / "status.json", (json.dumps(body, indent=1) + "\n").encode())
