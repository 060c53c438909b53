"""Sampling weights that draw a corpus's rare groups more often (issue 18).

The music corpus holds 1,592 band grooves but 170 synth-lead clips and 58 choir clips, and 2.5 x more clips at
medium tempo than at 150 bpm: an LM trained on it by plain shuffling hears a synth prompt answered once per
40 segments and learns to answer with what it hears most. Weighting each item by `count(its group) ** -power`,
per sidecar field, flattens that: power 1 draws every group of a field equally often, 0.5 halves the imbalance in
log terms (a group 9x rarer is drawn 3x less often), 0 changes nothing.

Fields: `family` and `tempo` are what a listener hears (`corpus.attributes`: the instrument family of the
sidecar's instrument, the slow / medium / fast bucket of its bpm); any other name is a sidecar field, where a text
value is its own group (lower case), except a comma list ("piano, bass, drums": a band), which is one group
"several", and a number falls in a half-octave band (bpm 64-90 is one group, 90-128 the next). A missing value is
the group "none".
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

from ..errors import ConfigError
from .corpus.attributes import instrument_family, tempo_bucket

DERIVED = {"family": lambda info: instrument_family(info.get("instrument")),
           "tempo": lambda info: tempo_bucket(info.get("bpm"))}


def group_of(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            return "none"
        return f"band{math.floor(2 * math.log2(value))}"
    text = str(value).strip().lower()
    return "several" if "," in text else text


def balanced_weights(infos: Sequence[dict], fields: Sequence[str], power: float = 1.0) -> list[float]:
    """One weight per item (its sidecar `info`): the product over `fields` of count(item's group) ** -power."""
    if not 0.0 <= power <= 1.0:
        raise ConfigError(f"balance power must be within 0..1, not {power}")
    weights = [1.0] * len(infos)
    for field in fields:
        value = DERIVED.get(field, lambda info: info.get(field))
        groups = [group_of(value(info or {})) for info in infos]
        counts = Counter(groups)
        if len(counts) == 1 and "none" in counts:
            raise ConfigError(f"no item has the field {field!r} to balance on")
        weights = [w * counts[g] ** -power for w, g in zip(weights, groups)]
    return weights
