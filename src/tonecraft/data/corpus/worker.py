"""Per-process work: convert (or load cached) pieces, build each clip's variant, render, write.

A worker owns one Renderer (the soundfont stays loaded) and renders the clips of one book at a time.
Any failure of one piece or clip is returned as a result, never raised: a bad piece cannot stop a run.
"""
from __future__ import annotations

import contextlib
import io
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import CachedFailure, PieceCache
from .caption import describe, sidecar
from .convert import ConversionError, convert_work
from .events import parse_midi
from .mma import run_mma
from .plan import ClipPlan, clip_rng
from .sources import COLLECTIONS, Work, corpus_root
from .synth import Renderer, normalize_loudness, to_pcm16
from .variant import ClipError, RenderJob, mma_chart, mma_job, music21_job
from .writer import AUDIO_FORMATS, write_clip

SILENCE_DBFS = -65.0
FADE_IN_S, FADE_OUT_S = 0.005, 0.02
SOUNDFONT_LICENCES = {"FluidR3_GM.sf2": "FluidR3_GM soundfont (MIT)", "TimGM6mb.sf2": "TimGM6mb soundfont (GPL-2)",
                      "MuseScore_General_Lite.sf3": "MuseScore General soundfont (MIT)"}


@dataclass
class WorkerConfig:
    out: str
    soundfont: str
    seed: int
    sample_rate: int = 32000
    audio_format: str = "flac"
    drums_p: float = 0.35
    mma_exe: str | None = None


class Worker:
    def __init__(self, cfg: WorkerConfig):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.renderer = Renderer(cfg.soundfont, cfg.sample_rate)
        self.cache = PieceCache(self.out / "cache" / "midi")
        self.root = corpus_root()
        self._piece: tuple[str, bytes, dict] | None = None  # last piece: books are rendered in order
        sf_name = Path(cfg.soundfont).name
        self.sf_note = "rendered with " + SOUNDFONT_LICENCES.get(sf_name, sf_name)

    def piece(self, work: Work) -> tuple[bytes, dict]:
        if self._piece and self._piece[0] == work.piece_id:
            return self._piece[1], self._piece[2]
        got = self.cache.get(work.piece_id)  # raises CachedFailure
        if got is None:
            try:
                with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), \
                        contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    got = convert_work(work, self.root)
            except ConversionError as exc:
                self.cache.put_failure(work.piece_id, str(exc))
                raise
            except Exception as exc:  # noqa: BLE001 -- music21 bug on this score: skip the piece
                msg = f"{type(exc).__name__}: {exc}"
                self.cache.put_failure(work.piece_id, msg)
                raise ConversionError(msg) from None
            self.cache.put(work.piece_id, *got)
        self._piece = (work.piece_id, got[0], got[1])
        return got

    def job(self, clip: ClipPlan, work: Work | None) -> tuple[RenderJob, dict, str]:
        rng = clip_rng(self.cfg.seed, "variant", clip.index)
        sr = self.cfg.sample_rate
        if clip.kind == "music21":
            data, facts = self.piece(work)
            job = music21_job(work, facts, parse_midi(data), clip.seconds, rng, sr, self.cfg.drums_p)
            source = {"kind": "music21", "collection": work.collection, "work": work.path, "number": work.number,
                      "title": job.attrs.title}
            licence = f"{COLLECTIONS[work.collection].licence}; {self.sf_note}"
        else:
            chart = mma_chart(clip.source, clip.seconds, rng)
            job = mma_job(clip.source, chart, parse_midi(run_mma(chart, self.cfg.mma_exe), keep_channels=True),
                          clip.seconds, rng, sr)
            source = {"kind": "mma", "groove": chart.groove, "style": clip.source}
            licence = ("generated from a random chord chart with the MMA 21.09 groove library (GPL-2+); "
                       f"{self.sf_note}")
        return job, source, licence

    def make_clip(self, clip: ClipPlan, work: Work | None) -> dict:
        job, source, licence = self.job(clip, work)
        sr = self.cfg.sample_rate
        audio = self.renderer.render(job.events, job.n_samples, job.setup)[job.preroll:]
        n_in, n_out = int(FADE_IN_S * sr), int(FADE_OUT_S * sr)
        audio[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
        audio[-n_out:] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)
        audio, rms_db = normalize_loudness(audio)
        if rms_db < SILENCE_DBFS:
            raise ClipError(f"silent crop ({rms_db:.0f} dBFS)")
        rng = clip_rng(self.cfg.seed, "caption", clip.index)
        text = describe(job.attrs, rng)
        ext = AUDIO_FORMATS[self.cfg.audio_format][2]
        duration = len(audio) / sr
        meta = sidecar(job.attrs, text, name=clip.name, piece_id=clip.piece_id, split=clip.split, source=source,
                       licence=licence, duration=duration, sample_rate=sr,
                       render={"soundfont": self.renderer.soundfont, "seed": self.cfg.seed, **job.info})
        write_clip(self.out / clip.rel_path(ext), to_pcm16(audio), sr, self.cfg.audio_format, meta)
        return {"path": clip.rel_path(ext), "duration": duration}

    def run_unit(self, unit: list[ClipPlan], works: dict[str, Work], emit) -> None:
        for clip in unit:
            res = {"index": clip.index, "split": clip.split, "piece_id": clip.piece_id, "seconds": clip.seconds}
            try:
                res.update(self.make_clip(clip, works.get(clip.source)), status="ok")
            except (ConversionError, CachedFailure, ClipError) as exc:
                res.update(status="failed", error=str(exc)[:500])
            except Exception as exc:  # noqa: BLE001 -- report, keep going
                res.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500],
                           trace=traceback.format_exc(limit=3)[-1500:])
            emit(res)


# multiprocessing entry points (spawned processes: one Worker each)
_WORKER: Worker | None = None
_QUEUE = None


def init_process(cfg: WorkerConfig, queue) -> None:
    global _WORKER, _QUEUE
    _WORKER, _QUEUE = Worker(cfg), queue


def run_unit_in_process(args: tuple[list[ClipPlan], dict[str, Work]]) -> int:
    unit, works = args
    _WORKER.run_unit(unit, works, _QUEUE.put)
    return len(unit)
