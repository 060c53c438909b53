"""One seeded variant of a piece -> a render job (events, channel set-up, crop) and its true attributes.

Everything random here is drawn from the clip's own RNG, in a fixed order, so a clip depends only on
(seed, clip index, cached piece) and never on which worker rendered it or what came before.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

import numpy as np

from . import drums as drum_mod
from .caption import ClipAttributes, key_name, pace_word, pick_moods, pitch_class, tempo_word
from .events import DRUM_CHANNEL, MELODIC_CHANNELS, N_END, N_PITCH, N_START, N_VEL, N_VOICE, MidiPiece
from .instruments import (CLASSICAL_LEADS, DRUM_KITS, ENSEMBLES, FOLK_LEADS, INSTRUMENTS, KEYBOARD_ENSEMBLES,
                          POLYPHONIC_WEIGHTS, ensemble_programs, gm_family_name)
from .mma import GROOVES, Chart, groove_variants, make_chart
from .sources import COLLECTIONS, Work
from .styles import classify, pick_tempo
from .synth import EV_BEND, EV_CC, EV_OFF, EV_ON, EV_PROGRAM, ChannelSetup

PREROLL_SECONDS = 1.0  # rendered before the crop and dropped: held notes and reverb are already sounding
DYNAMICS = {"soft": 48, "medium": 78, "loud": 108}  # target median velocity
ROOMS = {"dry": 2, "studio": 4, "room": 2, "hall": 2, "church": 1}
GROUP_WORDS = ("quartet", "orchestra", "choir", "ensemble", "section")


class ClipError(Exception):
    """A clip that cannot be made from its piece (silent crop, no notes ...): skipped and reported."""


@dataclass
class RenderJob:
    events: list[tuple[int, int, int, int, int]]
    setup: ChannelSetup
    n_samples: int  # pre-roll + clip
    preroll: int  # samples to drop from the front
    attrs: ClipAttributes
    info: dict = field(default_factory=dict)  # every choice, for the sidecar's `render`


def weighted(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def clean_title(title: str | None) -> str | None:
    if not title:
        return None
    t = re.sub(r"(?<=\w):(?=\w)", "", str(title))
    t = re.sub(r"\s+", " ", t).strip(" .;,")
    if t.isupper():
        t = t.title()
    return t or None


def _notes_to_events(notes: np.ndarray, channel_of: dict[int, int], tick_sec: float, start: float, end: float,
                     sr: int) -> list[tuple[int, int, int, int, int]]:
    ev = []
    for s_tick, e_tick, voice, pitch, vel in notes.tolist():
        s, e = s_tick * tick_sec, e_tick * tick_sec
        if e <= start or s >= end:
            continue
        if s < start:  # held into the window: restart it at the window edge if it still matters
            if e - start < 0.05:
                continue
            s = start
        ch = channel_of[voice]
        on = int(round((s - start) * sr))
        off = max(on + 1, int(round((e - start) * sr)))
        ev.append((on, EV_ON, ch, int(pitch), int(vel)))
        ev.append((off, EV_OFF, ch, int(pitch), 0))
    return ev


def _tile(notes: np.ndarray, period: int, min_end: int) -> np.ndarray:
    reps = max(1, math.ceil(min_end / period))
    out = [notes]
    for k in range(1, reps):
        n = notes.copy()
        n[:, N_START] += k * period
        n[:, N_END] += k * period
        out.append(n)
    return np.concatenate(out)


def _scale_velocity(notes: np.ndarray, target: int, rng: random.Random) -> np.ndarray:
    gen = np.random.default_rng(rng.randrange(2**32))
    v = notes[:, N_VEL].astype(np.float64)
    med = float(np.median(v)) if len(v) else 1.0
    jitter = gen.integers(-6, 7, size=len(v))
    notes[:, N_VEL] = np.clip(np.round(v * target / max(med, 1.0)) + jitter, 1, 127).astype(np.int64)
    return notes


def _choose_instruments(work: Work, facts: dict, rng: random.Random) -> tuple[str, list[int], bool]:
    """(caption name, program per voice top-first, group?)"""
    n = int(facts.get("n_voices") or 1)
    col = COLLECTIONS[work.collection]
    if n == 1:
        prog = weighted(rng, FOLK_LEADS if col.folk else CLASSICAL_LEADS)
        name = INSTRUMENTS[prog].name
        if prog == 110 and not col.folk:
            name = "violin"
        return name, [prog], name.endswith(GROUP_WORDS)
    names = " ".join(facts.get("part_names") or []).lower()
    keyboard = any(w in names for w in ("piano", "keyboard", "cembalo", "harpsichord", "organ")) or \
        work.collection in ("joplin", "cpebach", "beach")
    ens = ENSEMBLES[weighted(rng, KEYBOARD_ENSEMBLES if keyboard else POLYPHONIC_WEIGHTS)]
    return ens.name, ensemble_programs(ens, n), ens.name.endswith(GROUP_WORDS)


def _octave_shift(facts: dict, programs: list[int], transpose: int) -> int:
    ranges = facts.get("voice_ranges") or [[60, 72]]

    def cost(o: int) -> tuple[int, int]:
        total = 0
        for (lo, hi), prog in zip(ranges, programs):
            inst = INSTRUMENTS.get(prog)
            ilo, ihi = (inst.low, inst.high) if inst else (36, 96)
            lo2, hi2 = lo + transpose + 12 * o, hi + transpose + 12 * o
            total += max(0, ilo - lo2) + max(0, hi2 - ihi)
        return total, abs(o)

    return min(range(-3, 4), key=cost)


def music21_job(work: Work, facts: dict, piece: MidiPiece, seconds: float, rng: random.Random, sr: int,
                drums_p: float) -> RenderJob:
    """Variant of a cached music21 piece: instruments, tempo, key, dynamics, room, drums, crop."""
    col = COLLECTIONS[work.collection]
    style = classify(work.collection, facts)
    tempo, rate = pick_tempo(style, facts, rng)
    pace = ("slow" if tempo.quarter_bpm < 72 else "moderate") if style.quarter_bpm else pace_word(rate)
    inst_name, programs, group = _choose_instruments(work, facts, rng)
    transpose = 0 if rng.random() < 0.3 else rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6])
    octave = _octave_shift(facts, programs, transpose)
    dynamics = weighted(rng, {"soft": 1, "medium": 2, "loud": 1})
    room = weighted(rng, {**ROOMS, "church": 3} if work.collection == "bach" or programs[0] == 19 else ROOMS)

    tpq = piece.tpq
    notes = piece.notes.copy()
    notes[:, N_PITCH] = np.clip(notes[:, N_PITCH] + transpose + 12 * octave, 0, 127)
    notes = _scale_velocity(notes, DYNAMICS[dynamics], rng)
    tick_sec = 60.0 / (tempo.quarter_bpm * tpq)
    bar_ql = float(facts.get("bar_ql") or 4.0)
    pickup_ticks = int(round(float(facts.get("pickup_ql") or 0.0) * tpq))
    end_tick = piece.end_tick
    need = int(math.ceil((seconds + PREROLL_SECONDS + 1.0) / tick_sec))
    tiled = end_tick < need
    if tiled:  # short tune: play it again (folk tunes repeat anyway)
        beat_ticks = max(1, int(round(tempo.beat_ql * tpq)))
        period = int(math.ceil(end_tick / beat_ticks) * beat_ticks)
        notes = _tile(notes, period, need)
        end_tick = int(notes[:, N_END].max())

    # drums on the felt beat, from the first downbeat (after any pickup)
    drum_pattern = kit = None
    beats_per_bar = bar_ql / tempo.beat_ql
    p = drums_p if col.folk else drums_p * 0.15
    if (facts.get("meter") and not facts.get("meter_changes") and tempo.beat_ql >= 1.0
            and math.isclose(beats_per_bar, round(beats_per_bar)) and 60 <= tempo.bpm <= 180 and pace != "slow"
            and rng.random() < p):
        compound = math.isclose(tempo.beat_ql % 1.5, 0) and not math.isclose(tempo.beat_ql % 1.0, 0) \
            or math.isclose(tempo.beat_ql, 3.0)
        choices = drum_mod.compatible_patterns(int(round(beats_per_bar)), compound)
        if choices:
            drum_pattern = rng.choice(choices)
            kit = rng.choice(drum_pattern.kits)
    voice_channel = {v: MELODIC_CHANNELS[i % len(MELODIC_CHANNELS)] for i, v in enumerate(piece.voices)}
    if drum_pattern is not None:
        dn = drum_mod.drum_notes(drum_pattern, pickup_ticks, end_tick, tempo.beat_ql * tpq,
                                 int(round(beats_per_bar)), rng, {"soft": 0.7, "medium": 0.9, "loud": 1.0}[dynamics])
        notes = np.concatenate([notes, dn]) if len(dn) else notes
        voice_channel[-1] = DRUM_CHANNEL

    # crop on a downbeat (or the very start); the clip may run into the last note's release
    total_sec = end_tick * tick_sec
    bar_ticks = bar_ql * tpq
    starts = [0.0] + [(pickup_ticks + k * bar_ticks) * tick_sec
                      for k in range(int((end_tick - pickup_ticks) // bar_ticks) + 1)]
    starts = sorted({round(s, 6) for s in starts if s + seconds <= total_sec + 1.0})
    crop = rng.choice(starts) if starts else 0.0
    preroll = min(PREROLL_SECONDS, crop)
    events = _notes_to_events(notes, voice_channel, tick_sec, crop - preroll, crop + seconds, sr)
    events.sort()
    if not any(e[1] == EV_ON for e in events):
        raise ClipError("no notes in the crop")

    setup = ChannelSetup(reverb=room)
    for voice, ch in voice_channel.items():
        if voice == -1:
            setup.programs[ch] = (128, DRUM_KITS[kit].preset)
            setup.volume[ch] = 90
        else:
            setup.programs[ch] = (0, programs[min(piece.voices.index(voice), len(programs) - 1)])
    key = mode = None
    if facts.get("key"):
        mode = facts["key"]["mode"]
        key = key_name(pitch_class(facts["key"]["tonic"]) + transpose, mode)
    attrs = ClipAttributes(
        style=style.phrase, genre=style.genre, instrument=inst_name, instrument_group=group, bpm=tempo.bpm,
        key=key, mode=mode, meter=facts.get("meter"), dynamics=dynamics, room=room,
        drums=drum_pattern.words if drum_pattern else None, drum_kit=DRUM_KITS[kit].name if kit else None,
        moods=pick_moods(mode, pace, rng, style.moods), pace=pace,
        title=clean_title(facts.get("title")), artist=style.artist,
        extra_keywords=[w for w in (col.origin.lower() if col.origin not in ("", "traditional") else "",
                                    "traditional" if col.folk else "") if w])
    info = {"programs": {str(ch): list(setup.programs[ch]) for ch in sorted(setup.programs)},
            "transpose": transpose, "octave": octave, "felt_beat_ql": tempo.beat_ql,
            "quarter_bpm": round(tempo.quarter_bpm, 4), "notes_per_second": round(rate, 3), "dynamics": dynamics, "room": room,
            "drums": drum_pattern.name if drum_pattern else None, "drum_kit": kit,
            "crop_start": round(crop, 4), "tiled": tiled, "workaround": facts.get("workaround")}
    pre = int(round(preroll * sr))
    return RenderJob(events, setup, pre + int(round(seconds * sr)), pre, attrs, info)


def mma_chart(groove_name: str, seconds: float, rng: random.Random) -> Chart:
    g = GROOVES[groove_name]
    variants = groove_variants(g.name)
    if not variants:
        raise ClipError(f"MMA groove {g.name} is not in this MMA library")
    variant = rng.choice(variants)
    tempo = rng.randint(*g.bpm)
    bar_sec = g.beats * 60.0 / tempo
    bars = int(math.ceil((seconds + 2 * bar_sec) / bar_sec)) + 1
    return make_chart(g, variant, bars, tempo, rng)


def mma_job(groove_name: str, chart: Chart, piece: MidiPiece, seconds: float, rng: random.Random,
            sr: int) -> RenderJob:
    """A rendered MMA chart: the band keeps MMA's channels and programs; we choose dynamics and room."""
    g = GROOVES[groove_name]
    dynamics = weighted(rng, {"soft": 1, "medium": 2, "loud": 1})
    room = weighted(rng, ROOMS)
    scale = {"soft": 0.7, "medium": 1.0, "loud": 1.15}[dynamics]
    notes = piece.notes.copy()
    notes[:, N_VEL] = np.clip(np.round(notes[:, N_VEL] * scale), 1, 127)
    tick_sec = 60.0 / (chart.tempo * piece.tpq)
    bar_sec = g.beats * 60.0 / chart.tempo
    crop = bar_sec  # skip the first bar: the groove is already running when the clip starts
    channel_of = {v: v for v in piece.voices}
    events = _notes_to_events(notes, channel_of, tick_sec, 0.0, crop + seconds, sr)
    for tick, ch, kind, a, b in piece.controls.tolist():
        t = int(round(tick * tick_sec * sr))
        if kind == 1 and a in (91, 93):  # reverb / chorus sends are ours
            continue
        events.append((t, {0: EV_PROGRAM, 1: EV_CC, 2: EV_BEND}[kind], ch, a, b))
    events.sort()
    band = []
    for ch in piece.voices:
        if ch == DRUM_CHANNEL:
            continue
        first = int(piece.notes[piece.notes[:, N_VOICE] == ch, N_START].min())
        progs = [c[3] for c in piece.controls.tolist() if c[1] == ch and c[2] == 0 and c[0] <= first]
        name = gm_family_name(progs[-1] if progs else 0)
        if name not in band:
            band.append(name)
    if DRUM_CHANNEL in piece.voices:
        band.append("drums")
    key = key_name(chart.tonic_pc, chart.mode)
    attrs = ClipAttributes(
        style=g.label, genre=g.genre, instrument=", ".join(band), instrument_group=True, bpm=chart.tempo,
        key=key, mode=chart.mode, meter=f"{g.beats}/4", dynamics=dynamics, room=room, band=band,
        moods=pick_moods(chart.mode, tempo_word(chart.tempo), rng), title=None, artist=None,
        extra_keywords=["band", "accompaniment"])
    info = {"groove": chart.groove, "chords": chart.chords, "mma_seed": chart.seed, "quarter_bpm": chart.tempo,
            "dynamics": dynamics, "room": room, "crop_start": round(crop, 4)}
    setup = ChannelSetup(reverb=room)
    pre = int(round(crop * sr))
    return RenderJob(events, setup, pre + int(round(seconds * sr)), pre, attrs, info)
