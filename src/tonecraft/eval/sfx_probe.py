"""The sound-effect category probe: a classifier of a clip's corpus category that knows nothing of the LM.

Trained on *real* held-out clips passed through the codec (the domain generated audio lives in); its grouped
cross-validated accuracy on them is the ceiling a generated clip can reach. Features, per clip, in the
measurement window (`envelope.fit_window`: generated length; real clips cropped or padded with silence):

- the level is normalised so the loudest 10 ms frame sits at -20 dBFS (the probe ignores gain);
- log10 mel spectrogram at 16 kHz (64 bands, n_fft 1024, hop 10 ms; `train.losses.MelSpectrogram`), per band
  the mean, standard deviation and mean absolute frame-to-frame change over the *active* frames only (within
  30 dB of the loudest), so an impact padded with silence looks like the same impact;
- the envelope statistics (`envelope.envelope_stats`: active share, span, onset rate, decay), log-scaled.
The classifier is `classifier.LinearProbe`; folds and L2 strength come from `classifier.select_l2`, grouped
by source recording (two parts of one recording never sit on both sides).
"""
from __future__ import annotations

import re

import numpy as np
import torch

from ..audio import resample
from . import classifier as clf
from .envelope import HOP_S, envelope_stats, fit_window, frame_db
from .labels import Clip, load_split

SAMPLE_RATE = 16_000
N_MELS = 64
TARGET_PEAK_DBFS = -20.0
ENVELOPE_FEATURES = ("active_fraction", "span_s", "onsets_per_s", "decay_s")

_MEL = None


def category(clip: Clip) -> str | None:
    return clip.info.get("category")


def source_group(clip: Clip) -> str:
    """The recording a clip was cut from (package + file), or the clip itself (procedural clips)."""
    src = clip.info.get("source") or {}
    if src.get("package") and src.get("path"):
        return f"{src['package']}:{src['path']}"
    return str(clip.info.get("name") or clip.path)


LASER_CAPTION = re.compile(r"\b(laser|plasma|phaser|pulse gun|energy weapon|blaster)\b")


def laser_recognition(clips: list[Clip], predictions: list[str | None]) -> dict:
    """How the probe files the *real* recorded lasers among its own clips (their cross-validated predictions):
    the rate a generated laser can be held to, since the probe hears no laser better than it hears real ones."""
    from collections import Counter

    got = [p for c, p in zip(clips, predictions)
           if p is not None and (c.info.get("source") or {}).get("package") and LASER_CAPTION.search(c.description)]
    return {"n": len(got), "weapon": sum(p == "weapon" for p in got), "filed_as": dict(Counter(got).most_common())}


def load_sfx_clips(corpus, splits: str, n: int | None = None, seed: int = 0) -> list[Clip]:
    """Clips of the SFX corpus splits (`labels.load_split`) that have a category."""
    return [c for c in load_split(corpus, splits, n, seed) if category(c)]


def stratified(clips: list[Clip], n: int | None, seed: int = 0) -> list[Clip]:
    """Up to `n` clips taken round-robin over the categories (seeded order within each), so that every
    category gets clips before any gets many; all of them when n is None."""
    if n is None or n >= len(clips):
        return list(clips)
    rng = np.random.default_rng(seed)
    by_cat: dict[str, list[Clip]] = {}
    for c in clips:
        by_cat.setdefault(category(c), []).append(c)
    queues = {k: [v[i] for i in rng.permutation(len(v))] for k, v in sorted(by_cat.items())}
    out: list[Clip] = []
    while len(out) < n:
        for k in list(queues):
            if queues[k] and len(out) < n:
                out.append(queues[k].pop(0))
    return out


def _log_mel(y: np.ndarray) -> np.ndarray:
    global _MEL
    from ..train.losses import MelSpectrogram

    if _MEL is None:
        _MEL = MelSpectrogram(SAMPLE_RATE, n_fft=1024, hop_length=int(HOP_S * SAMPLE_RATE), n_mels=N_MELS,
                              f_min=20.0, log=True)
    with torch.no_grad():
        return _MEL(torch.from_numpy(np.ascontiguousarray(y))[None, None]).numpy()[0]  # [64, frames]


def clip_features(wav, sample_rate: int, seconds: float) -> tuple[np.ndarray, dict]:
    """(probe feature vector, envelope statistics) of one mono clip [T] in a `seconds` window."""
    x = torch.as_tensor(np.asarray(wav, dtype=np.float32)).reshape(-1)
    if int(sample_rate) != SAMPLE_RATE:
        x = resample(x[None], int(sample_rate), SAMPLE_RATE)[0]
    y = fit_window(np.nan_to_num(x.numpy()), SAMPLE_RATE, seconds)
    db = frame_db(y, SAMPLE_RATE)
    if db.max() > -100:
        y = y * np.float32(10 ** ((TARGET_PEAK_DBFS - db.max()) / 20))
    env = envelope_stats(y, SAMPLE_RATE)
    m = _log_mel(y)
    ndb = db - db.max()
    active = ndb[: m.shape[1]] >= -30.0
    if active.sum() < 2:
        active[: 2] = True
    ma = m[:, active]
    timbre = [ma.mean(1), ma.std(1), np.abs(np.diff(ma, axis=1)).mean(1)]
    shape = np.log([env["active_fraction"] + 0.01, env["span_s"] + 0.01, env["onsets_per_s"] + 0.1,
                    env["decay_s"] + 0.01])
    feats = np.concatenate([*timbre, shape]).astype(np.float32)
    return np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0), env


def train_category_probe(X: np.ndarray, labels: list[str], groups: list[str], min_class_count: int = 5,
                         k: int = 5) -> tuple[clf.LinearProbe | None, dict]:
    """Fit the probe on real clips (classes with fewer than `min_class_count` clips left out) and measure its
    ceiling: grouped k-fold cross-validated predictions with the chosen L2, scored per category."""
    from collections import Counter

    counts = Counter(labels)
    rare = sorted(c for c, v in counts.items() if v < min_class_count)
    sel = [i for i, c in enumerate(labels) if c not in rare]
    info: dict = {"left_out_classes": {c: counts[c] for c in rare}, "n": len(sel)}
    kept = [labels[i] for i in sel]
    if len(set(kept)) < 2:
        info["skipped"] = f"fewer than 2 categories with {min_class_count}+ clips among {len(labels)} real clips"
        return None, info
    Xs, gs = X[sel], [groups[i] for i in sel]
    l2, grid = clf.select_l2(Xs, kept, gs, k=k)
    probe = clf.LinearProbe(l2).fit(Xs, kept)
    cv = clf.cross_val_predict(Xs, kept, gs, l2, k=k)
    pairs = [(p, t) for p, t in zip(cv, kept) if p is not None]
    info.update(l2=l2, cv_accuracy_by_l2=grid, folds=k, train_counts=dict(sorted(counts.items())),
                ceiling=clf.score([p for p, _ in pairs], [t for _, t in pairs], probe))
    predictions: list[str | None] = [None] * len(labels)
    for i, p in zip(sel, cv):
        predictions[i] = p
    info["cv_predictions"] = predictions  # per input clip, None where left out (popped before the report)
    return probe, info
