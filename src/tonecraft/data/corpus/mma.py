"""Style-labelled band music from Debian's `mma`: a random diatonic chord chart played by a named groove.

MMA (Musical MIDI Accompaniment) turns `Groove BossaNova / Tempo 126 / 1 Am / 2 Dm7 ...` into drums,
bass, comping and arpeggios. `RndSeed` pins its humanising RNG, so one chart gives the same MIDI bytes.
"""
from __future__ import annotations

import random
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .deps import find_mma

STYLE_DIRS = ("/usr/share/mma/lib/stdlib",)


@dataclass(frozen=True)
class Groove:
    name: str  # MMA groove (and prefix of its variants: SwingWalk, SwingPlus ...)
    label: str  # caption words
    genre: str
    beats: int  # quarter notes per bar
    bpm: tuple[int, int]  # tempo range, quarter notes per minute
    progressions: str = "pop"  # pop | jazz | blues | minor


GROOVES: dict[str, Groove] = {g.name: g for g in [
    Groove("50sRock", "1950s rock and roll", "rock", 4, (130, 170), "blues"),
    Groove("60sRock", "1960s rock", "rock", 4, (110, 140)),
    Groove("BasicRock", "rock", "rock", 4, (100, 140)),
    Groove("SoftRock", "soft rock", "pop", 4, (80, 110)),
    Groove("FolkRock", "folk rock", "rock", 4, (100, 130)),
    Groove("RockBallad", "rock ballad", "rock", 4, (60, 80)),
    Groove("PopBallad", "pop ballad", "pop", 4, (60, 85)),
    Groove("8Beat", "8-beat pop", "pop", 4, (100, 130)),
    Groove("Twist", "twist", "rock", 4, (140, 170), "blues"),
    Groove("RockWaltz", "rock waltz", "rock", 3, (90, 130)),
    Groove("JazzRock", "jazz rock", "jazz", 4, (110, 140), "jazz"),
    Groove("R&B", "rhythm and blues", "blues", 4, (90, 120), "blues"),
    Groove("DSoul", "soul", "soul", 4, (90, 115)),
    Groove("Trance", "trance", "electronic", 4, (128, 140), "minor"),
    Groove("Swing", "swing", "jazz", 4, (120, 180), "jazz"),
    Groove("EasySwing", "easy swing", "jazz", 4, (100, 130), "jazz"),
    Groove("BigBand", "big band swing", "jazz", 4, (130, 170), "jazz"),
    Groove("JazzCombo", "small-combo jazz", "jazz", 4, (120, 160), "jazz"),
    Groove("SlowJazz", "slow jazz ballad", "jazz", 4, (60, 80), "jazz"),
    Groove("MellowJazz", "mellow jazz", "jazz", 4, (80, 110), "jazz"),
    Groove("JazzWaltz", "jazz waltz", "jazz", 3, (120, 170), "jazz"),
    Groove("Bebop", "bebop", "jazz", 4, (170, 200), "jazz"),
    Groove("Dixie", "dixieland jazz", "jazz", 4, (160, 200), "pop"),
    Groove("GypsyJazz", "gypsy jazz", "jazz", 4, (160, 200), "minor"),
    Groove("RagTime", "ragtime", "jazz", 4, (90, 120)),
    Groove("BoggieWoggie", "boogie-woogie", "blues", 4, (130, 170), "blues"),
    Groove("Blues", "blues", "blues", 4, (80, 120), "blues"),
    Groove("SlowBlues", "slow blues", "blues", 4, (50, 70), "blues"),
    Groove("BossaNova", "bossa nova", "latin", 4, (110, 140), "jazz"),
    Groove("Samba", "samba", "latin", 4, (90, 110)),
    Groove("Salsa", "salsa", "latin", 4, (170, 200), "minor"),
    Groove("Mambo", "mambo", "latin", 4, (170, 200), "minor"),
    Groove("ChaCha", "cha-cha", "latin", 4, (110, 130)),
    Groove("Rhumba", "rumba", "latin", 4, (100, 130)),
    Groove("Tango", "tango", "latin", 4, (110, 130), "minor"),
    Groove("Beguine", "beguine", "latin", 4, (100, 120)),
    Groove("Bolero", "bolero", "latin", 4, (90, 110), "minor"),
    Groove("Merengue", "merengue", "latin", 4, (120, 160)),
    Groove("Calypso", "calypso", "world", 4, (100, 130)),
    Groove("Son", "Cuban son", "latin", 4, (90, 120)),
    Groove("Ska", "ska", "reggae", 4, (150, 190)),
    Groove("BlueGrass", "bluegrass", "country", 4, (160, 200)),
    Groove("CountrySwing", "country swing", "country", 4, (140, 180)),
    Groove("CountryWaltz", "country waltz", "country", 3, (100, 140)),
    Groove("WesternSwing", "western swing", "country", 4, (140, 180)),
    Groove("Folk", "folk", "folk", 4, (100, 130)),
    Groove("FolkBallad", "folk ballad", "folk", 4, (70, 90)),
    Groove("Zydeco", "zydeco", "folk", 4, (130, 160)),
    Groove("Polka", "polka", "folk", 4, (110, 140)),
    Groove("Waltz", "waltz", "ballroom", 3, (84, 100)),
    Groove("VieneseWaltz", "Viennese waltz", "ballroom", 3, (160, 190)),
    Groove("Foxtrot", "foxtrot", "ballroom", 4, (110, 130), "jazz"),
    Groove("QuickStep", "quickstep", "ballroom", 4, (190, 210)),
    Groove("Broadway", "Broadway show tune", "musical", 4, (110, 140)),
    Groove("March", "march", "march", 4, (110, 125)),
    Groove("Spiritual", "gospel spiritual", "gospel", 4, (70, 100)),
    Groove("Hymn", "hymn", "gospel", 4, (70, 90)),
    Groove("Lullaby", "lullaby", "children", 4, (60, 80)),
]}

# 4-bar progressions in scale degrees: (degree 1-7, quality); quality in "", "m", "7", "maj7", "m7", "dim"
_PROGRESSIONS = {
    "pop": [[(1, ""), (5, ""), (6, "m"), (4, "")], [(1, ""), (6, "m"), (4, ""), (5, "")],
            [(1, ""), (4, ""), (5, ""), (1, "")], [(6, "m"), (4, ""), (1, ""), (5, "")],
            [(1, ""), (3, "m"), (4, ""), (5, "7")], [(4, ""), (1, ""), (5, ""), (6, "m")],
            [(1, ""), (4, ""), (1, ""), (5, "7")], [(2, "m"), (5, "7"), (1, ""), (1, "")]],
    "jazz": [[(2, "m7"), (5, "7"), (1, "maj7"), (1, "maj7")], [(1, "maj7"), (6, "m7"), (2, "m7"), (5, "7")],
             [(3, "m7"), (6, "m7"), (2, "m7"), (5, "7")], [(1, "maj7"), (4, "maj7"), (3, "m7"), (6, "7")],
             [(4, "maj7"), (5, "7"), (3, "m7"), (6, "m7")]],
    "blues": [[(1, "7"), (1, "7"), (1, "7"), (1, "7")], [(4, "7"), (4, "7"), (1, "7"), (1, "7")],
              [(5, "7"), (4, "7"), (1, "7"), (5, "7")]],
    "minor": [[(1, "m"), (6, ""), (3, ""), (7, "")], [(1, "m"), (4, "m"), (5, "7"), (1, "m")],
              [(1, "m"), (7, ""), (6, ""), (5, "7")], [(1, "m"), (4, "m"), (7, ""), (3, "")],
              [(1, "m"), (6, ""), (4, "m"), (5, "7")]],
}
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


@dataclass
class Chart:
    groove: str  # the MMA groove variant actually used
    tempo: int
    tonic_pc: int
    mode: str  # major | minor
    chords: list[str]  # one chord per bar
    seed: int

    def to_mma(self) -> str:
        lines = [f"RndSeed {self.seed}", f"Tempo {self.tempo}", f"Groove {self.groove}"]
        lines += [f"{i + 1} {c}" for i, c in enumerate(self.chords)]
        return "\n".join(lines) + "\n"


def _chord_name(tonic_pc: int, mode: str, degree: int, quality: str, flats: bool) -> str:
    steps = MAJOR_STEPS if mode == "major" else MINOR_STEPS
    pc = (tonic_pc + steps[degree - 1]) % 12
    return (FLAT_NAMES if flats else SHARP_NAMES)[pc] + quality


def make_chart(groove: Groove, variant: str, bars: int, tempo: int, rng: random.Random) -> Chart:
    """A random diatonic chart for `bars` bars in a random key (tempo in quarter notes per minute)."""
    kind = groove.progressions
    mode = "minor" if kind == "minor" or (kind == "pop" and rng.random() < 0.3) else "major"
    if mode == "minor" and kind != "minor":
        kind = "minor"
    tonic = rng.randrange(12)
    flats = tonic in (1, 3, 5, 8, 10) if mode == "major" else tonic in (0, 2, 3, 5, 7, 10)
    if kind == "blues":
        prog = [c for block in _PROGRESSIONS["blues"] for c in block]  # the 12-bar form
    else:
        prog = [c for _ in range(2) for c in rng.choice(_PROGRESSIONS[kind])]
    chords = [_chord_name(tonic, mode, d, q, flats) for d, q in (prog[i % len(prog)] for i in range(bars))]
    return Chart(variant, tempo, tonic, mode, chords, rng.randrange(1, 2**31 - 1))


@lru_cache(maxsize=None)
def groove_variants(name: str) -> tuple[str, ...]:
    """The groove and its textural variants (Sus, Plus, Walk ...) defined in MMA's style files;
    intros, endings and fills are left out. Empty when MMA's library lacks the groove."""
    names: list[str] = []
    for d in STYLE_DIRS:
        for f in sorted(Path(d).glob("*.mma")) if Path(d).is_dir() else []:
            text = f.read_text(encoding="latin-1")
            defs = re.findall(r"^\s*DefGroove\s+(\S+)", text, flags=re.M | re.I)
            if any(g.lower() == name.lower() for g in defs):
                names += [g for g in defs if g.lower().startswith(name.lower())
                          and not re.search(r"intro|end|fill|break|hit", g, re.I)]
    return tuple(dict.fromkeys(names))


def run_mma(chart: Chart, exe: str | None = None, timeout: float = 60.0) -> bytes:
    """MIDI bytes for a chart (MMA is a Python program: one short subprocess per chart)."""
    exe = exe or find_mma()
    with tempfile.TemporaryDirectory(prefix="tonecraft-mma-") as tmp:
        src, out = Path(tmp) / "chart.mma", Path(tmp) / "chart.mid"
        src.write_text(chart.to_mma(), encoding="utf-8")
        proc = subprocess.run([exe, "-w", "-f", str(out), str(src)], capture_output=True, text=True,
                              timeout=timeout, cwd=tmp)
        if proc.returncode != 0 or not out.exists():
            msg = (proc.stdout + proc.stderr).strip().splitlines()
            raise RuntimeError(f"mma failed on groove {chart.groove}: {' | '.join(msg[-3:])}")
        return out.read_bytes()
