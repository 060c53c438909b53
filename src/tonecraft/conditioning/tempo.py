"""Tempo conditioning: a bpm read from the prompt, embedded and added to the pooled text prefix.

A frozen sentence encoder barely separates "72 bpm" from "144 bpm", and a small LM trained briefly does not
recover the number from cross-attention; the tempo of its output then ignores the prompt. So the default
model also reads the tempo out of the text (`parse_bpm`: "140 bpm", else a tempo word such as "slow") and
adds a learned embedding of it (`TempoEmbedding`) to the one-position pooled prefix. Text without a tempo
and the null condition get exactly zero, so classifier-free guidance pushes toward the asked tempo too.
"""
from __future__ import annotations

import math
import re

import torch
from torch import nn

MIN_BPM, MAX_BPM = 30.0, 300.0  # numbers outside are not read as a tempo
# "<number> bpm" or "<number> beats per/a minute" (how people write it in free prompts); group 1: the number
BPM_PATTERN = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*-?\s*(?:bpm|beats?\s+(?:per|an?)\s+minute)\b", re.IGNORECASE)
# tempo words a user writes -> a typical bpm. A prompt's tempo is its earliest tempo word ("fast reel with a
# laid-back beat" is fast); where two start at the same place the longer wins ("very slow" over "slow").
TEMPO_WORDS: tuple[tuple[str, float], ...] = (
    ("very slow", 50.0), ("very fast", 176.0),
    ("largo", 50.0), ("adagio", 66.0), ("andante", 84.0), ("moderato", 100.0), ("allegro", 132.0),
    ("presto", 176.0), ("slow", 66.0), ("laid-back", 80.0), ("moderate", 92.0), ("medium tempo", 100.0),
    ("mid-tempo", 100.0), ("upbeat", 116.0), ("quick", 140.0), ("fast", 144.0), ("brisk", 140.0),
)
_WORD_BPM = {w: bpm for w, bpm in TEMPO_WORDS}
# one alternation, longest words first: the regex engine tries them in order at each position, so the
# leftmost match is the earliest word and, among words starting there, the longest
TEMPO_WORD_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(_WORD_BPM, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def parse_bpm(text: str | None) -> float | None:
    """The tempo a prompt asks for: an explicit "<number> bpm" (or "beats per minute") wins, else the earliest
    tempo word, else None."""
    if not text:
        return None
    for match in BPM_PATTERN.finditer(text):
        bpm = float(match.group(1))
        if MIN_BPM <= bpm <= MAX_BPM:
            return bpm
    word = TEMPO_WORD_PATTERN.search(text)
    return _WORD_BPM[word.group(1).lower()] if word else None


def bpm_tensor(texts: list[str | None]) -> torch.Tensor:
    """[B] float32 bpm per text, NaN where none is given."""
    return torch.tensor([b if (b := parse_bpm(t)) is not None else math.nan for t in texts], dtype=torch.float32)


class TempoEmbedding(nn.Module):
    """bpm [B] (NaN = none) -> [B, 1, dim].

    The bpm is placed on `bins` tent functions evenly spaced in log-tempo between 40 and 240 bpm (neighbouring
    bins ~10% apart; values outside clamp to the end bins), then a linear map. Every tempo gets its own
    direction while nearby tempi share weights. `proj` starts at zero so adding it to a trained model leaves
    that model's output unchanged until fine-tuning moves it.
    """

    LOW, HIGH = 40.0, 240.0

    def __init__(self, dim: int, bins: int = 20):
        super().__init__()
        self.bins = bins
        self.proj = nn.Linear(bins, dim, bias=True)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def features(self, bpm: torch.Tensor) -> torch.Tensor:
        present = ~torch.isnan(bpm)
        lo, hi = math.log2(self.LOW), math.log2(self.HIGH)
        pos = (torch.log2(bpm.nan_to_num(100.0).clamp(min=1.0)) - lo) / (hi - lo) * (self.bins - 1)
        pos = pos.clamp(0, self.bins - 1)
        centers = torch.arange(self.bins, device=bpm.device, dtype=pos.dtype)
        tents = (1 - (pos[:, None] - centers[None]).abs()).clamp(min=0)
        return tents * present[:, None].to(tents.dtype)

    def forward(self, bpm: torch.Tensor) -> torch.Tensor:
        present = (~torch.isnan(bpm)).to(self.proj.weight.dtype)[:, None, None]
        feats = self.features(bpm.float()).to(self.proj.weight.dtype)
        return self.proj(feats)[:, None, :] * present  # no tempo -> exactly zero (no bias leak)


__all__ = ["BPM_PATTERN", "MAX_BPM", "MIN_BPM", "TEMPO_WORDS", "TEMPO_WORD_PATTERN", "TempoEmbedding", "bpm_tensor", "parse_bpm"]
