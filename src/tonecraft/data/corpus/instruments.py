"""General MIDI programs, ensembles and drum kits the variant planner picks from.

Each program carries the words a caption uses and a comfortable range, so a transposed melody can
be moved by octaves into a register the instrument really plays in.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    program: int  # GM program 0-127 (bank 0)
    name: str  # caption words
    low: int  # comfortable MIDI note range
    high: int
    family: str


_TABLE = [
    (0, "acoustic grand piano", 28, 100, "keyboard"),
    (4, "electric piano", 36, 96, "keyboard"),
    (6, "harpsichord", 36, 89, "keyboard"),
    (8, "celesta", 60, 108, "mallet"),
    (10, "music box", 60, 96, "mallet"),
    (11, "vibraphone", 53, 89, "mallet"),
    (12, "marimba", 45, 96, "mallet"),
    (13, "xylophone", 65, 108, "mallet"),
    (15, "hammered dulcimer", 50, 96, "plucked"),
    (16, "drawbar organ", 36, 96, "organ"),
    (19, "church organ", 24, 96, "organ"),
    (21, "accordion", 53, 89, "reed"),
    (22, "harmonica", 60, 84, "reed"),
    (23, "bandoneon", 48, 84, "reed"),
    (24, "nylon-string guitar", 40, 83, "plucked"),
    (25, "steel-string acoustic guitar", 40, 83, "plucked"),
    (26, "jazz guitar", 40, 83, "plucked"),
    (40, "violin", 55, 100, "strings"),
    (41, "viola", 48, 88, "strings"),
    (42, "cello", 36, 76, "strings"),
    (43, "double bass", 28, 60, "strings"),
    (46, "harp", 24, 103, "plucked"),
    (48, "string ensemble", 28, 96, "strings"),
    (52, "choir", 45, 79, "voice"),
    (56, "trumpet", 55, 82, "brass"),
    (57, "trombone", 40, 72, "brass"),
    (58, "tuba", 28, 58, "brass"),
    (60, "french horn", 41, 77, "brass"),
    (61, "brass section", 40, 84, "brass"),
    (64, "soprano saxophone", 56, 87, "reed"),
    (65, "alto saxophone", 49, 81, "reed"),
    (66, "tenor saxophone", 44, 76, "reed"),
    (67, "baritone saxophone", 36, 69, "reed"),
    (68, "oboe", 58, 91, "woodwind"),
    (70, "bassoon", 34, 72, "woodwind"),
    (71, "clarinet", 50, 91, "woodwind"),
    (72, "piccolo", 74, 108, "woodwind"),
    (73, "flute", 60, 96, "woodwind"),
    (74, "recorder", 60, 96, "woodwind"),
    (75, "pan flute", 60, 96, "woodwind"),
    (80, "square-wave synth lead", 48, 96, "synth"),
    (81, "sawtooth synth lead", 48, 96, "synth"),
    (105, "banjo", 48, 84, "plucked"),
    (109, "bagpipe", 55, 81, "reed"),
    (110, "fiddle", 55, 100, "strings"),
]
INSTRUMENTS: dict[int, Instrument] = {p: Instrument(p, n, lo, hi, f) for p, n, lo, hi, f in _TABLE}

# Lead instruments for single-line tunes, with weights (folk tunes favour traditional timbres).
FOLK_LEADS = {110: 6, 73: 4, 74: 2, 21: 3, 22: 2, 23: 1, 24: 2, 25: 2, 105: 2, 46: 2, 0: 3, 15: 2,
              109: 1, 71: 2, 68: 1, 40: 2, 12: 1, 11: 1, 10: 1, 8: 1, 4: 1, 6: 1, 19: 1, 56: 1,
              65: 1, 64: 1, 75: 1, 72: 1, 13: 1, 80: 1, 81: 1, 16: 1}
CLASSICAL_LEADS = {40: 4, 73: 3, 68: 2, 71: 2, 0: 4, 6: 2, 19: 2, 46: 2, 42: 2, 60: 1, 56: 1,
                   48: 2, 52: 1, 74: 1, 24: 1, 70: 1}
KEYBOARDS = {0: 5, 4: 2, 6: 2, 16: 1, 19: 1}


@dataclass(frozen=True)
class Ensemble:
    """One timbre per part, top voice first; `name` is what the caption says."""

    name: str
    programs: tuple[int, ...]  # cycled / stretched to the number of parts
    low_to_high: bool = False


ENSEMBLES = {
    "string quartet": Ensemble("string quartet", (40, 40, 41, 42)),
    "string orchestra": Ensemble("string orchestra", (48,)),
    "brass quartet": Ensemble("brass quartet", (56, 60, 57, 58)),
    "woodwind quartet": Ensemble("woodwind quartet", (73, 68, 71, 70)),
    "saxophone quartet": Ensemble("saxophone quartet", (64, 65, 66, 67)),
    "church organ": Ensemble("church organ", (19,)),
    "choir": Ensemble("choir", (52,)),
    "acoustic grand piano": Ensemble("acoustic grand piano", (0,)),
    "harpsichord": Ensemble("harpsichord", (6,)),
    "electric piano": Ensemble("electric piano", (4,)),
    "nylon-string guitar": Ensemble("nylon-string guitar", (24,)),
    "harp": Ensemble("harp", (46,)),
}
POLYPHONIC_WEIGHTS = {"string quartet": 4, "string orchestra": 3, "brass quartet": 2, "woodwind quartet": 2,
                      "saxophone quartet": 1, "church organ": 4, "choir": 2, "acoustic grand piano": 4,
                      "harpsichord": 2, "electric piano": 1, "nylon-string guitar": 1, "harp": 1}
KEYBOARD_ENSEMBLES = {"acoustic grand piano": 5, "electric piano": 1, "harpsichord": 2, "church organ": 1}


def ensemble_programs(ens: Ensemble, n_parts: int) -> list[int]:
    """Programs for n parts (top first): a 4-voice set stretched or cut to n voices, bass kept last."""
    progs = list(ens.programs)
    if len(progs) == 1 or n_parts <= 0:
        return [progs[0]] * n_parts
    if n_parts <= len(progs):
        return progs[: n_parts - 1] + [progs[-1]] if n_parts > 1 else progs[:1]
    inner = progs[1:-1] or progs[:1]
    middle = [inner[i % len(inner)] for i in range(n_parts - 2)]
    return [progs[0]] + middle + [progs[-1]]


@dataclass(frozen=True)
class DrumKit:
    preset: int  # bank 128 preset in a GM soundfont
    name: str


DRUM_KITS = {
    "standard": DrumKit(0, "standard drum kit"),
    "room": DrumKit(8, "room drum kit"),
    "power": DrumKit(16, "power drum kit"),
    "electronic": DrumKit(24, "electronic drum kit"),
    "tr808": DrumKit(25, "TR-808 drum machine"),
    "jazz": DrumKit(32, "jazz drum kit"),
    "brush": DrumKit(40, "brushed drums"),
}

# GM names for programs that MMA grooves use (captions list the band's instruments).
GM_FAMILY_NAMES = [
    (0, 3, "piano"), (4, 5, "electric piano"), (6, 6, "harpsichord"), (7, 7, "clavinet"), (8, 15, "mallets"), (16, 20, "organ"), (21, 23, "accordion"), (24, 25, "acoustic guitar"),
    (26, 28, "electric guitar"), (29, 31, "distorted guitar"), (32, 32, "acoustic bass"), (33, 39, "bass"),
    (40, 40, "violin"), (41, 41, "viola"), (42, 42, "cello"), (43, 43, "double bass"), (44, 45, "strings"),
    (46, 46, "harp"), (47, 47, "timpani"), (48, 51, "strings"), (52, 54, "choir"), (55, 55, "orchestra hits"),
    (56, 56, "trumpet"), (57, 57, "trombone"), (58, 58, "tuba"), (59, 59, "muted trumpet"), (60, 60, "french horn"),
    (61, 63, "brass"), (64, 67, "saxophone"), (68, 68, "oboe"), (69, 69, "english horn"), (70, 70, "bassoon"),
    (71, 71, "clarinet"), (72, 79, "flute"), (80, 87, "synth lead"), (88, 95, "synth pad"), (96, 103, "synth effects"),
    (104, 104, "sitar"), (105, 105, "banjo"), (106, 108, "plucked strings"), (109, 109, "bagpipe"),
    (110, 110, "fiddle"), (111, 111, "shanai"), (112, 119, "percussion"), (120, 127, "sound effects"),
]


def gm_family_name(program: int) -> str:
    if program in INSTRUMENTS:
        return INSTRUMENTS[program].name
    for lo, hi, name in GM_FAMILY_NAMES:
        if lo <= program <= hi:
            return name
    return "synth"
