"""The watermark's effect on the evaluation's own measures: the same generated clips, marked as `tonecraft generate`
writes them, go through the same probe features (the runner scores them). Its SNR alone does not say whether the
mark changes what a listener (or a timbre statistic) hears; a changed probe prediction does."""
from __future__ import annotations

import math

import numpy as np
import torch


def mark_clips(audio, clips, sample_rate: int) -> tuple[list[torch.Tensor], list[float]]:
    """(the clips with the watermark, the mark's SNR in dB per clip)."""
    from ..provenance import Payload, embed

    marked, snrs = [], []
    for i, (w, c) in enumerate(zip(audio, clips)):
        clean = torch.from_numpy(np.asarray(w, dtype=np.float32))
        m = embed(clean, sample_rate, Payload.for_generation("eval", c.description, i))
        noise = max((m - clean).pow(2).mean().item(), 1e-20)
        snrs.append(10 * math.log10(max(clean.pow(2).mean().item(), 1e-20) / noise))
        marked.append(m)
    return marked, snrs


def mark_effect(clean_pred: dict, marked_pred: dict, snrs: list[float]) -> dict:
    """Share of each probe's predictions that the mark changed, and the mark's SNR."""
    changed = {t: float(np.mean(np.asarray(marked_pred[t]) != np.asarray(clean_pred[t]))) for t in clean_pred}
    return {"prediction_changed": changed, "snr_db_min": min(snrs), "snr_db_median": float(np.median(snrs))}
