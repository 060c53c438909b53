"""Procedural General MIDI drum grooves, laid on the felt beat from the first downbeat.

A pattern is a step grid over `beats` felt beats (4 steps a beat for simple meters, 3 for compound
meters and swung jazz). On top: velocity humanising, a little timing jitter, a crash every 8 bars and a
fill at the end of every 4th bar. Everything comes from the caller's RNG, so the groove is reproducible.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HH, PEDAL_HH, OPEN_HH = 36, 37, 38, 39, 42, 44, 46
CRASH, RIDE, LOW_TOM, MID_TOM, HIGH_TOM, FLOOR_TOM = 49, 51, 45, 47, 50, 41
_VEL = {"X": 112, "x": 88, "o": 52}


@dataclass(frozen=True)
class DrumPattern:
    name: str
    words: str  # caption phrase ("a rock drum beat")
    beats: int  # felt beats the grid spans
    steps: int  # steps per beat
    rows: dict = field(default_factory=dict)  # GM note -> grid string over beats*steps
    compound: bool = False  # for 6/8-like meters (beat = dotted quarter)
    swing: float = 0.5  # 0.5 = straight; position of the off-beat 16th within an 8th
    kits: tuple[str, ...] = ("standard", "room")
    fill: tuple[int, ...] = (SNARE,)


PATTERNS: dict[str, DrumPattern] = {p.name: p for p in [
    DrumPattern("rock", "a rock drum beat", 4, 4,
                {KICK: "X.......X.x.....", SNARE: "....X.......X...", CLOSED_HH: "x.x.x.x.x.x.x.x."},
                kits=("standard", "room", "power"), fill=(SNARE, HIGH_TOM, MID_TOM, LOW_TOM)),
    DrumPattern("pop", "a pop drum beat", 4, 4,
                {KICK: "X.....x.X.......", SNARE: "....X.......X...", CLOSED_HH: "xoxoxoxoxoxoxoxo"},
                kits=("standard", "room", "electronic")),
    DrumPattern("hip-hop", "a laid-back hip-hop beat", 4, 4,
                {KICK: "X.....X...X.....", SNARE: "....X.......X..o", CLOSED_HH: "x.x.x.x.x.x.x.x."},
                swing=0.6, kits=("tr808", "electronic")),
    DrumPattern("four-on-the-floor", "a four-on-the-floor dance beat", 4, 4,
                {KICK: "X...X...X...X...", CLAP: "....X.......X...", OPEN_HH: "..x...x...x...x.",
                 CLOSED_HH: "x...x...x...x..."}, kits=("electronic", "tr808")),
    DrumPattern("bossa nova", "a bossa nova rhythm", 4, 4,
                {KICK: "X..xX..xX..xX..x", SIDE_STICK: "X..X..X...X..X..", CLOSED_HH: "oooooooooooooooo"},
                kits=("jazz", "brush", "standard")),
    DrumPattern("shuffle", "a shuffle beat", 4, 3,
                {KICK: "X.....X.....", SNARE: "...X.....X..", CLOSED_HH: "X.xX.xX.xX.x"},
                kits=("standard", "room")),
    DrumPattern("jazz swing", "swinging jazz drums", 4, 3,
                {RIDE: "X..X.xX..X.x", PEDAL_HH: "...X.....X..", KICK: "o.....o....."},
                kits=("jazz", "brush")),
    DrumPattern("march", "a marching snare beat", 2, 4,
                {KICK: "X...X...", SNARE: "x.o.xoxo"}, kits=("standard", "room")),
    DrumPattern("polka", "a polka beat", 2, 4,
                {KICK: "X...X...", SNARE: "..x...x.", CLOSED_HH: "x.x.x.x."}, kits=("standard", "brush")),
    DrumPattern("folk-rock", "a folk-rock beat", 2, 4,
                {KICK: "X...X.x.", SNARE: "....X...", CLOSED_HH: "x.x.x.x."}, kits=("standard", "room")),
    DrumPattern("train beat", "a brushed train beat", 2, 4,
                {KICK: "X...X...", SNARE: "oxoXoxoX"}, kits=("brush",)),
    DrumPattern("frame drum", "a bodhran-style frame drum", 2, 4,
                {FLOOR_TOM: "X.x.x.x.", LOW_TOM: "..o...o."}, kits=("standard", "room")),
    DrumPattern("waltz", "a waltz beat", 3, 4,
                {KICK: "X...........", SNARE: "....x...x...", CLOSED_HH: "x...x...x..."},
                kits=("brush", "jazz", "standard")),
    DrumPattern("jazz waltz", "jazz waltz drums", 3, 3,
                {RIDE: "X..X.xX..", PEDAL_HH: "...X..X..", KICK: "o........"}, kits=("jazz", "brush")),
    DrumPattern("6/8 groove", "a 6/8 drum groove", 2, 3,
                {KICK: "X.....", SNARE: "...X..", CLOSED_HH: "xxxxxx"}, compound=True),
    DrumPattern("jig frame drum", "a bodhran-style frame drum", 2, 3,
                {FLOOR_TOM: "X.xX.x", LOW_TOM: ".o..o."}, compound=True),
    DrumPattern("9/8 groove", "a 9/8 drum groove", 3, 3,
                {KICK: "X........", SNARE: "...x..x..", CLOSED_HH: "xxxxxxxxx"}, compound=True),
    DrumPattern("12/8 groove", "a 12/8 blues groove", 4, 3,
                {KICK: "X.....X.....", SNARE: "...X.....X..", CLOSED_HH: "xxxxxxxxxxxx"}, compound=True),
]}


def compatible_patterns(beats_per_bar: int, compound: bool) -> list[DrumPattern]:
    """Patterns whose grid tiles the bar (a 2-beat grid fits 4/4; a 4-beat grid spans two 2/4 bars)."""
    out = []
    for p in PATTERNS.values():
        if p.compound != compound:
            continue
        if beats_per_bar % p.beats == 0 or (beats_per_bar in (1, 2) and p.beats in (2, 4) and p.beats % beats_per_bar == 0):
            out.append(p)
    return out


def drum_notes(pattern: DrumPattern, start_tick: int, end_tick: int, beat_ticks: float, beats_per_bar: int,
               rng: random.Random, velocity_scale: float = 1.0, voice: int = -1) -> np.ndarray:
    """Drum notes [start, end, voice, pitch, velocity] from `start_tick` (a downbeat) to `end_tick`."""
    n_steps = pattern.beats * pattern.steps
    steps_per_bar = beats_per_bar * pattern.steps
    step = beat_ticks / pattern.steps
    jitter = step / 12.0
    notes = []
    g = 0  # global step index from the first downbeat: integer bar / beat arithmetic
    while True:
        s = g % n_steps
        pos = g * step
        if pattern.steps == 4 and s % 2 == 1:  # swing the off-beat 16ths
            pos = (g - 1) * step + 2 * step * pattern.swing
        t = start_tick + pos
        if t >= end_tick:
            break
        bar_index, step_in_bar = divmod(g, steps_per_bar)
        in_fill = bar_index % 4 == 3 and step_in_bar >= steps_per_bar - pattern.steps
        for note, grid in pattern.rows.items():
            if in_fill and note != KICK:
                continue
            if grid[s] in _VEL:
                notes.append((t, note, _VEL[grid[s]]))
        if in_fill and pattern.fill:
            rise = (step_in_bar - (steps_per_bar - pattern.steps)) / pattern.steps
            notes.append((t, pattern.fill[int(rise * len(pattern.fill))], 70 + int(40 * rise)))
        if step_in_bar == 0 and bar_index % 8 == 0:
            notes.append((t, CRASH, 100))
        g += 1
    out = []
    dur = max(1, int(step))
    for t, note, vel in notes:
        t = int(round(t + rng.uniform(-jitter, jitter))) if t > start_tick else int(round(t))
        v = int(round(vel * velocity_scale + rng.uniform(-8, 8)))
        out.append((max(0, t), max(0, t) + dur, voice, note, min(127, max(1, v))))
    out.sort()
    return np.array(out, dtype=np.int64).reshape(-1, 5)
