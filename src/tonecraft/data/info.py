"""Per-track metadata (sidecar JSON) and the text augmentation of audiocraft's music dataset.

Sidecar `<audio>.json` (or audiocraft's `<audio stem>.json`) fields, as in audiocraft `MusicInfo`:
`title, artist, description, genre, bpm, key, moods, keywords, instrument, name`. Normalisation:
bpm -> float, key -> lower case (None when several keys are listed), moods/keywords -> lists of
lower-case strings, genre/instrument/name -> one lower-case keyword.
"""
from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .manifest import AudioMeta, ManifestError, sidecar_path

# Fields that may be merged into the description (audiocraft `augment_music_info_description`).
AUGMENT_FIELDS = ("key", "bpm", "genre", "moods", "instrument", "keywords")


def _keyword(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        v = v[0] if v else None
        if v is None:
            return None
    s = str(v).strip().lower()
    return s or None


def _keyword_list(v) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = [x for x in v.replace(";", ",").split(",")]
    out = [str(x).strip().lower() for x in v if str(x).strip()]
    return out or None


def _string(v) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _bpm(v) -> float | None:
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def _key(v) -> str | None:
    s = _string(v)
    if s is None or "," in s:
        return None
    return s.lower()


@dataclass
class MusicInfo:
    title: str | None = None
    artist: str | None = None
    description: str | None = None
    genre: str | None = None
    bpm: float | None = None
    key: str | None = None
    moods: list[str] | None = None
    keywords: list[str] | None = None
    instrument: str | None = None
    name: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "MusicInfo":
        conv = {"title": _string, "artist": _string, "description": _string, "genre": _keyword,
                "bpm": _bpm, "key": _key, "moods": _keyword_list, "keywords": _keyword_list,
                "instrument": _keyword, "name": _keyword}
        known = {k: fn(d.get(k)) for k, fn in conv.items()}
        extra = {k: v for k, v in d.items() if k not in conv}
        return cls(**known, extra=extra)

    def text_attributes(self) -> dict[str, str | None]:
        """Every text attribute as a string (lists joined with ', '), for text conditioners."""
        out = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            out[f.name] = None if v is None else (", ".join(v) if isinstance(v, list) else str(v))
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d


def read_info(meta: AudioMeta | str) -> MusicInfo:
    """MusicInfo from the sidecar of a manifest entry (empty MusicInfo when there is none)."""
    if isinstance(meta, AudioMeta):
        path = Path(meta.info_path) if meta.info_path else sidecar_path(meta.path)
    else:
        path = sidecar_path(meta)
    if path is None or not path.exists():
        return MusicInfo()
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable metadata sidecar ({exc})") from None
    if not isinstance(d, dict):
        raise ManifestError(f"{path}: metadata sidecar must hold a JSON object")
    return MusicInfo.from_dict(d)


def _value_text(v) -> str:
    return ", ".join(v) if isinstance(v, list) else (f"{v:g}" if isinstance(v, float) else str(v))


def augment_description(info: MusicInfo, rng: random.Random, merge_text_p: float = 0.0,
                        drop_desc_p: float = 0.0, drop_other_p: float = 0.0) -> MusicInfo:
    """audiocraft's text augmentation, with an explicit RNG.

    With probability `merge_text_p`: build "key: .., bpm: .., genre: .." from the metadata (each field
    kept when a uniform draw is below `drop_other_p` -- audiocraft's naming), shuffle it, drop the
    original description with probability `drop_desc_p`, and join both with ". "."""
    description = info.description
    metadata_text = ""
    if rng.random() < merge_text_p:
        pairs = []
        for name in AUGMENT_FIELDS:
            v = getattr(info, name)
            keep = rng.random() < drop_other_p
            if v is not None and keep:
                pairs.append(f"{name}: {_value_text(v)}")
        rng.shuffle(pairs)
        metadata_text = ". ".join(pairs)
        if rng.random() < drop_desc_p:
            description = None
    if description is None:
        description = metadata_text or None
    elif metadata_text:
        description = ". ".join([description.rstrip("."), metadata_text])
    description = description.strip() if description else None
    return replace(info, description=description)
