"""Caption variants for LM training: the facts of a clip's sidecar said in other words (issues 18 and 15).

The corpus writes every caption from three templates ("A calm Irish folk tune in D major played on fiddle,
96 bpm"). An LM trained only on them learns the templates: a prompt phrased freely ("calm solo fiddle piece")
lands where the frozen sentence encoder puts it, which is not where the LM learned the fiddle. With
probability `p` a training caption is replaced by a variant written from the same sidecar fields:
- the instrument by one of its everyday names ("acoustic grand piano" -> "piano", "grand piano", "keys");
- free openings ("solo harp", "a tune on harp", tag lists "harp, calm, 90 bpm") and a random attribute order;
- moods, key, meter and room kept or dropped at random;
- the tempo as a number in several phrasings ("96 bpm", "at 96 beats per minute", "tempo 96"), with or without
  a tempo word of the same speed, or not at all.
A tempo word never stands alone: the tempo conditioner reads the bpm from the caption
(`conditioning.tempo.parse_bpm`, a number before any word) and the LM's beat grid follows it, so a word alone
("slow" = 66 bpm) would put the grid off the clip's real beat. Nothing is said that the sidecar does not say.
Sound effects (`sfx_caption_variant`) swap the corpus's phrases for everyday ones ("laser zap" -> "laser shot").
`CAPTION_VARIANTS` names both for the trainer's `data.caption_variant_style`.
"""
from __future__ import annotations

import random
import re

from ..conditioning.tempo import parse_bpm

# everyday names of the corpus instruments (the corpus name is always one of the choices)
NICKNAMES: dict[str, tuple[str, ...]] = {
    "acoustic grand piano": ("piano", "grand piano", "solo piano", "acoustic piano", "keys"),
    "electric piano": ("electric piano", "e-piano", "electric keys", "Rhodes-style electric piano"),
    "harpsichord": ("harpsichord", "baroque harpsichord"),
    "church organ": ("church organ", "pipe organ", "organ"),
    "drawbar organ": ("drawbar organ", "Hammond-style organ", "organ"),
    "fiddle": ("fiddle", "folk fiddle", "violin"),
    "violin": ("violin", "solo violin"),
    "nylon-string guitar": ("nylon-string guitar", "classical guitar", "guitar", "Spanish guitar"),
    "steel-string acoustic guitar": ("acoustic guitar", "steel-string guitar", "guitar"),
    "pan flute": ("pan flute", "pan pipes"),
    "music box": ("music box", "wind-up music box"),
    "vibraphone": ("vibraphone", "vibes"),
    "hammered dulcimer": ("hammered dulcimer", "dulcimer"),
    "harp": ("harp", "concert harp"),
    "string quartet": ("string quartet", "strings"),
    "string orchestra": ("string orchestra", "strings", "string ensemble"),
    "square-wave synth lead": ("square-wave synth lead", "synth lead", "chiptune synth", "synth"),
    "sawtooth synth lead": ("sawtooth synth lead", "saw synth lead", "synth lead", "synth"),
    "alto saxophone": ("alto saxophone", "alto sax", "saxophone", "sax"),
    "soprano saxophone": ("soprano saxophone", "soprano sax", "saxophone"),
    "choir": ("choir", "voices", "a choir singing"),
    "brass quartet": ("brass quartet", "brass"),
    "woodwind quartet": ("woodwind quartet", "woodwinds"),
    "bagpipe": ("bagpipe", "bagpipes"),
}
PIECE_WORDS = ("piece", "tune", "melody", "music", "track")
TEMPO_WORDS_BY_PACE = {  # the corpus's speed buckets (`corpus.caption.tempo_word`), in other words too
    "slow": ("slow", "unhurried", "slow-paced"),
    "moderate": ("moderate", "easy-going", "steady"),
    "upbeat": ("upbeat", "lively", "brisk-paced"),
    "fast": ("fast", "quick", "up-tempo"),
}
ROOM_PHRASES = {"reverb": ("with reverb", "in a big hall", "reverberant"), "dry": ("dry", "close-miked")}
_METER = re.compile(r"^(\d+/\d+) time$")


def pace(bpm: float) -> str:
    """The corpus's speed word for a bpm (same edges as `corpus.caption.tempo_word`)."""
    return "slow" if bpm <= 66 else "moderate" if bpm <= 92 else "upbeat" if bpm <= 120 else "fast"


def instrument_name(instrument: str, rng: random.Random) -> str:
    """The corpus name or one of its everyday names (a band's list of instruments is kept as it is)."""
    names = NICKNAMES.get(instrument)
    return rng.choice(names) if names else instrument


def tempo_phrase(bpm: float | None, rng: random.Random) -> str:
    """The bpm in one of several phrasings, sometimes with a speed word; '' (no tempo) a quarter of the time."""
    if bpm is None or rng.random() < 0.25:
        return ""
    n = int(round(bpm))
    number = rng.choice((f"{n} bpm", f"at {n} bpm", f"{n} BPM", f"around {n} bpm", f"{n} beats per minute",
                         f"tempo {n} bpm"))
    if rng.random() < 0.4:
        word = rng.choice(TEMPO_WORDS_BY_PACE[pace(bpm)])
        return f"{word}, {number}" if rng.random() < 0.5 else f"{number}, {word}"
    return number


def caption_variant(info: dict, rng: random.Random) -> str | None:
    """A new caption from a sidecar dict (`MusicInfo.to_dict()`: instrument, bpm, key, moods, keywords), or
    None when it lacks an instrument (the original caption is kept then)."""
    instrument = (info.get("instrument") or "").strip()
    if not instrument:
        return None
    keywords = [str(k) for k in info.get("keywords") or []]
    style = keywords[0] if keywords else "piece"
    band = "," in instrument
    inst = instrument if band else instrument_name(instrument, rng)
    moods = [m for m in (info.get("moods") or []) if m]
    mood = rng.choice(moods) if moods and rng.random() < 0.6 else ""
    bpm = info.get("bpm")
    tempo = tempo_phrase(float(bpm) if bpm else None, rng)
    extras = []
    if info.get("key") and rng.random() < 0.3:
        key = str(info["key"])
        extras.append(f"in {key[:1].upper()}{key[1:]}")
    meter = next((m.group(1) for k in keywords if (m := _METER.match(k))), None)
    if meter and rng.random() < 0.15:
        extras.append(f"{meter} time")
    room = next((k for k in keywords if k in ROOM_PHRASES), None)
    if room and rng.random() < 0.3:
        extras.append(rng.choice(ROOM_PHRASES[room]))
    subject = _subject(style, inst, mood, band, rng)
    if rng.random() < 0.2:  # a tag list
        parts = [inst, style, mood, tempo, *extras]
        head, rest = parts[:1], [p for p in parts[1:] if p]
        rng.shuffle(rest)
        text = ", ".join(head + rest)
    else:
        rest = [p for p in (tempo, *extras) if p]
        rng.shuffle(rest)
        text = ", ".join([subject, *rest])
        text = text[0].upper() + text[1:] if rng.random() < 0.5 else text
    if bpm and parse_bpm(text) not in (None, float(bpm)):  # a style such as "slow air" reads as a tempo word
        text += f", {int(round(float(bpm)))} bpm"
    return text


def _subject(style: str, inst: str, mood: str, band: bool, rng: random.Random) -> str:
    m = f"{mood} " if mood else ""
    if band:
        return rng.choice((f"{m}{style} groove with {inst}", f"{m}{style} with {inst}", f"{inst} playing {m}{style}"))
    piece = rng.choice(PIECE_WORDS)
    return rng.choice((
        f"{m}{style} on {inst}",
        f"{m}{inst} {piece}",
        f"solo {inst}, {m}{style}",
        f"{_a(m + piece)} played on {inst}",
        f"{inst} playing {_a(m + style)}",
        f"{m}{style} for {inst}",
    ))


def _a(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


# -- sound effects -------------------------------------------------------------------------------------------------
# The SFX corpus captions come from a rule table and the synthesiser's parameters ("a short falling laser zap");
# users say "a laser shot". Each rule: a phrase of the corpus captions and everyday ways to say the same thing.
SFX_SYNONYMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # first: a later rule must not see what "laser zap" was rewritten to (the draws of every other caption stay)
    ("laser blast", ("laser blast", "laser shot", "blaster shot", "laser gun shot", "ray gun shot", "laser")),
    ("laser zap", ("laser zap", "laser shot", "laser blast", "zap", "blaster shot", "laser")),
    ("sci-fi energy weapon shot", ("sci-fi energy weapon shot", "blaster shot", "laser gun shot")),
    ("gunshot", ("gunshot", "gun shot", "gun firing", "shot from a gun")),
    ("explosion", ("explosion", "blast", "boom", "detonation")),
    ("footsteps", ("footsteps", "steps", "someone walking")),
    ("coin pickup chime", ("coin pickup chime", "coin pickup", "coin collect sound", "coin sound")),
    ("menu select blip", ("menu select blip", "menu click", "UI blip", "button sound")),
    ("game jump sound", ("game jump sound", "jump sound", "8-bit jump")),
    ("game hit sound", ("game hit sound", "hit sound", "retro hit")),
    ("power-up sweep", ("power-up sweep", "power-up sound", "power-up")),
    ("dying cry", ("dying cry", "death cry", "death scream")),
    ("impact thud", ("impact thud", "thud", "heavy impact")),
    ("alarm beeping", ("alarm beeping", "beeping alarm", "alarm")),
    ("engine", ("engine", "motor")),
    ("waves breaking on a shore", ("waves breaking on a shore", "waves on a beach", "surf", "waves crashing")),
    ("rain falling", ("rain falling", "rain", "rainfall")),
    ("wind", ("wind", "breeze")),
)
SFX_LEADS = ("a short ", "a quick ", "a brief ", "a ")
SFX_PREFIXES = ("sound effect of ", "SFX: ", "game sound: ", "the sound of ")
SFX_BARE_P = 0.25  # share of matched captions said with the name alone, every other word dropped


def sfx_caption_variant(info: dict, rng: random.Random) -> str | None:
    """Another phrasing of a sound-effect caption (`info["description"]`): corpus phrases swapped for everyday
    ones, "a short" said otherwise, sometimes a lead-in ("sound effect of ...") or the category at the end, and
    sometimes the everyday name alone ("a short falling laser zap" -> "a laser shot"), as users type it."""
    text = (info.get("description") or "").strip()
    if not text:
        return None
    named = None  # the everyday name of the first phrase found: what a user types bare ("a laser shot")
    for phrase, options in SFX_SYNONYMS:
        if re.search(rf"\b{re.escape(phrase)}\b", text) and rng.random() < 0.7:
            option = rng.choice(options)
            named = named or option
            text = re.sub(rf"\b{re.escape(phrase)}\b", option, text, count=1)
    if named and rng.random() < SFX_BARE_P:
        return _a(named)
    if text.startswith("a short ") and rng.random() < 0.5:
        text = rng.choice(SFX_LEADS) + text[len("a short "):]
    text = re.sub(r"\ba ([aeiou])", r"an \1", text)
    text = re.sub(r"\ban ([^aeiou\W])", r"a \1", text)
    if rng.random() < 0.2:
        text = rng.choice(SFX_PREFIXES) + text
    keywords = info.get("keywords") or []
    if keywords and rng.random() < 0.15:
        text += f", {keywords[0]} sound"
    return text


CAPTION_VARIANTS = {"music": caption_variant, "sfx": sfx_caption_variant}
