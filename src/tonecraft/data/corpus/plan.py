"""The seeded clip plan: which piece each clip comes from, how long it is, and its split.

The plan is a prefix-stable sequence: clip i depends only on (seed, i, source lists), so asking for
more hours later appends clips and keeps every existing one. The split hashes the *tune* (settings of
one tune share a key), never the seed, so a tune stays in the same split in every corpus version.
Work units for the workers are whole books (one ABC file), largest first.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from .sources import Work

MMA_CHUNK = 64  # MMA clips per work unit


@dataclass(frozen=True)
class ClipPlan:
    index: int
    kind: str  # "music21" | "mma"
    source: str  # Work.piece_id or MMA groove name
    book: str  # work unit: ABC/MusicXML file, or an MMA chunk
    seconds: float
    piece_id: str
    split: str

    @property
    def name(self) -> str:
        return f"{self.index:07d}"

    def rel_path(self, ext: str) -> str:
        return f"audio/{self.split}/{self.index // 1000:04d}/{self.name}{ext}"


def split_of(tune_key: str, valid_fraction: float, test_fraction: float) -> str:
    u = int(hashlib.sha1(tune_key.encode("utf-8")).hexdigest()[:12], 16) / float(1 << 48)
    if u < test_fraction:
        return "test"
    if u < test_fraction + valid_fraction:
        return "valid"
    return "train"


def clip_rng(seed: int, *parts) -> random.Random:
    """Independent RNG stream per (seed, purpose, index): sha256-seeded, stable across Python versions."""
    h = hashlib.sha256("/".join(str(p) for p in (seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(h[:16], "big"))


def make_plan(works: list[Work], grooves: list[str], hours: float, seed: int, clip_seconds: tuple[float, float],
              mma_fraction: float, valid_fraction: float, test_fraction: float) -> list[ClipPlan]:
    if not works and mma_fraction < 1:
        mma_fraction = 1.0
    if not grooves:
        mma_fraction = 0.0
    order_w = list(works)
    clip_rng(seed, "works").shuffle(order_w)
    order_g = sorted(grooves)
    clip_rng(seed, "grooves").shuffle(order_g)
    target = hours * 3600.0
    plan: list[ClipPlan] = []
    total, n_w, n_g = 0.0, 0, 0
    lo, hi = clip_seconds
    while total < target or not plan:
        i = len(plan)
        r = clip_rng(seed, "plan", i)
        seconds = lo if hi <= lo else round(r.uniform(lo, hi), 1)
        if order_w and r.random() >= mma_fraction:
            w = order_w[n_w % len(order_w)]
            n_w += 1
            plan.append(ClipPlan(i, "music21", w.piece_id, w.path, seconds, w.piece_id,
                                 split_of(w.tune_key, valid_fraction, test_fraction)))
        else:
            g = order_g[n_g % len(order_g)]
            n_g += 1
            pid = f"mma/{g}/{i:07d}"  # every MMA clip is its own chart: its own "tune"
            plan.append(ClipPlan(i, "mma", g, f"mma#{n_g // MMA_CHUNK}", seconds, pid,
                                 split_of(pid, valid_fraction, test_fraction)))
        total += seconds
    return plan


def work_units(plan: list[ClipPlan], work_order: dict[str, int]) -> list[list[ClipPlan]]:
    """Group clips by book, in book order inside a unit; units sorted largest first (load balance)."""
    books: dict[str, list[ClipPlan]] = {}
    for c in plan:
        books.setdefault(c.book, []).append(c)
    units = []
    for clips in books.values():
        clips.sort(key=lambda c: (work_order.get(c.source, 0), c.index))
        units.append(clips)
    units.sort(key=lambda u: (-len(u), u[0].book))
    return units
