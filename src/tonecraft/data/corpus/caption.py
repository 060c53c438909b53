"""Captions and sidecar metadata written from the attributes a clip was really rendered with.

Every word of a caption comes from a field of `ClipAttributes`, and the sidecar repeats those
fields (`bpm`, `key`, `instrument`, ...), so text and metadata never disagree.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

MAJOR_KEY_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

MOODS = {
    ("major", "fast"): ["cheerful", "lively", "energetic", "joyful", "bright", "playful"],
    ("major", "upbeat"): ["cheerful", "lively", "bright", "happy", "playful"],
    ("major", "moderate"): ["warm", "pleasant", "gentle", "relaxed", "hopeful"],
    ("major", "slow"): ["calm", "peaceful", "tender", "serene", "reflective"],
    ("minor", "fast"): ["driving", "intense", "restless", "urgent", "dark"],
    ("minor", "upbeat"): ["driving", "spirited", "restless", "mysterious"],
    ("minor", "moderate"): ["wistful", "pensive", "bittersweet", "nostalgic"],
    ("minor", "slow"): ["melancholic", "sad", "mournful", "solemn", "haunting"],
}
ROOM_WORDS = {"dry": "with a dry, close sound", "studio": "", "room": "in a small room",
              "hall": "in a large concert hall", "church": "in a reverberant church"}
DYNAMICS_WORDS = {"soft": "softly", "medium": "", "loud": "loudly"}


def pitch_class(name: str) -> int:
    """'B-' / 'Bb' / 'F#' / 'C##' -> 0..11 (music21 writes flats as '-')."""
    pc = _PC[name[0].upper()]
    for ch in name[1:]:
        pc += {"#": 1, "-": -1, "b": -1}.get(ch, 0)
    return pc % 12


def key_name(tonic_pc: int, mode: str) -> str:
    """Spelling with the fewest accidentals ("Bb major", "C# minor")."""
    names = MINOR_KEY_NAMES if mode == "minor" else MAJOR_KEY_NAMES
    return f"{names[tonic_pc % 12]} {mode}"


def pace_word(notes_per_second: float) -> str:
    """Tempo word from how busy the music is (used for scores, where the beat unit varies)."""
    if notes_per_second <= 2.4:
        return "slow"
    if notes_per_second <= 4.0:
        return "moderate"
    if notes_per_second <= 7.0:
        return "upbeat"
    return "fast"


def tempo_word(bpm: float) -> str:
    if bpm <= 66:
        return "slow"
    if bpm <= 92:
        return "moderate"
    if bpm <= 120:
        return "upbeat"
    return "fast"


def pick_moods(mode: str | None, tempo: str, rng: random.Random, extra: tuple[str, ...] = ()) -> list[str]:
    pool = MOODS[(mode if mode in ("major", "minor") else "major", tempo)]
    moods = rng.sample(pool, 2) + [m for m in extra if m not in pool]
    return moods[:3]


def _article(phrase: str) -> str:
    return ("an " if re.match(r"[aeiou]", phrase, re.I) and not phrase.lower().startswith("one") else "a ") + phrase


@dataclass
class ClipAttributes:
    """What a clip truly is; the caption and the sidecar are both written from this."""

    style: str  # "Irish reel", "four-part Bach chorale", "bossa nova"
    genre: str
    instrument: str  # main instrument or ensemble ("fiddle", "string quartet")
    instrument_group: bool  # "played by a string quartet" vs "played on fiddle"
    bpm: int  # felt beats per minute (what a listener taps)
    key: str | None  # "A minor"
    mode: str | None
    meter: str | None
    dynamics: str = "medium"
    room: str = "studio"
    drums: str | None = None  # "a rock drum beat"
    drum_kit: str | None = None
    band: list[str] = field(default_factory=list)  # instruments of an MMA band
    moods: list[str] = field(default_factory=list)
    title: str | None = None
    artist: str | None = None
    extra_keywords: list[str] = field(default_factory=list)
    pace: str | None = None  # tempo word when the style knows better than the bpm (a slow air at 95 bpm)

    @property
    def tempo(self) -> str:
        return self.pace or tempo_word(self.bpm)


def _band_phrase(band: list[str]) -> str:
    if not band:
        return ""
    if len(band) == 1:
        return band[0]
    return ", ".join(band[:-1]) + " and " + band[-1]


def describe(a: ClipAttributes, rng: random.Random) -> str:
    """One caption, template chosen by `rng`; every fact in it is an attribute of `a`."""
    mood = a.moods[0] if a.moods else ""
    tempo = "" if "slow" in a.style.split() else a.tempo
    head = " ".join(w for w in (tempo, mood, a.style) if w)
    how = DYNAMICS_WORDS[a.dynamics]
    if a.band:
        what = f"{head} groove with {_band_phrase(a.band)}"
        parts = [what, f"in {a.key}" if a.key else "", f"{a.bpm} bpm"]
        if a.meter and rng.random() < 0.5:
            parts.append(f"{a.meter} time")
        text = " ".join(parts[:2]).strip() + ", " + ", ".join(p for p in parts[2:] if p)
    else:
        verb = "played " + (f"{how} " if how else "") + ("by " + _article(a.instrument) if a.instrument_group
                                                         else "on " + a.instrument)
        key = f"in {a.key}" if a.key else ""
        meter = f"{a.meter} time" if a.meter else ""
        t = rng.randrange(3)
        if t == 0:
            text = ", ".join(p for p in (" ".join(p for p in (head, verb, key) if p), f"{a.bpm} bpm", meter) if p)
        elif t == 1:
            text = ", ".join(p for p in (" ".join(p for p in (_article(head), key, verb) if p), f"{a.bpm} bpm") if p)
        else:
            lead = ("a " + a.instrument if a.instrument_group else a.instrument)
            lead = lead[0].upper() + lead[1:]
            adv = f" {how}" if how else ""
            text = f"{lead} plays{adv} {_article(head)}" + (f" {key}" if key else "") + f" at {a.bpm} bpm"
            if meter:
                text += f" in {meter}"
    if a.drums:
        text += f", with {a.drums}" + (f" on {_article(a.drum_kit)}" if a.drum_kit and rng.random() < 0.5 else "")
    room = ROOM_WORDS.get(a.room, "")
    if room:
        text += f", {room}"
    return text[0].upper() + text[1:]


def keywords(a: ClipAttributes) -> list[str]:
    words = [a.style, a.genre, a.instrument, *a.band, a.tempo]
    if a.meter:
        words.append(f"{a.meter} time")
    if a.drums:
        words += ["drums", a.drums.split(" ", 1)[1] if a.drums.startswith(("a ", "an ")) else a.drums]
    if a.dynamics != "medium":
        words.append(a.dynamics)
    if a.room in ("hall", "church", "room"):
        words.append("reverb")
    elif a.room == "dry":
        words.append("dry")
    words += a.extra_keywords
    out: list[str] = []
    for w in words:
        w = w.strip().lower()
        if w and w not in out:
            out.append(w)
    return out


def sidecar(a: ClipAttributes, description: str, **extra) -> dict:
    """audiocraft `MusicInfo` fields first, then provenance (source, licence, piece_id, split ...)."""
    d = {"title": a.title, "artist": a.artist, "description": description, "genre": a.genre,
         "bpm": a.bpm, "key": a.key, "moods": list(a.moods), "keywords": keywords(a),
         "instrument": a.instrument, "meter": a.meter}
    d.update(extra)
    return d
