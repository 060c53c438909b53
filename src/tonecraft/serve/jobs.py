"""The job queue: one worker thread per loaded model runs its jobs in order; the official models found in the
cache (cached_models.py) share one worker, which loads the one a job needs and keeps only that one.

A job's `n` variants are one batch of `generate_stream`, so the worker sees audio as it is produced: it
measures progress and ETA, feeds live listeners (`/stream`) and polls the cancel flag after every decoding
step (the `cancelled` hook), so a cancelled running job stops within one step and frees the worker.
Finished variants are written as WAV through `models.output.save_generated` (atomic, loudness-normalised,
watermarked unless the job says `watermark: false`, labelled with model, prompt, seed and parameters).
"""
from __future__ import annotations

import gc
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import riff
from ..audio import load_audio
from ..errors import TonecraftError
from ..models.frames import GenerationCancelled
from ..models.output import Provenance, save_generated
from .cached_models import OnDemandModel
from .segments import generate_piece, job_segments
from .store import TERMINAL, Store

CHUNK_SECONDS = 0.25


class QueueFull(Exception):
    """More jobs waiting than --max-queue."""


@dataclass
class LiveAudio:
    """PCM16 chunks of every variant while a job runs (read by `/stream` requests, which keep a reference)."""

    channels: int
    sample_rate: int
    n: int = 1
    chunks: list[list[bytes]] = field(default_factory=list)  # chunks[k]: variant k's chunks so far
    finished: bool = False

    def __post_init__(self):
        self.chunks = [[] for _ in range(self.n)]

    @classmethod
    def of(cls, model, n: int) -> "LiveAudio":
        return cls(model.audio_channels, model.sample_rate, n)


@dataclass
class Slot:
    """A loaded model, its queue of job ids and its worker. The on-demand models (official ones found in the
    cache) share one slot, which holds the last one a job loaded (`loaded` names it)."""

    name: str
    model: object
    loaded: str | None = None
    queue: deque = field(default_factory=deque)
    wake: threading.Condition = field(default_factory=threading.Condition)
    running: str | None = None
    seconds_per_second: float | None = None  # measured wall time per second of audio (for the ETA of queued jobs)
    thread: threading.Thread | None = None


class JobManager:
    """Submit, cancel, describe and delete jobs; the workers write results into `data_dir/audio`."""

    def __init__(self, store: Store, data_dir: Path, models: dict, max_queue: int = 32):
        self.store, self.data_dir, self.max_queue = store, Path(data_dir), max_queue
        self.audio_dir = self.data_dir / "audio"
        self.models = models
        self.slots = slots_of(models)
        self.workers = list({id(s): s for s in self.slots.values()}.values())  # one per slot (shared once)
        self.live: dict[str, LiveAudio] = {}
        self.progress: dict[str, float] = {}
        self.cancelled: set[str] = set()
        self.lock = threading.Lock()
        self.closing = False
        for job in store.jobs_with_status("running"):
            store.update_job(job["id"], status="failed", finished=time.time(),
                             error="the server stopped while this job was running")
        for job in store.jobs_with_status("queued"):  # resume the queue in order (or fail: model not loaded)
            if job["model"] in self.slots:
                slot = self.slots[job["model"]]
                slot.queue.append(job["id"])
                self.live[job["id"]] = LiveAudio.of(models[job["model"]], job["n"])
            else:
                store.update_job(job["id"], status="failed", finished=time.time(),
                                 error=f"model {job['model']!r} is not loaded by this server")

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        for slot in self.workers:
            slot.thread = threading.Thread(target=self._work, args=(slot,), name=f"tonecraft-serve-{slot.name}",
                                           daemon=True)
            slot.thread.start()

    def close(self) -> None:
        """Stop the workers: the running jobs are cancelled (recorded as such), queued ones stay queued."""
        self.closing = True
        for slot in self.workers:
            if slot.running:
                self.cancelled.add(slot.running)
            with slot.wake:
                slot.wake.notify_all()
        for slot in self.workers:
            if slot.thread is not None:
                slot.thread.join(timeout=30)

    # -- requests -----------------------------------------------------------------------------------------------

    def queued_count(self) -> int:
        return sum(len(s.queue) for s in self.workers)

    def submit(self, model_name: str, params: dict, seed: int, n: int) -> str:
        slot = self.slots[model_name]
        with self.lock:
            if self.queued_count() >= self.max_queue:
                raise QueueFull()
            job_id = new_id("j")
            self.store.add_job(job_id, model_name, params, seed, n)
            self.live[job_id] = LiveAudio.of(self.models[model_name], n)
            with slot.wake:
                slot.queue.append(job_id)
                slot.wake.notify()
        return job_id

    def cancel(self, job_id: str) -> None:
        """Queued: leaves the queue at once. Running: the worker stops after the current decoding step."""
        for slot in self.workers:
            with slot.wake:
                if job_id in slot.queue:
                    slot.queue.remove(job_id)
                    self.store.update_job(job_id, status="cancelled", finished=time.time())
                    self._end_live(job_id)
                    return
        self.cancelled.add(job_id)

    def describe(self, job: dict) -> dict:
        """The job row plus live fields: queue position, progress, ETA, timings."""
        out = dict(job)
        slot = self.slots.get(job["model"])
        out["position"] = None
        out["eta_s"] = None
        now = time.time()
        if job["status"] == "running":
            p = self.progress.get(job["id"], job["progress"])
            out["progress"] = p
            if p > 0 and job["started"]:
                out["eta_s"] = round((now - job["started"]) * (1 - p) / p, 2)
        elif job["status"] == "queued" and slot is not None:
            ids = list(slot.queue)
            out["position"] = ids.index(job["id"]) + 1 if job["id"] in ids else None
            if slot.seconds_per_second is not None and out["position"]:
                ahead = [self.store.job(i) for i in ids[: out["position"]]]
                seconds = sum(j["params"]["duration"] for j in ahead if j)
                out["eta_s"] = round(seconds * slot.seconds_per_second, 2)
        timings = {"queued_s": None, "first_audio_s": None, "run_s": None, "total_s": None}
        if job["started"]:
            timings["queued_s"] = round(job["started"] - job["created"], 3)
        if job["first_audio"]:
            timings["first_audio_s"] = round(job["first_audio"] - job["created"], 3)
        if job["finished"]:
            timings["total_s"] = round(job["finished"] - job["created"], 3)
            if job["started"]:
                timings["run_s"] = round(job["finished"] - job["started"], 3)
        out["timings"] = timings
        out["audio"] = ([f"/v1/jobs/{job['id']}/audio/{k}" for k in range(job["n"])]
                        if job["status"] == "done" else [])
        return out

    def load_state(self, name: str) -> dict:
        """Whether an on-demand model is in memory now, and why its load failed if it did."""
        model = self.models[name]
        if not isinstance(model, OnDemandModel):
            return {}
        state = {"loaded": self.slots[name].loaded == name}
        return state | ({"error": model.error} if model.error else {})

    def audio_path(self, job_id: str, k: int, ext: str = ".wav") -> Path:
        return self.audio_dir / f"{job_id}_{k}{ext}"

    # -- worker -------------------------------------------------------------------------------------------------

    def _next(self, slot: Slot) -> str | None:
        with slot.wake:
            while not slot.queue and not self.closing:
                slot.wake.wait(timeout=1.0)
            if self.closing:
                return None
            slot.running = slot.queue.popleft()
            return slot.running

    def _work(self, slot: Slot) -> None:
        while True:
            job_id = self._next(slot)
            if job_id is None:
                return
            try:
                self._run(slot, job_id)
            except GenerationCancelled:
                self.store.update_job(job_id, status="cancelled", finished=time.time())
            except TonecraftError as exc:
                self.store.update_job(job_id, status="failed", finished=time.time(), error=str(exc))
            except Exception as exc:  # noqa: BLE001 - a job must never take the worker down
                self.store.update_job(job_id, status="failed", finished=time.time(),
                                      error=f"internal error: {type(exc).__name__}")
            finally:
                slot.running = None
                self.cancelled.discard(job_id)
                self.progress.pop(job_id, None)
                self._end_live(job_id)

    def _end_live(self, job_id: str) -> None:
        live = self.live.pop(job_id, None)
        if live is not None:
            live.finished = True

    def _run(self, slot: Slot, job_id: str) -> None:
        job = self.store.job(job_id)
        if job is None or job["status"] in TERMINAL:
            return
        p, started = job["params"], time.time()
        self.store.update_job(job_id, status="running", started=started,
                              sample_rate=self.models[job["model"]].sample_rate)
        model = self._model_for(slot, job["model"])  # an on-demand model loads here, while the job shows running
        stride = extend_stride(model)

        def configure(duration: float) -> None:
            model.set_generation_params(duration=duration, top_k=p["top_k"], top_p=p["top_p"],
                                        temperature=p["temperature"], cfg_coef=p["cfg"], extend_stride=stride)

        if p.get("loop"):
            return self._run_loop(slot, model, job, started, configure)
        segments = job_segments(p)
        expected_s, prompt, extra = sum(s.seconds for s in segments), None, {}
        if p.get("continuation_file"):
            wav, sr = load_audio(p["continuation_file"])
            prompt, clip_s = (wav, sr), wav.shape[-1] / sr
            if len(segments) > 1 and not p.get("drop_prompt"):
                expected_s += clip_s  # segment durations are new audio
            elif len(segments) == 1 and p.get("drop_prompt"):
                expected_s -= clip_s  # a plain job's duration counts the clip
        if p.get("melody_file"):
            wav, sr = load_audio(p["melody_file"])
            extra.update(melody_wavs=wav, melody_sample_rate=sr)
        generator = torch.Generator(device=model.device).manual_seed(job["seed"])
        stream = generate_piece(model, segments, job["n"], configure, generator=generator, stride=stride,
                                chunk_seconds=CHUNK_SECONDS, prompt=prompt, drop_prompt=bool(p.get("drop_prompt")),
                                cancelled=lambda: job_id in self.cancelled or self.closing, **extra)
        expected = max(1, int(expected_s * model.sample_rate))
        parts, got, live = [], 0, self.live.get(job_id)
        for chunk in stream:  # [B, C, n]
            if not parts:
                self.store.update_job(job_id, first_audio=time.time())
            parts.append(chunk)
            got += chunk.shape[-1]
            self.progress[job_id] = min(0.99, got / expected)
            if live is not None:
                for k in range(chunk.shape[0]):
                    live.chunks[k].append(pcm16(chunk[k]))
        audio = torch.cat(parts, dim=-1)
        for k in range(job["n"]):
            save_generated(self.audio_path(job_id, k), audio[k], model.sample_rate, provenance(job))
        self._done(slot, job_id, started, audio.shape[-1] / model.sample_rate)

    def _run_loop(self, slot: Slot, model, job: dict, started: float, configure) -> None:
        """A loop job: each variant is one streamed seamless loop (`models.loops.stream_loop`; independent
        variants, where `tonecraft generate --variations` chains them), written with its loop points."""
        p, job_id = job["params"], job["id"]
        configure(p["duration"])  # the sampling settings; the loop sets its own lengths
        generator = torch.Generator(device=model.device).manual_seed(job["seed"])
        expected = max(1, int(p["duration"] * model.sample_rate)) * job["n"]
        got, live, loops = 0, self.live.get(job_id), []
        stop = lambda: job_id in self.cancelled or self.closing  # noqa: E731
        for k in range(job["n"]):
            parts = []
            for chunk in model.generate_stream(p["prompt"] or None, CHUNK_SECONDS, loop=True, bars=p["bars"],
                                               bpm=p["bpm"], meter=p["meter"], generator=generator, cancelled=stop):
                if stop():  # also checked here, so no chunk of a cancelled loop is kept
                    raise GenerationCancelled()
                chunk = chunk.detach().cpu().float()
                if not parts and not k:
                    self.store.update_job(job_id, first_audio=time.time())
                parts.append(chunk)
                got += chunk.shape[-1]
                self.progress[job_id] = min(0.99, got / expected)
                if live is not None:
                    live.chunks[k].append(pcm16(chunk))
            loops.append(torch.cat(parts, dim=-1))
            if stop():
                raise GenerationCancelled()
        for k, wav in enumerate(loops):
            path = save_generated(self.audio_path(job_id, k), wav, model.sample_rate, provenance(job),
                                  normalize="peak")  # one gain: the seam stays sample-continuous
            riff.write_loop_points(path, model.sample_rate, 0, wav.shape[-1])
        self._done(slot, job_id, started, loops[0].shape[-1] / model.sample_rate)

    def _model_for(self, slot: Slot, name: str):
        """A loaded model as is; an on-demand one is loaded into the shared slot, replacing the one it held
        (at most one of them in memory besides the models loaded at start-up). A failed load raises its
        CheckpointError, which fails the job with that message."""
        model = self.models[name]
        if not isinstance(model, OnDemandModel):
            return model
        if slot.loaded != name:
            slot.model = slot.loaded = None
            gc.collect()  # free the previous one before the next is read
            slot.model, slot.loaded = model.load(), name
        return slot.model

    def _done(self, slot: Slot, job_id: str, started: float, seconds: float) -> None:
        finished = time.time()
        slot.seconds_per_second = (finished - started) / max(seconds, 1e-3)
        self.store.update_job(job_id, status="done", progress=1.0, finished=finished, seconds=seconds)


def slots_of(models: dict) -> dict[str, Slot]:
    """name -> Slot: one per loaded model, one shared by all the on-demand ones (one loading / generating at
    a time, so one in memory)."""
    slots, shared = {}, None
    for name, model in models.items():
        if isinstance(model, OnDemandModel):
            shared = shared or Slot("on-demand", None)
            slots[name] = shared
        else:
            slots[name] = Slot(name, model)
    return slots


def provenance(job: dict) -> Provenance:
    """What a job's files are labelled (and watermarked) with: not the server's file paths."""
    p = job["params"]
    keys = ("duration", "top_k", "top_p", "temperature", "cfg", "segments")
    if p.get("loop"):
        keys += ("loop", "bars", "tempo_bpm", "meter")
    labels = {k: p[k] for k in keys if p.get(k) is not None}
    return Provenance(model=job["model"], prompt=p["prompt"], seed=job["seed"], params=labels,
                      watermark=bool(p.get("watermark", True)))


def extend_stride(model) -> float:
    """The family's long-form stride (audiocraft's 18 s / 2 s), or 60 % of a shorter window (tonecraft-default: 10 s)."""
    stride = model.default_extend_stride
    return stride if stride < model.max_duration else round(0.6 * model.max_duration, 3)


def pcm16(wav: torch.Tensor) -> bytes:
    """[C, T] float -> interleaved little-endian 16-bit PCM."""
    return (wav.clamp(-1, 1) * 32767).round().to(torch.int16).T.contiguous().numpy().tobytes()


def new_id(prefix: str) -> str:
    """A server-made id, safe as a file name: prefix + 16 hex digits."""
    return prefix + secrets.token_hex(8)
