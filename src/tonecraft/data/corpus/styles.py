"""Style of a score (reel, jig, chorale ...) and a believable tempo for it, counted on the felt beat.

Tempo comes from a target *note rate* per style (reels run ~7 notes a second whatever their notation)
and the piece's own onset density, so a reel written in 2/4 sixteenths and one written in cut-time
eighths both come out at reel speed. The bpm is then counted on the felt beat: the time signature's beat
(dotted quarter in 6/8, half note in 2/2), doubled when it would exceed 170 and split when under 45.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from .sources import COLLECTIONS

# (pattern on the ABC R: field or the title, caption noun, notes per second, felt-bpm bounds)
DANCES = [
    (r"slip ?jig", "slip jig", (5.2, 6.5), (95, 150)),
    (r"\bjig|\bjigg", "jig", (4.8, 6.2), (90, 140)),
    (r"\breel", "reel", (6.0, 7.5), (85, 130)),
    (r"hornpipe", "hornpipe", (4.5, 5.8), (60, 130)),
    (r"strathspey", "strathspey", (3.6, 4.6), (60, 165)),
    (r"\bclog", "clog dance", (4.2, 5.4), (60, 130)),
    (r"\bfling", "highland fling", (4.0, 5.0), (60, 140)),
    (r"\bslide", "slide", (6.0, 7.5), (100, 150)),
    (r"polka", "polka", (4.5, 6.0), (90, 150)),
    (r"quick ?step", "quickstep", (4.0, 5.5), (90, 150)),
    (r"\bmarch", "march", (3.5, 5.0), (80, 130)),
    (r"waltz", "waltz", (2.5, 4.0), (50, 170)),
    (r"minuet|minuetto", "minuet", (2.5, 3.5), (70, 130)),
    (r"\brant\b", "rant", (5.5, 7.0), (80, 140)),
    (r"lament|elegy", "lament", (1.4, 2.4), (40, 80)),
    (r"\bair\b", "air", (1.8, 3.2), (45, 110)),
]
# O'Neill's `N:` performance hints -> (noun override or None, notes per second, felt-bpm bounds)
HINTS = [
    (r"very slow", "slow air", (1.2, 2.0), (40, 70)),
    (r"slow|tender|plaintive|mournful|sad|feeling|expression", "slow air", (1.6, 2.6), (40, 80)),
    (r"moderate", None, (2.6, 3.6), (50, 120)),
    (r"lively|quick|cheerful|spirited|brisk|gaily|merrily", None, (3.8, 5.0), (70, 150)),
]
FOLK_DEFAULT = ((2.8, 5.0), (50, 150))


@dataclass(frozen=True)
class Style:
    noun: str  # "reel", "slow air", "four-part Bach chorale"
    phrase: str  # caption phrase with origin: "Irish reel"
    genre: str
    rate: tuple[float, float]  # notes per second
    artist: str
    moods: tuple[str, ...] = ()
    quarter_bpm: tuple[float, float] | None = None  # direct tempo range where note rate misleads
    felt: tuple[float, float] = (40, 180)  # plausible felt-beat bpm: clamps odd notations


def classify(collection: str, facts: dict) -> Style:
    col = COLLECTIONS[collection]
    if not col.folk:
        if collection == "bach":
            noun = "four-part Bach chorale" if facts.get("n_voices") == 4 else "Bach chorale"
            # four voices' merged onsets say little about a chorale's pulse: use the usual tempo range
            return Style(noun, noun, col.genre, (1.4, 2.4), col.artist, ("solemn",), quarter_bpm=(56.0, 92.0))
        early = collection in ("trecento", "josquin", "luca", "ciconia", "lusitano")
        rate, felt = ((2.0, 3.5), (40, 100)) if early else ((2.5, 5.0), (50, 140))
        return Style(col.style, col.style, col.genre, rate, facts.get("composer") or col.artist, felt=felt)
    abc = facts.get("abc", {})
    noun, (rate, felt) = col.style, FOLK_DEFAULT
    for text in (abc.get("R", ""), facts.get("title") or ""):
        hit = next(((n, r, f) for pat, n, r, f in DANCES if re.search(pat, text, re.I)), None)
        if hit:
            noun, rate, felt = hit
            break
    if noun == "jig" and (facts.get("meter") or "").startswith("9/"):
        noun, rate, felt = DANCES[0][1:]
    hint = abc.get("N", "")
    if noun in (col.style, "air"):
        for pat, n, r, f in HINTS:
            if re.search(pat, hint, re.I):
                noun, rate, felt = (n or noun), r, f
                break
    phrase = f"{col.origin} {noun}" if col.origin else noun
    return Style(noun, phrase, col.genre, rate, col.artist, felt=felt)


@dataclass(frozen=True)
class Tempo:
    bpm: int  # felt beats per minute (caption)
    beat_ql: float  # felt beat in quarter notes
    quarter_bpm: float  # what the renderer uses: bpm * beat_ql exactly


def quarter_bpm_for_rate(rate: float, facts: dict) -> float:
    """Quarter-note tempo at which this piece plays `rate` notes (onsets) per second."""
    onsets_per_ql = max(facts.get("onsets_per_ql") or 1.0 / max(facts.get("median_ioi_ql", 1.0), 1e-3), 0.1)
    return 60.0 * rate / onsets_per_ql


def felt_tempo(quarter_bpm: float, facts: dict, bounds: tuple[float, float] = (40, 200)) -> Tempo:
    """Count a quarter-note tempo on the piece's felt beat; the returned tempo is exact in whole bpm."""
    beat = float(facts.get("beat_ql") or 1.0)
    bar = float(facts.get("bar_ql") or 4.0)
    felt = quarter_bpm / beat
    while felt > 170:
        k = next((k for k in (2, 3) if _divides(bar, beat * k)), None)
        if k is None:
            break
        beat, felt = beat * k, felt / k
    while felt < 45 and beat >= 1.0:
        div = 3 if math.isclose(beat % 1.5, 0) and not math.isclose(beat % 1.0, 0) else 2
        beat, felt = beat / div, felt * div
    bpm = int(round(min(max(felt, bounds[0], 40), bounds[1], 200)))
    return Tempo(bpm, beat, bpm * beat)


def _divides(bar: float, beat: float) -> bool:
    n = bar / beat
    return n >= 1 - 1e-9 and math.isclose(n, round(n), abs_tol=1e-6)


def pick_tempo(style: Style, facts: dict, rng: random.Random) -> tuple[Tempo, float]:
    """(tempo, notes per second) for one variant of a piece in this style."""
    if style.quarter_bpm:
        tempo = felt_tempo(rng.uniform(*style.quarter_bpm), facts)
    else:
        tempo = felt_tempo(quarter_bpm_for_rate(rng.uniform(*style.rate), facts), facts, style.felt)
    onsets_per_ql = facts.get("onsets_per_ql") or 1.0
    return tempo, tempo.quarter_bpm / 60.0 * onsets_per_ql
