"""A tiny frozen text encoder for tests and offline experiments (conditioner kind `hash`).

Words are hashed into `vocab` buckets (0 = pad, 1 = EOS) and looked up in a fixed random table (seeded,
identical in every process). Like T5, only the conditioner's projections are trained and saved.
"""
from __future__ import annotations

import hashlib

import torch

from .base import TextEncoder, TextInputs


def _bucket(word: str, vocab: int) -> int:
    return 2 + int.from_bytes(hashlib.blake2s(word.lower().encode()).digest()[:4], "little") % (vocab - 2)


class HashTextEncoder(TextEncoder):
    """Deterministic bag-of-hashed-words encoder (0 = pad, 1 = EOS), frozen."""

    def __init__(self, dim: int = 32, vocab: int = 1024, seed: int = 0):
        self.name = f"hash-{vocab}x{dim}"
        self.dim = dim
        self.vocab = vocab
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(vocab, dim, generator=g)

    def tokenize(self, texts: list[str]) -> TextInputs:
        ids = [[_bucket(w, self.vocab) for w in t.split()] + [1] for t in texts]
        width = max(len(x) for x in ids)
        input_ids = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros(len(ids), width, dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    def encode(self, inputs: TextInputs) -> torch.Tensor:
        ids = inputs["input_ids"].to(self.table.device)
        return self.table[ids] * inputs["attention_mask"].to(self.table.device)[..., None]

    def to(self, device) -> "HashTextEncoder":
        self.table = self.table.to(device)
        return self
