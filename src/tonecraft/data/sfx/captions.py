"""Captions for recorded sounds from their path, through the rule table in caption_rules.py.

`caption_for(package, path)` -> Caption(text, category, rule) when a rule gives a caption, or Skip(reason)
when a rule skips the file on purpose or when no rule matches (the file is left out and counted).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import lru_cache

from .caption_rules import CATEGORIES, R, SPOKEN, WORDS
from .packages import AUDIO_EXTS

PATH_COMPONENTS = 4
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# the extensions packages.py unpacks (one list, so a new format is captioned too), and aiff
_AUDIO_EXT = re.compile(r"\.(" + "|".join(e[1:] for e in AUDIO_EXTS) + r"|aiff?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Caption:
    text: str
    category: str
    rule: int  # index in caption_rules.R


@dataclass(frozen=True)
class Skip:
    reason: str
    rule: int | None = None


def path_words(path: str) -> str:
    """`usr/share/games/0ad/audio/attack/impact/arrow_metal_02.ogg` -> "audio / attack / impact / arrow metal".
    Container members (`x.pk3!/sound/a.wav`) count their inner path."""
    path = _AUDIO_EXT.sub("", path.replace("!/", "/"))
    comps = [c for c in path.split("/") if c][-PATH_COMPONENTS:]
    out = []
    for c in comps:
        c = _CAMEL.sub(" ", c)
        c = re.sub(r"[^A-Za-z]+", " ", c).strip().lower()
        if c:
            out.append(re.sub(r"\s+", " ", c))
    return " / ".join(out)


@lru_cache(maxsize=1)
def _compiled():
    return [(pk, re.compile(pat), cap, cat) for pk, pat, cap, cat in R]


def _applies(packages: str, package: str) -> bool:
    return packages == "*" or any(fnmatch(package, p.strip()) for p in packages.split(","))


def _fill(template: str, m: re.Match) -> str:
    # {i} = the i-th matched group that names something (a key of WORDS): with alternatives such as
    # "(animal) ... (death)|(death) ... (animal)" the animal is found whichever side matched
    vals = [g for g in m.groups() if g and g in WORDS]

    def group(k: re.Match) -> str:
        i = int(k.group(1))
        return WORDS[vals[i - 1]] if i - 1 < len(vals) else "{?}"
    text = re.sub(r"\{=(\d)\}", lambda k: SPOKEN.get(m.group(int(k.group(1))) or "", m.group(int(k.group(1))))
                  or "{?}", template)  # the matched words
    text = re.sub(r"\{(\d)\}", group, text)
    return text[:1].lower() + text[1:] if text else text


def caption_for(package: str, path: str) -> Caption | Skip:
    words = path_words(path)
    for i, (pk, rx, cap, cat) in enumerate(_compiled()):
        if not _applies(pk, package):
            continue
        m = rx.search(words)
        if m:
            if cap is None:
                return Skip(f"skipped by rule {i}: {cat}", i)
            text = _fill(cap, m)
            if "{" in text or not text.strip():
                return Skip(f"rule {i} left an empty slot", i)
            return Caption(text, cat, i)
    return Skip("no caption rule matched")


def check_table() -> list[str]:
    """Problems in the rule table (unknown category, bad regex); the tests assert there are none."""
    bad = []
    for i, (pk, pat, cap, cat) in enumerate(R):
        try:
            re.compile(pat)
        except re.error as exc:
            bad.append(f"rule {i}: {exc}")
        if cap is not None and cat not in CATEGORIES:
            bad.append(f"rule {i}: category {cat!r} not in CATEGORIES")
    return bad
