"""Tiny offline T5 pieces for tests: no tokenizer or weights can be downloaded here.

A SentencePiece model is trained on the fly from a few dozen sentences and turned into a
`transformers.T5Tokenizer`; encoders are random-init `T5EncoderModel`s from a tiny `T5Config`.
"""
from __future__ import annotations

import functools
import os
import string
import tempfile

import torch

WORDS = ("a calm piano melody with soft drums and a bright synth lead over warm bass guitar strings violin "
         "rock jazz pop electronic ambient lofi beat happy sad epic orchestral cinematic dance track").split()


@functools.lru_cache(maxsize=1)
def spm_model_file() -> str:
    """Path of a tiny SentencePiece model (T5 ids: pad 0, eos 1, unk 2), trained once per session."""
    import sentencepiece as spm

    d = tempfile.mkdtemp(prefix="tiny_spm_")
    sents = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))] + [" ".join(string.ascii_lowercase)]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sents * 4), model_prefix=os.path.join(d, "spiece"), vocab_size=80,
        hard_vocab_limit=False, model_type="unigram", character_coverage=1.0,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2,
    )
    return os.path.join(d, "spiece.model")


def tiny_t5_tokenizer():
    """A `T5Tokenizer` over the tiny SentencePiece vocabulary (no sentinel tokens)."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    sp = spm.SentencePieceProcessor(model_file=spm_model_file())
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def tiny_t5_config(vocab_size: int | None = None, d_model: int = 32):
    from transformers import T5Config

    if vocab_size is None:
        vocab_size = len(tiny_t5_tokenizer())
    return T5Config(vocab_size=vocab_size, d_model=d_model, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                    relative_attention_num_buckets=8, relative_attention_max_distance=16, dropout_rate=0.0,
                    is_encoder_decoder=False, use_cache=False)


def tiny_t5_encoder(seed: int = 0, d_model: int = 32):
    """A random-init, eval-mode `T5EncoderModel` matching `tiny_t5_tokenizer()`."""
    from transformers import T5EncoderModel

    torch.manual_seed(seed)
    return T5EncoderModel(tiny_t5_config(d_model=d_model)).eval()


def save_tiny_t5(directory: str | os.PathLike, seed: int = 0, d_model: int = 32) -> str:
    """Write a tiny T5 checkpoint directory (config, weights, tokenizer) like a hub snapshot."""
    tiny_t5_encoder(seed, d_model).save_pretrained(str(directory))
    tiny_t5_tokenizer().save_pretrained(str(directory))
    return str(directory)
