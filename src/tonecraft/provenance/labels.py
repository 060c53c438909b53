"""The labels that say a file was generated: tool and version, model, prompt, seed, parameters, date and
whether it is watermarked, as ordinary tags (LIST/INFO in WAV, Vorbis comments in FLAC/Ogg, ID3 in MP3) so
any player shows the short form, plus the whole record as JSON in the comment tag for tools.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from ..audio import read_tags

GENERATOR = "tonecraft"


def generation_tags(*, model: str | None, prompt: str | None, seed: int | None, params: dict | None,
                    watermark: str, payload: str | None = None, date: datetime | None = None) -> dict[str, str]:
    """Tags for `audio.save_audio(tags=...)`. `watermark`: "on", "off" or "off: <why>"."""
    from .. import __version__

    when = (date or _now()).replace(microsecond=0).isoformat()
    record = {"generator": GENERATOR, "version": __version__, "model": model, "prompt": prompt, "seed": seed,
              "params": params or {}, "date": when, "watermark": watermark}
    if payload:
        record["payload"] = payload
    return {"title": prompt or "(no prompt)", "artist": f"{GENERATOR} {model or ''}".strip(),
            "software": f"{GENERATOR} {__version__}", "date": when,
            "comment": json.dumps(record, ensure_ascii=True, sort_keys=True)}


def _now() -> datetime:
    """The date of the label: now, or SOURCE_DATE_EPOCH when set (the reproducible-builds convention: the
    same seed then gives the same bytes)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), timezone.utc)
    return datetime.now(timezone.utc)


def read_labels(path: str | os.PathLike) -> dict | None:
    """The generation record of a file written by tonecraft, None when it has none (other tags are ignored)."""
    comment = read_tags(path).get("comment", "")
    try:
        record = json.loads(comment)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("generator") == GENERATOR else None
