"""Tempo of a clip by librosa beat tracking, and how it compares with the prompt's bpm.

The corpus bpm counts the *felt* beat (dotted quarter in 6/8, half note in 2/2), so a beat tracker often
finds twice, half, or 3/2 of it. Three shares are reported:
- `within_8pct`: |estimate - bpm| <= 8 % of bpm;
- `within_8pct_octave`: the same, also accepting estimate x 2 or x 1/2 (octave errors);
- `within_8pct_metrical`: also accepting x 3, x 1/3, x 3/2, x 2/3 (compound-meter levels; MIREX-style).
`spearman_r` (rank correlation of estimate and bpm, clips with a beat) asks the looser question: do faster
prompts give faster music at all, whatever the metrical level the tracker locks on to?
"""
from __future__ import annotations

import re

import numpy as np

from ..conditioning.tempo import BPM_PATTERN, TEMPO_WORD_PATTERN

from .features import HOP, SAMPLE_RATE, prepare

OCTAVE_FACTORS = (1.0, 2.0, 0.5)
METRICAL_FACTORS = (1.0, 2.0, 0.5, 3.0, 1 / 3, 1.5, 2 / 3)


def estimate_bpm(wav=None, sample_rate: int = SAMPLE_RATE, env: np.ndarray | None = None,
                 seconds: float | None = None) -> float:
    """librosa `beat.beat_track` tempo (bpm) of the clip, from its audio or its onset envelope (hop 512 at
    32 kHz); 0.0 when no beat is found (silence)."""
    import librosa

    if env is None:
        from .features import onset_envelope

        env = onset_envelope(prepare(wav, sample_rate, seconds))
    if env.size < 4 or not np.any(env > 0):
        return 0.0
    tempo, _ = librosa.beat.beat_track(onset_envelope=env, sr=SAMPLE_RATE, hop_length=HOP)
    tempo = float(np.atleast_1d(tempo)[0])
    return tempo if np.isfinite(tempo) else 0.0


def _within(est: float, ref: float, tol: float, factors) -> bool:
    return any(abs(est * f - ref) <= tol * ref for f in factors)


def tempo_summary(estimates, references, tol: float = 0.08) -> dict:
    """Median absolute error (bpm) and the shares within `tol` of the reference bpm (see module doc)."""
    est = np.asarray(estimates, dtype=np.float64)
    ref = np.asarray(references, dtype=np.float64)
    ok = np.isfinite(ref) & (ref > 0)
    est, ref = est[ok], ref[ok]
    if est.size == 0:
        return {"n": 0}
    err = np.abs(est - ref)
    return {
        "n": int(est.size),
        "median_abs_error_bpm": float(np.median(err)),
        "median_abs_error_pct": float(np.median(err / ref) * 100),
        "within_8pct": float(np.mean([_within(e, r, tol, (1.0,)) for e, r in zip(est, ref)])),
        "within_8pct_octave": float(np.mean([_within(e, r, tol, OCTAVE_FACTORS) for e, r in zip(est, ref)])),
        "within_8pct_metrical": float(np.mean([_within(e, r, tol, METRICAL_FACTORS) for e, r in zip(est, ref)])),
        "no_beat": int(np.sum(est <= 0)),
        "tolerance": tol,
        **_rank_correlation(est[est > 0], ref[est > 0]),
    }


def _rank_correlation(est: np.ndarray, ref: np.ndarray) -> dict:
    if est.size < 3 or np.ptp(est) == 0 or np.ptp(ref) == 0:
        return {}
    from scipy.stats import spearmanr

    r = spearmanr(est, ref)
    return {"spearman_r": float(r.statistic), "spearman_p": float(r.pvalue)}


_BPM_PHRASE = re.compile(r",?\s*(?:at\s+)?" + BPM_PATTERN.pattern, re.IGNORECASE)
_TEMPO_WORD = re.compile(TEMPO_WORD_PATTERN.pattern + r"\s*", re.IGNORECASE)  # every word parse_bpm reads


def tempo_word_prompt(description: str, word: str) -> str:
    """`description` without its bpm and tempo words, led by `word`: ("A fast reel on fiddle, 113 bpm, in a
    small room", "slow") -> "A slow reel on fiddle, in a small room"."""
    rest = _TEMPO_WORD.sub("", _BPM_PHRASE.sub("", description)).strip(" ,")
    rest = re.sub(r"\ban (?=[^aeiouAEIOU])", "a ", re.sub(r"\s{2,}", " ", rest))
    article = re.match(r"(?i)an? ", rest)
    if article:
        return f"A {word} {rest[article.end():]}"
    return f"{word.capitalize()} {rest[:1].lower()}{rest[1:]}"
