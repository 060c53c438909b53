"""Energy-envelope statistics of a sound effect: is its length right for what it is? (issue 15, "Measured")

An impact is a short burst that decays, rain is continuous, footsteps are a train of onsets. Every clip is
looked at in the same window (`fit_window`: generated clips have the generated length, real clips are cropped
or padded with silence to it), as the level of 10 ms frames (20 ms Hann windows) in dB relative to the
loudest frame, so the statistics do not depend on gain:

- `active_s` / `active_fraction`: frames within `ACTIVE_DB` (30 dB) of the loudest one, in seconds and as a
  share of the window (a clip whose loudest frame is below `FLOOR_DBFS` is silence: all statistics 0);
- `span_s`: from the first to the last frame within `DECAY_DB` (20 dB) of the loudest one (a train of
  footsteps spans the window with a small active share; rain spans it and fills it);
- `onsets_per_s`: rises of at least `ONSET_RISE_DB` (9 dB) over the quietest frame of the previous 50 ms that
  reach the active range, at least 50 ms apart; the window starts after silence, so a sound at its very start
  is an onset (a click train counts its clicks, steady rain counts none);
- `decay_s`: from the loudest frame until the level first falls `DECAY_DB` below it; a sound that never does
  (rain, a drone) gets the rest of the window;
- `peak_s`: when the loudest frame is.
Plain numpy: no model, no librosa.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

HOP_S = 0.010
WIN_S = 0.020
ACTIVE_DB = 30.0
FLOOR_DBFS = -90.0
ONSET_RISE_DB = 9.0
ONSET_LOOKBACK_S = 0.050
ONSET_GAP_S = 0.050
DECAY_DB = 20.0
STATS = ("active_s", "active_fraction", "span_s", "onsets_per_s", "decay_s", "peak_s")


def fit_window(wav: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """Mono float32 [T] cropped or zero-padded to `seconds`."""
    n = int(round(seconds * sample_rate))
    y = np.asarray(wav, dtype=np.float32).reshape(-1)[:n]
    return np.pad(y, (0, n - y.size)) if y.size < n else y


def frame_db(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Level of each 10 ms frame (20 ms Hann window, centred) in dBFS (RMS, full scale sine = -3 dB)."""
    y = np.asarray(wav, dtype=np.float64).reshape(-1)
    hop, win = max(1, int(round(HOP_S * sample_rate))), max(2, int(round(WIN_S * sample_rate)))
    n_frames = max(1, int(np.ceil(y.size / hop)))
    padded = np.pad(y, (win // 2, win // 2 + n_frames * hop - y.size + 1))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n_frames]
    w = np.hanning(win)
    power = (frames ** 2 * w).sum(1) / w.sum()
    return 10.0 * np.log10(power + 1e-12)


def envelope_stats(wav: np.ndarray, sample_rate: int) -> dict[str, float]:
    """The statistics of the module doc for one clip (all zeros for a silent clip)."""
    db = frame_db(wav, sample_rate)
    window_s = db.size * HOP_S
    peak_i = int(np.argmax(db))
    peak = float(db[peak_i])
    if peak < FLOOR_DBFS:
        return dict.fromkeys(STATS, 0.0)
    active = db >= peak - ACTIVE_DB
    loud = np.nonzero(db > peak - DECAY_DB)[0]
    return {"active_s": float(active.sum() * HOP_S), "active_fraction": float(active.mean()),
            "span_s": float((loud[-1] - loud[0] + 1) * HOP_S),
            "onsets_per_s": len(onsets(db, active)) / window_s, "decay_s": _decay(db, peak_i) * HOP_S,
            "peak_s": peak_i * HOP_S}


def onsets(db: np.ndarray, active: np.ndarray) -> list[int]:
    """Frame indices of the onsets (see module doc)."""
    look = max(1, int(round(ONSET_LOOKBACK_S / HOP_S)))
    gap = max(1, int(round(ONSET_GAP_S / HOP_S)))
    found: list[int] = []
    for i in range(db.size):
        if not active[i] or (found and i - found[-1] < gap):
            continue
        before = db[i - look:i].min() if i >= look else -120.0  # silence before the window
        # the frame where the rise completes and the level stops climbing
        if db[i] - before >= ONSET_RISE_DB and (i + 1 >= db.size or db[i + 1] <= db[i]):
            found.append(i)
    return found


def _decay(db: np.ndarray, peak_i: int) -> int:
    below = np.nonzero(db[peak_i:] <= db[peak_i] - DECAY_DB)[0]
    return int(below[0]) if below.size else db.size - peak_i


def summarize_by_category(rows: list[dict], categories: list[str], stats=STATS) -> dict[str, dict]:
    """{category: {"n", stat: median, stat + "_p10", stat + "_p90"}} of per-clip `rows`."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r, c in zip(rows, categories):
        groups[c].append(r)
    out = {}
    for c, rs in sorted(groups.items()):
        d: dict = {"n": len(rs)}
        for s in stats:
            v = np.array([r[s] for r in rs], dtype=np.float64)
            d[s] = float(np.median(v))
            d[f"{s}_p10"] = float(np.percentile(v, 10, method="lower"))  # few clips: their min and max
            d[f"{s}_p90"] = float(np.percentile(v, 90, method="higher"))
        out[c] = d
    return out


def compare(real: dict[str, dict], generated_rows: list[dict], generated_categories: list[str],
            stat: str = "active_fraction") -> dict:
    """How generated envelopes match the real ones of their category:
    - `in_range`: share of generated clips whose `stat` lies within the real category's 10-90 % range
      (widened by half a frame's share so a one-value range still holds its own value);
    - `spearman_r`: rank correlation, over categories, of the real and the generated median `stat`
      (do short categories stay shorter than continuous ones?); needs 3 categories."""
    gen = summarize_by_category(generated_rows, generated_categories)
    hits, n = 0, 0
    for r, c in zip(generated_rows, generated_categories):
        if c not in real:
            continue
        lo, hi = real[c][f"{stat}_p10"], real[c][f"{stat}_p90"]
        tol = 0.5 * HOP_S if stat.endswith("_s") else 1e-3
        hits += int(lo - tol <= r[stat] <= hi + tol)
        n += 1
    out: dict = {"stat": stat, "n": n, "in_range": hits / n if n else None}
    cats = [c for c in gen if c in real]
    if len(cats) >= 3:
        a = np.array([real[c][stat] for c in cats])
        b = np.array([gen[c][stat] for c in cats])
        if np.ptp(a) > 0 and np.ptp(b) > 0:
            out["spearman_r"] = float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])
            out["n_categories"] = len(cats)
    return out


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (Spearman's convention)."""
    r = np.empty(v.size)
    r[np.argsort(v, kind="stable")] = np.arange(v.size)
    _, inv = np.unique(v, return_inverse=True)
    return np.array([r[inv == inv[i]].mean() for i in range(v.size)])
