"""Text conditioning: a frozen, pluggable text encoder plus a trained projection.

A `TextConditioner` turns a batch of descriptions into `(embeddings [B,S,D], mask [B,S])` for the
LM's cross-attention (or a prepend fuser). The encoder (T5, a sentence encoder, ...) is frozen and
kept out of the state dict, exactly like audiocraft's `T5Conditioner` with `finetune: false`; only
`output_proj` belongs to the model checkpoint.

Audiocraft detail that decides parity (audiocraft/modules/conditioners.py `T5Conditioner.forward`; the
transformer's cross-attention in audiocraft/modules/transformer.py takes no key mask): padded positions are zeroed *after* the
projection (so the projection bias does not leak in), and the LM attends to those zero vectors
without a key mask. `None` or `""` is the null condition: a fully masked, all-zero row.

Optionally (`pooled=True`, tonecraft's default model) the conditioner also returns one *pooled* vector per
text: the masked mean of the encoder states (the sentence embedding a sentence encoder such as MiniLM is
trained to produce) through its own projection `pooled_proj`. The LM gets it as a one-position prefix, a
direct global path to the text that a small LM trained briefly learns to use far sooner than cross-attention.
The null condition's pooled vector is zero.

With `tempo=True` (needs `pooled`) a learned embedding of the bpm the text asks for (`conditioning/tempo.py`)
is added to that pooled vector: `tokenize` reads the bpm from the text before word dropout, so the number is
never lost to augmentation.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod

import torch
from torch import nn

from .tempo import TempoEmbedding, bpm_tensor

TextInputs = dict[str, torch.Tensor]


class TextEncoder(ABC):
    """A frozen text encoder. Not an `nn.Module` on purpose: it must stay out of state dicts."""

    name: str
    dim: int

    @abstractmethod
    def tokenize(self, texts: list[str]) -> TextInputs:
        """Pad to the longest text, no truncation. Must return `input_ids` and `attention_mask` [B,S]."""

    @abstractmethod
    def encode(self, inputs: TextInputs) -> torch.Tensor:
        """Hidden states [B,S,dim] (no gradient)."""

    @abstractmethod
    def to(self, device: torch.device | str) -> "TextEncoder":
        """Move the encoder weights; the dtype stays as loaded (audiocraft keeps T5 in float32)."""


class TextConditioner(nn.Module):
    """Frozen `encoder` + `output_proj: Linear(encoder.dim -> output_dim, bias=True)`."""

    def __init__(self, encoder: TextEncoder, output_dim: int, word_dropout: float = 0.0, pooled: bool = False,
                 tempo: bool = False):
        super().__init__()
        if tempo and not pooled:
            raise ValueError("the tempo embedding is added to the pooled prefix: tempo needs pooled=True")
        self.__dict__["encoder"] = encoder  # not a submodule: frozen, not saved, not trained
        self.output_dim = output_dim
        self.word_dropout = word_dropout
        self.output_proj = nn.Linear(encoder.dim, output_dim, bias=True)
        self.pooled_proj = nn.Linear(encoder.dim, output_dim, bias=True) if pooled else None
        self.tempo_proj = TempoEmbedding(output_dim) if tempo else None

    @property
    def pooled(self) -> bool:
        return self.pooled_proj is not None

    @property
    def tempo(self) -> bool:
        return self.tempo_proj is not None

    def add_tempo(self) -> None:
        """Give a trained pooled conditioner a (zero-initialised) tempo embedding, for fine-tuning."""
        if not self.pooled:
            raise ValueError("the tempo embedding is added to the pooled prefix: tempo needs pooled=True")
        if self.tempo_proj is None:
            w = self.pooled_proj.weight
            self.tempo_proj = TempoEmbedding(self.output_dim).to(device=w.device, dtype=w.dtype)

    @property
    def device(self) -> torch.device:
        return self.output_proj.weight.device

    def _apply(self, fn, recurse=True):
        # Follow the model's device (not its dtype) when it is moved with .to()/.cuda().
        out = super()._apply(fn, recurse)
        self.encoder.to(self.output_proj.weight.device)
        return out

    def _drop_words(self, text: str) -> str:
        # Training-time augmentation (audiocraft T5 word dropout); off in eval mode.
        if not (self.training and self.word_dropout > 0):
            return text
        return " ".join(w for w in text.split(" ") if random.random() >= self.word_dropout)

    def tokenize(self, texts: list[str | None]) -> TextInputs:
        """None / "" become fully masked rows (the null condition used for CFG)."""
        clean = [self._drop_words(t) if t else "" for t in texts]
        inputs = self.encoder.tokenize(clean)
        empty = torch.tensor([t == "" for t in clean], dtype=torch.bool)
        inputs["attention_mask"] = inputs["attention_mask"].clone()
        inputs["attention_mask"][empty] = 0
        if self.tempo_proj is not None:
            inputs["bpm"] = bpm_tensor(texts)  # from the text before word dropout
        return {k: v.to(self.device) for k, v in inputs.items()}

    def forward(self, inputs: TextInputs) -> tuple[torch.Tensor, torch.Tensor]:
        emb, mask, _ = self.encode_all(inputs)
        return emb, mask

    def encode_all(self, inputs: TextInputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(token embeddings [B,S,D], mask [B,S], pooled [B,1,D] or None when `pooled` is off)."""
        with torch.no_grad():
            hidden = self.encoder.encode(inputs)
        hidden = hidden.to(device=self.device, dtype=self.output_proj.weight.dtype)
        mask = inputs["attention_mask"].to(self.device)
        m = mask[..., None].to(hidden.dtype)
        emb = self.output_proj(hidden) * m
        pooled = None
        if self.pooled_proj is not None:
            count = m.sum(1, keepdim=True)  # [B,1,1]
            mean = (hidden * m).sum(1, keepdim=True) / count.clamp(min=1)
            pooled = self.pooled_proj(mean)
            if self.tempo_proj is not None:
                pooled = pooled + self.tempo_proj(inputs["bpm"].to(self.device))
            pooled = pooled * (count > 0).to(hidden.dtype)  # null rows stay exactly zero
        return emb, mask, pooled

    def condition(self, texts: list[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """tokenize + forward in one call."""
        return self(self.tokenize(texts))

    def condition_all(self, texts: list[str | None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """tokenize + encode_all in one call."""
        return self.encode_all(self.tokenize(texts))


def null_condition(emb: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The CFG null condition matching `emb`: all-zero embeddings, fully masked.

    Equal to encoding `[None] * B` in the same batch (audiocraft's ClassifierFreeGuidanceDropout(p=1)),
    because a fully masked row is zeroed after the projection whatever its tokens.
    """
    return torch.zeros_like(emb), torch.zeros_like(mask)


def with_null(emb: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch [cond; null] for one-forward classifier-free guidance (conditional rows first)."""
    null_emb, null_mask = null_condition(emb, mask)
    return torch.cat([emb, null_emb], 0), torch.cat([mask, null_mask], 0)
