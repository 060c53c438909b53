"""The watermark's effect on the evaluation's own measures: the same generated clips, marked as `tonecraft generate`
writes them, through the same probe features. Its SNR alone does not say whether the mark changes what a listener
(or a timbre statistic) hears; a changed probe prediction does."""
from __future__ import annotations

import math

import numpy as np
import torch

from .features import TASK_FEATURES, probe_features_and_bpm


def marked_features(audio, clips, sample_rate: int) -> tuple[np.ndarray, list[float], list[float]]:
    """(probe features [N, D], beat-tracker bpm [N], SNR of the mark in dB [N]) of the clips after marking."""
    from ..provenance import Payload, embed

    feats, bpms, snrs = [], [], []
    for i, (w, c) in enumerate(zip(audio, clips)):
        clean = torch.from_numpy(np.asarray(w, dtype=np.float32))
        marked = embed(clean, sample_rate, Payload.for_generation("eval", c.description, i))
        noise = max((marked - clean).pow(2).mean().item(), 1e-20)
        snrs.append(10 * math.log10(max(clean.pow(2).mean().item(), 1e-20) / noise))
        f, bpm = probe_features_and_bpm(marked, sample_rate)
        feats.append(f)
        bpms.append(bpm)
    return np.stack(feats), bpms, snrs


def mark_effect(probes, marked_X: np.ndarray, clean_pred: dict, snrs: list[float]) -> dict:
    """Share of each probe's predictions that the mark changed, and the mark's SNR."""
    changed = {t: float(np.mean(p.predict(marked_X[:, TASK_FEATURES[t]]) != np.asarray(clean_pred[t])))
               for t, p in probes.items()}
    return {"prediction_changed": changed, "snr_db_min": min(snrs), "snr_db_median": float(np.median(snrs))}
