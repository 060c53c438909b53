"""Copy check: the training clips a generated clip is most similar to, and whether a stretch is a near copy.

Two complementary measures:
- Codec tokens (`token_matches`): n-grams of the first codebook of the query are looked up in a token cache
  (data/token_cache.py); hits on one diagonal (same offset between query and training clip), with gaps
  of at most `GAP` frames, form a matching stretch. A model that memorised a training clip reproduces its
  tokens, so a long stretch is a copy even when the audio is not sample-identical. N-grams that occur more
  than `MAX_POSTINGS` times in the cache (silence, drones, repeated loops) are ignored: they say nothing.
- Chroma (`chroma_match`): 12-bin chroma frames, mean-removed and normalised, compared on every diagonal and
  every transposition (0-11 semitones); the best mean cosine over `NEAR_COPY_S` seconds catches transposed
  or re-orchestrated copies that share no tokens.
A stretch of at least `NEAR_COPY_S` (2 s) with a token match fraction >= `TOKEN_NEAR` or a chroma cosine
>= `CHROMA_NEAR` is reported as a near copy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..audio import load_audio, resample
from ..conditioning.chroma import ChromaExtractor
from ..data.token_cache import TokenCache

NGRAM = 6
MAX_POSTINGS = 50
GAP = 2 * NGRAM
NEAR_COPY_S = 2.0
TOKEN_NEAR = 0.5
CHROMA_NEAR = 0.9
CHROMA_RATE = 16_000
CHROMA_FFT = 4096
CHROMA_HOP = 1024          # 64 ms frames


@dataclass
class Stretch:
    query_start: float
    query_end: float
    item_start: float
    item_end: float
    score: float           # token stretches: share of frames matched; chroma: mean cosine
    shift: int = 0         # chroma: the query is the item transposed up by `shift` semitones (mod 12)

    @property
    def seconds(self) -> float:
        return self.query_end - self.query_start


@dataclass
class Similar:
    item: int
    path: str
    tokens: Stretch | None = None
    chroma: Stretch | None = None
    near_copy: bool = False

    def as_dict(self) -> dict:
        return {"item": self.item, "path": self.path, "near_copy": self.near_copy,
                "tokens": None if self.tokens is None else vars(self.tokens),
                "chroma": None if self.chroma is None else vars(self.chroma)}


def ngram_hashes(tokens: np.ndarray, n: int = NGRAM) -> np.ndarray:
    """uint64 hash of every n-gram of a 1-D token array (length len - n + 1; empty when shorter)."""
    tokens = np.asarray(tokens, dtype=np.uint64)
    count = tokens.size - n + 1
    h = np.zeros(max(count, 0), dtype=np.uint64)
    if count <= 0:
        return h
    with np.errstate(over="ignore"):
        for i in range(n):
            h = h * np.uint64(1_000_003) + tokens[i:i + count] + np.uint64(1)
    return h


@dataclass
class NgramIndex:
    """Sorted n-gram hashes of every item of a token cache (first codebook), with their global frames."""

    cache: TokenCache
    hashes: np.ndarray = field(repr=False)
    frames: np.ndarray = field(repr=False)
    offsets: np.ndarray = field(repr=False)

    @classmethod
    def build(cls, cache: TokenCache, n: int = NGRAM) -> "NgramIndex":
        first = np.asarray(cache.codes[:, 0])
        hashes, frames = [], []
        for it in cache.items:
            h = ngram_hashes(first[it["offset"]:it["offset"] + it["frames"]], n)
            hashes.append(h)
            frames.append(np.arange(h.size, dtype=np.int64) + it["offset"])
        hashes = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        frames = np.concatenate(frames) if frames else np.zeros(0, np.int64)
        order = np.argsort(hashes, kind="stable")
        hashes, frames = hashes[order], frames[order]
        _, start, counts = np.unique(hashes, return_index=True, return_counts=True)
        keep = np.repeat(counts <= MAX_POSTINGS, counts)   # drop n-grams that are everywhere
        offsets = np.array([it["offset"] for it in cache.items], dtype=np.int64)
        return cls(cache, hashes[keep], frames[keep], offsets)

    def item_of(self, frame: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, frame, side="right") - 1


def token_matches(query_codes: torch.Tensor, index: NgramIndex, n: int = NGRAM) -> dict[int, Stretch]:
    """The longest matching stretch per cache item for query codes [K, T]."""
    fps = index.cache.frame_rate
    qh = ngram_hashes(query_codes[0].cpu().numpy(), n)
    lo = np.searchsorted(index.hashes, qh, side="left")
    hi = np.searchsorted(index.hashes, qh, side="right")
    q = np.repeat(np.arange(qh.size), hi - lo)
    if q.size == 0:
        return {}
    g = np.concatenate([index.frames[a:b] for a, b in zip(lo, hi) if b > a])
    diag = g - q
    order = np.lexsort((q, diag))
    q, diag = q[order], diag[order]
    # a new run where the diagonal changes or the query jumps by more than GAP frames
    breaks = np.flatnonzero((np.diff(diag) != 0) | (np.diff(q) > GAP)) + 1
    best: dict[int, Stretch] = {}
    for run_q, run_d in zip(np.split(q, breaks), np.split(diag, breaks)):
        q0, q1 = int(run_q[0]), int(run_q[-1]) + n
        frames = q1 - q0
        covered = len(np.unique(np.concatenate([run_q + k for k in range(n)])))
        item = int(index.item_of(np.array([run_q[0] + run_d[0]]))[0])
        local = int(run_q[0] + run_d[0] - index.offsets[item])
        s = Stretch(q0 / fps, q1 / fps, local / fps, (local + frames) / fps, covered / frames)
        if item not in best or s.seconds > best[item].seconds:
            best[item] = s
    return best


def chroma_frames(wav: torch.Tensor, sample_rate: int) -> np.ndarray:
    """[frames, 12] chroma of [C, T] audio, each frame mean-removed and L2-normalised (silence: zeros)."""
    mono = resample(wav.float().mean(0, keepdim=True), sample_rate, CHROMA_RATE)
    extractor = ChromaExtractor(CHROMA_RATE, n_fft=CHROMA_FFT, hop_length=CHROMA_HOP, argmax=False)
    c = extractor(mono)[0].numpy().astype(np.float64)
    energy = extractor.spectrogram(mono)[0].sum(0).numpy()[: c.shape[0]]
    c = c - c.mean(1, keepdims=True)
    norm = np.linalg.norm(c, axis=1, keepdims=True)
    c = np.where(norm > 1e-6, c / np.maximum(norm, 1e-12), 0.0)
    c[energy < energy.max() * 1e-4] = 0.0   # silent frames match nothing
    return c


def chroma_match(query: np.ndarray, item: np.ndarray, seconds: float = NEAR_COPY_S) -> Stretch | None:
    """Best mean cosine over `seconds` on any diagonal and transposition, or None when either is shorter."""
    fps = CHROMA_RATE / CHROMA_HOP
    w = max(1, int(round(seconds * fps)))
    if query.shape[0] < w or item.shape[0] < w:
        return None
    best = None
    for shift in range(12):
        sim = query @ np.roll(item, shift, axis=1).T            # [Tq, Ti]
        for d in range(-(sim.shape[0] - w), sim.shape[1] - w + 1):
            diag = np.diagonal(sim, d)
            if diag.size < w:
                continue
            run = np.convolve(diag, np.ones(w) / w, mode="valid")
            k = int(np.argmax(run))
            if best is None or run[k] > best[0]:
                qs = k + max(0, -d)
                best = (float(run[k]), qs, qs + d, shift)
    score, qs, its, shift = best
    return Stretch(qs / fps, (qs + w) / fps, its / fps, (its + w) / fps, score, shift)


def is_near_copy(s: Similar) -> bool:
    tokens = s.tokens is not None and s.tokens.seconds >= NEAR_COPY_S and s.tokens.score >= TOKEN_NEAR
    chroma = s.chroma is not None and s.chroma.score >= CHROMA_NEAR
    return tokens or chroma


def find_similar(query_wav: torch.Tensor, sample_rate: int, cache: TokenCache | None = None,
                 query_codes: torch.Tensor | None = None, audio_paths: list[str] | None = None, top: int = 5,
                 chroma_candidates: int = 20, index: NgramIndex | None = None) -> list[Similar]:
    """The `top` most similar items: token stretches against `cache` (with the query's `query_codes`), chroma
    against the audio of the best token candidates (cache) or of every file in `audio_paths` (manifest).
    `index`: `NgramIndex.build(cache)` made once, when many queries go against the same cache."""
    results: dict[int, Similar] = {}
    paths = [it["path"] for it in cache.items] if cache is not None else list(audio_paths or [])
    if cache is not None and query_codes is not None:
        for item, stretch in token_matches(query_codes, index if index is not None else NgramIndex.build(cache)).items():
            results[item] = Similar(item, paths[item], tokens=stretch)
    ranked = sorted(results, key=lambda i: -results[i].tokens.seconds)[:chroma_candidates] \
        if cache is not None else range(len(paths))
    q_chroma = chroma_frames(query_wav, sample_rate)
    for item in ranked:
        if not os.path.exists(paths[item]):
            continue
        wav, sr = load_audio(paths[item])
        stretch = chroma_match(q_chroma, chroma_frames(wav, sr))
        results.setdefault(item, Similar(item, paths[item])).chroma = stretch
    for s in results.values():
        s.near_copy = is_near_copy(s)

    def key(s: Similar):
        return (s.near_copy, s.tokens.seconds if s.tokens else 0.0, s.chroma.score if s.chroma else -1.0)

    return sorted(results.values(), key=key, reverse=True)[:top]


def load_against(path: str | os.PathLike) -> tuple[TokenCache | None, list[str]]:
    """A token cache folder, or a manifest (.jsonl / .jsonl.gz of audio files)."""
    path = Path(path)
    if path.is_dir():
        cache = TokenCache(path)
        return cache, [it["path"] for it in cache.items]
    from ..data.manifest import read_manifest

    return None, [m.path for m in read_manifest(path)]
