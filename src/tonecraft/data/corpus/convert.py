"""music21 score -> MIDI bytes + the facts a caption needs (meter, key, pickup, parts, ABC fields).

music21 is slow and its MIDI export trips on real corpus files, so each known failure has a fallback
(measured on the whole corpus, see /work/shared/reference/offline-data.md):
  1. shared TimeSignature/KeySignature objects ("already found in this Stream") -> deep-copy duplicates;
  2. badly formed repeats, or an expansion far longer than the notated tune -> play through once;
  3. parts without measures -> export a flat copy holding only notes and rests.
A piece that still fails raises ConversionError; the caller records it and skips the piece.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

from .deps import load_music21
from .events import median_ioi, parse_midi
from .sources import Work

MAX_REPEAT_RATIO = 3.0  # expanded / notated length above this is a mis-parsed repeat structure


class ConversionError(Exception):
    """A score music21 cannot turn into usable MIDI (the piece is skipped and reported)."""


_HEADER = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")


def abc_headers(path: Path, number: int | None, _cache: dict = {}) -> dict[str, str]:  # noqa: B006
    """First value of each header field (T, R, N, M, K, O, Q) of tune X:number in an ABC book."""
    text = _cache.get(path)
    if text is None:
        text = path.read_text(encoding="utf-8", errors="replace")
        _cache.clear()  # keep one book: workers go through a book in order
        _cache[path] = text
    tune = text
    if number is not None:
        m = re.search(rf"^X:\s*{number}\s*$", text, flags=re.M)
        if m is None:
            return {}
        nxt = re.search(r"^X:", text[m.end():], flags=re.M)
        tune = text[m.start(): m.end() + nxt.start() if nxt else len(text)]
    out: dict[str, str] = {}
    for line in tune.splitlines():
        h = _HEADER.match(line)
        if h and h.group(1) not in out and h.group(1) != "X":
            out[h.group(1)] = h.group(2).strip().strip('"')
        if h and h.group(1) == "N" and "N" in out and h.group(2) not in out["N"]:
            out["N"] += " " + h.group(2).strip()
    return out


def _dedupe_shared(score) -> int:
    """Deep-copy objects that sit in several containers (ABC reuses one TimeSignature per tune)."""
    seen: set[int] = set()
    fixed = 0
    for container in [score, *score.recurse(streamsOnly=True)]:
        for el in list(container.elements):
            if el.isStream:
                continue
            if id(el) in seen:
                container.replace(el, copy.deepcopy(el))
                fixed += 1
            else:
                seen.add(id(el))
    return fixed


def _strip_repeats(score) -> None:
    m21 = load_music21()
    bar, repeat, spanner = m21.bar, m21.repeat, m21.spanner
    for m in score.recurse().getElementsByClass("Measure"):
        if isinstance(m.leftBarline, bar.Repeat):
            m.leftBarline = bar.Barline("regular")
        if isinstance(m.rightBarline, bar.Repeat):
            m.rightBarline = bar.Barline("regular")
    for cls in (repeat.RepeatExpression, spanner.RepeatBracket):
        for el in list(score.recurse().getElementsByClass(cls)):
            for site in list(el.sites.get()):
                if site is not None and hasattr(site, "remove"):
                    try:
                        site.remove(el)
                    except Exception:  # noqa: BLE001 -- not in that site any more
                        pass


def _flat_copy(score):
    m21 = load_music21()
    stream = m21.stream
    out = stream.Score()
    parts = list(score.parts) or [score]
    for p in parts:
        np_ = stream.Part()
        flat = p.flatten()
        for n in flat.notesAndRests:
            np_.insert(flat.elementOffset(n), copy.deepcopy(n))
        if len(np_):
            out.insert(0, np_)
    return out


def _to_midi(score) -> bytes:
    """Export a measure-free copy, so music21 cannot expand (or mis-expand) repeats a second time."""
    m21 = load_music21()
    flat = _flat_copy(score)
    if not len(flat.parts):
        raise ConversionError("no part holds notes")
    return m21.midi.translate.streamToMidiFile(flat).writestr()


def _has_measures(score) -> bool:
    return score.recurse().getElementsByClass("Measure").first() is not None


def score_to_midi(score) -> tuple[bytes, str]:
    """MIDI bytes (repeats expanded when sane) and which workaround was needed."""
    note = "dedupe" if _dedupe_shared(score) else "none"
    if not _has_measures(score):
        return _to_midi(score), "no-measures"
    notated = float(score.highestTime) or 1.0
    try:
        expanded = score.expandRepeats()
        if float(expanded.highestTime) > MAX_REPEAT_RATIO * notated:
            raise ValueError(f"repeat expansion gives {expanded.highestTime:g} quarters for {notated:g} notated")
        return _to_midi(expanded), note
    except Exception as exc:  # noqa: BLE001 -- music21 raises many types here; fall back below
        first = f"{type(exc).__name__}: {exc}"
    try:
        s2 = copy.deepcopy(score)
        _strip_repeats(s2)
        return _to_midi(s2), "no-repeats"
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"MIDI export failed ({first}); without repeats: {type(exc).__name__}: {exc}") from None


def _meter_facts(score) -> dict:
    m21 = load_music21()
    part = score.parts[0] if len(score.parts) else score
    sigs = list(part.recurse().getElementsByClass(m21.meter.TimeSignature))
    if not sigs:
        return {"meter": None, "meter_changes": False, "beat_ql": 1.0, "bar_ql": 4.0, "pickup_ql": 0.0}
    ts = sigs[0]
    bar_ql = float(ts.barDuration.quarterLength)
    m0 = part.getElementsByClass("Measure").first()
    pickup = 0.0
    if m0 is not None:
        dur = float(m0.duration.quarterLength)
        if (m0.paddingLeft and m0.paddingLeft > 0) or 0 < dur < bar_ql - 1e-6:
            pickup = dur if dur < bar_ql - 1e-6 else 0.0
    return {"meter": ts.ratioString, "meter_changes": len({s.ratioString for s in sigs}) > 1,
            "beat_ql": float(ts.beatDuration.quarterLength), "bar_ql": bar_ql, "pickup_ql": pickup}


def convert_work(work: Work, root: Path) -> tuple[bytes, dict]:
    """Parse one work (only its own tune of an ABC book) and return (MIDI bytes, facts)."""
    m21 = load_music21()
    path = root / work.path
    try:
        score = m21.converter.parse(path, number=work.number, forceSource=True, storePickle=False)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"music21 cannot parse {work.path}#{work.number}: {type(exc).__name__}: {exc}") from None
    if isinstance(score, m21.stream.Opus):
        score = score.scores[0] if len(score.scores) else None
    if score is None or not score.recurse().notes.first():
        raise ConversionError(f"{work.piece_id}: no notes")
    headers = abc_headers(path, work.number) if work.path.endswith(".abc") else {}
    facts = {"piece_id": work.piece_id, "title": work.title or headers.get("T") or getattr(score.metadata, "title", None)}
    facts["composer"] = getattr(score.metadata, "composer", None) if score.metadata else None
    facts["abc"] = {k: headers[k] for k in ("R", "N", "O", "M", "K", "Q") if k in headers}
    facts.update(_meter_facts(score))
    try:
        key = score.analyze("key")
        facts["key"] = {"tonic": key.tonic.name, "mode": key.mode, "confidence": round(float(key.correlationCoefficient), 3)}
    except Exception:  # noqa: BLE001 -- atonal / empty: no key in the caption
        facts["key"] = None
    facts["part_names"] = [str(p.partName) if p.partName else "" for p in score.parts]
    data, facts["workaround"] = score_to_midi(score)
    piece = parse_midi(data)
    if not len(piece.notes):
        raise ConversionError(f"{work.piece_id}: MIDI export holds no notes")
    facts["n_voices"] = len(piece.voices)
    facts["n_notes"] = int(len(piece.notes))
    facts["length_ql"] = round(piece.end_tick / piece.tpq, 4)
    facts["median_ioi_ql"] = round(median_ioi(piece), 4)
    facts["onsets_per_ql"] = round(len(set(piece.notes[:, 0].tolist())) / max(facts["length_ql"], 1e-3), 4)
    facts["voice_ranges"] = [list(piece.voice_range(v)) for v in piece.voices]
    return data, facts
