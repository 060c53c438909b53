"""Sound effects from prompts phrased freely (issue 15): "a laser shot", not the corpus caption "a short rising
laser zap".

`bench/sfx_prompts.jsonl` holds one JSON object per line: `prompt` (free text) and `category` (the corpus
category a listener would file the sound under: `weapon` for a laser shot). The SFX evaluation generates each
prompt with a few seeds and runs the category probe on the clips; `prompt_summary` reports, per prompt, how
many of its clips the probe files under the asked category and what it heard instead, and the per-category
recall. Prompts whose category the probe does not know (too few real clips to learn it) are generated and
listed, but not scored.
"""
from __future__ import annotations

import os
from collections import Counter

from ..errors import ConfigError
from .labels import Clip, read_prompt_rows


def load_sfx_prompts(path: str | os.PathLike) -> list[Clip]:
    """The prompts of a file as `Clip`s (description = prompt, `info["category"]`, no audio); a `ConfigError`
    naming the file and line for anything malformed, before a long evaluation starts."""
    rows = read_prompt_rows(path, "prompt", "prompt, category")
    return [_parse_row(row, where, i) for i, (row, where) in enumerate(rows)]


def _parse_row(row: dict, where: str, index: int) -> Clip:
    prompt, cat = row["prompt"], row.get("category")
    if not isinstance(cat, str) or not cat.strip():
        raise ConfigError(f"{where}: 'category' must be a non-empty string (a corpus category such as 'weapon')")
    return prompt_clip(prompt, cat.strip(), index, where)


def prompt_clip(prompt: str, category: str, index: int, source: str = "") -> Clip:
    """A prompt as a `Clip` with no audio (what the generation helpers take)."""
    name = f"prompt_{index:03d}"
    return Clip(path=name, description=prompt.strip(), bpm=None, family=None, tempo=None, piece=name,
                info={"category": category, "source": source})


def prompt_summary(clips: list[Clip], predicted: list[str | None], known: set[str]) -> dict:
    """Per prompt (in file order) and per category: clips generated, clips the probe files under the asked
    category (`hits`), and what it heard (`heard`, most frequent first). `clips[i]` is the prompt of generated
    clip i (a prompt appears once per seed); `known`: the probe's categories."""
    if len(clips) != len(predicted):
        raise ValueError(f"{len(clips)} clips but {len(predicted)} predictions")
    by_prompt: dict[str, dict] = {}
    for c, p in zip(clips, predicted):
        cat = c.info["category"]
        row = by_prompt.setdefault(c.description, {"prompt": c.description, "category": cat,
                                                   "scored": cat in known, "n": 0, "hits": 0, "heard": Counter()})
        row["n"] += 1
        row["hits"] += int(p == cat)
        row["heard"][p] += 1
    prompts = [{**r, "heard": [[k, v] for k, v in r["heard"].most_common()]} for r in by_prompt.values()]
    categories: dict[str, dict] = {}
    for r in prompts:
        if r["scored"]:
            c = categories.setdefault(r["category"], {"n": 0, "hits": 0})
            c["n"] += r["n"]
            c["hits"] += r["hits"]
    for c in categories.values():
        c["recall"] = c["hits"] / c["n"]
    n = sum(c["n"] for c in categories.values())
    hits = sum(c["hits"] for c in categories.values())
    return {"prompts": prompts, "categories": dict(sorted(categories.items())), "n_scored": n,
            "accuracy": hits / n if n else None,
            "balanced_accuracy": (sum(c["recall"] for c in categories.values()) / len(categories)
                                  if categories else None),
            "unscored": sorted({r["category"] for r in prompts if not r["scored"]})}
