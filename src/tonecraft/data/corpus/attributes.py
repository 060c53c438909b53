"""What a listener hears in a music corpus clip, from its sidecar: the instrument family and the tempo bucket.

Families merge the corpus instrument table (`instruments.py`) into timbre groups a listener (and the instrument
probe, `eval.labels`) can tell apart: keyboard (pianos, harpsichord, organs), mallet (celesta, music box,
vibraphone, marimba, xylophone), plucked (guitars, banjo, harp, hammered dulcimer), strings (violin, fiddle, viola,
cello, string ensembles), winds (woodwinds, brass, saxophones), reed (accordion, harmonica, bandoneon, bagpipe),
synth (synth leads), voice (choir), band (MMA grooves: several instruments, listed with commas). The probes score
them, and training draws them evenly (`data.balance`).
"""
from __future__ import annotations

FAMILIES = ("keyboard", "mallet", "plucked", "strings", "winds", "reed", "synth", "voice", "band")
_MERGE = {"keyboard": "keyboard", "organ": "keyboard", "mallet": "mallet", "plucked": "plucked",
          "strings": "strings", "woodwind": "winds", "brass": "winds", "reed": "reed", "synth": "synth",
          "voice": "voice"}
_ENSEMBLES = {"string quartet": "strings", "string orchestra": "strings", "brass quartet": "winds",
              "woodwind quartet": "winds", "saxophone quartet": "winds", "church organ": "keyboard",
              "choir": "voice", "piano": "keyboard", "organ": "keyboard", "guitar": "plucked"}
TEMPO_BUCKETS = ("slow", "medium", "fast")
SLOW_BELOW = 90.0   # bpm < 90: slow
FAST_FROM = 120.0   # bpm >= 120: fast; in between: medium


def _instrument_table() -> dict[str, str]:
    from .instruments import INSTRUMENTS

    table = {}
    for inst in INSTRUMENTS.values():
        fam = _MERGE.get(inst.family)
        if "saxophone" in inst.name:
            fam = "winds"
        if fam:
            table[inst.name] = fam
    table.update(_ENSEMBLES)
    return table


_TABLE: dict[str, str] | None = None


def instrument_family(instrument: str | None) -> str | None:
    """Family of a sidecar `instrument` value; None when unknown (such clips are left out of the probe)."""
    global _TABLE
    if not instrument:
        return None
    if _TABLE is None:
        _TABLE = _instrument_table()
    name = instrument.strip().lower()
    if name in _TABLE:
        return _TABLE[name]
    if "," in name:  # an MMA band: "piano, bass, drums"
        return "band"
    for key, fam in _TABLE.items():  # "solo violin" / "violin solo"
        if key in name:
            return fam
    return None


def tempo_bucket(bpm: float | None, slow_below: float = SLOW_BELOW, fast_from: float = FAST_FROM) -> str | None:
    if bpm is None:
        return None
    bpm = float(bpm)
    return "slow" if bpm < slow_below else "fast" if bpm >= fast_from else "medium"
