"""T5 text conditioner (MusicGen: t5-base, 768 dims; AudioGen: t5-large, 1024 dims).

The T5 encoder comes from `transformers` and is frozen (audiocraft/modules/conditioners.py `T5Conditioner`): tokenized with padding to the
longest description, no truncation, EOS appended. Weights are never in our checkpoints; they are
loaded by name through the Hugging Face cache (offline-aware) or from a local directory.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import CheckpointError, ModelNotFoundError
from .base import TextConditioner, TextEncoder, TextInputs

# audiocraft's allowed names -> hidden size (`T5Conditioner.MODELS` / `MODELS_DIMS`)
T5_DIMS = {
    "t5-small": 512, "t5-base": 768, "t5-large": 1024, "t5-3b": 1024, "t5-11b": 1024,
    "google/flan-t5-small": 512, "google/flan-t5-base": 768, "google/flan-t5-large": 1024,
    "google/flan-t5-xl": 2048, "google/flan-t5-xxl": 4096,
}
# The canonical t5-* repos moved to google-t5/; caches may hold either id.
_HUB_IDS = {f"t5-{s}": [f"google-t5/t5-{s}", f"t5-{s}"] for s in ("small", "base", "large", "3b", "11b")}
T5_FILES = [[w, t] for w in ("model.safetensors", "pytorch_model.bin") for t in ("tokenizer.json", "spiece.model")]
T5_FILES = [["config.json", *f] for f in T5_FILES]
T5_OPTIONAL = ["tokenizer_config.json", "special_tokens_map.json", "spiece.model"]


class SentencePieceT5Tokenizer:
    """T5's tokenization straight from `spiece.model` (pad=0, EOS appended, right padding).

    Used when a directory has `spiece.model` but no `tokenizer.json`: transformers 5 can only
    convert a SentencePiece file with `protobuf`, which we do not require.
    """

    def __init__(self, model_file: str | os.PathLike):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self.pad_token_id = max(self.sp.pad_id(), 0)
        self.eos_token_id = self.sp.eos_id() if self.sp.eos_id() >= 0 else 1

    def __call__(self, texts: list[str], return_tensors: str = "pt", padding: bool = True) -> TextInputs:
        ids = [self.sp.encode(t) + [self.eos_token_id] for t in texts]
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}


def load_t5_tokenizer(directory: str | os.PathLike):
    """The tokenizer saved in `directory` (tokenizer.json preferred, else spiece.model)."""
    d = Path(directory)
    if (d / "tokenizer.json").is_file():
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(str(d))
        except Exception as exc:  # noqa: BLE001 - any parse failure is a bad checkpoint
            raise CheckpointError(f"cannot read the T5 tokenizer in {d}: {exc}") from exc
    if (d / "spiece.model").is_file():
        return SentencePieceT5Tokenizer(d / "spiece.model")
    raise CheckpointError(f"no T5 tokenizer in {d}: expected tokenizer.json or spiece.model")


class T5Encoder(TextEncoder):
    """Frozen `transformers.T5EncoderModel` + its tokenizer."""

    def __init__(self, model, tokenizer, name: str = "t5"):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
        self.dim = int(model.config.d_model)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike) -> "T5Encoder":
        """A local T5 directory, or an audiocraft T5 name (t5-base ...) from the hub cache."""
        directory = Path(name_or_path) if Path(name_or_path).is_dir() else resolve_t5(str(name_or_path))
        from transformers import T5EncoderModel

        try:
            model = T5EncoderModel.from_pretrained(str(directory))
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"cannot load the T5 encoder in {directory}: {exc}") from None
        return cls(model, load_t5_tokenizer(directory), name=str(name_or_path))

    def tokenize(self, texts: list[str]) -> TextInputs:
        out = self.tokenizer(texts, return_tensors="pt", padding=True)
        return {"input_ids": out["input_ids"], "attention_mask": out["attention_mask"]}

    def encode(self, inputs: TextInputs) -> torch.Tensor:
        device = next(self.model.parameters()).device
        with torch.no_grad():
            return self.model(
                input_ids=inputs["input_ids"].to(device), attention_mask=inputs["attention_mask"].to(device)
            ).last_hidden_state

    def to(self, device) -> "T5Encoder":
        self.model.to(device)
        return self


class T5Conditioner(TextConditioner):
    """audiocraft's `T5Conditioner`: frozen T5 + `output_proj` (the only weights in the checkpoint)."""

    def __init__(self, encoder: T5Encoder | str | os.PathLike, output_dim: int, word_dropout: float = 0.0):
        if not isinstance(encoder, TextEncoder):
            encoder = T5Encoder.from_pretrained(encoder)
        super().__init__(encoder, output_dim, word_dropout=word_dropout)


def t5_repos(name: str) -> list[str]:
    """Hub repos that may hold a T5 by audiocraft name, current first (t5-base moved to google-t5/t5-base)."""
    return list(_HUB_IDS.get(name, [name]))


def resolve_t5(name: str) -> Path:
    """Directory of a T5 checkpoint by audiocraft name or hub id, from the local Hugging Face cache
    (or the network when allowed). Raises ModelNotFoundError saying what to download where."""
    from ..hub import resolve_dir

    if name not in T5_DIMS and "/" not in name:
        raise ModelNotFoundError(
            f"unknown text encoder {name!r}: use one of {', '.join(T5_DIMS)}, a hub id, or a local directory"
        )
    repos = t5_repos(name)
    try:
        return resolve_dir(repos[0], T5_FILES, T5_OPTIONAL, name=f"text encoder {name}")
    except ModelNotFoundError as first:
        for repo in repos[1:]:  # a cache made before t5-* moved to google-t5/
            try:
                return resolve_dir(repo, T5_FILES, T5_OPTIONAL, name=f"text encoder {name}")
            except ModelNotFoundError:
                pass
        raise first from None


__all__ = ["T5_DIMS", "T5Conditioner", "T5Encoder", "SentencePieceT5Tokenizer", "load_t5_tokenizer", "resolve_t5",
           "t5_repos"]
