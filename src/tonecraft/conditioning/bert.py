"""A BERT encoder (post-LayerNorm transformer, Devlin et al. 2019) for frozen sentence encoders such as MiniLM.

Why not `transformers.BertModel`: importing it pulls in most of transformers and `torch.distributed.tensor`,
about 3 s on a quiet 2-core machine and 11 s on a busy one, which was most of the default model's load time.
This module is the forward pass only, with the parameter names of transformers' `BertModel` (so its
`model.safetensors` loads as is); `tests/conditioning/test_bert.py` checks it against `BertModel` with
random and with the packaged MiniLM weights.

    model = BertEncoder(BertConfig.from_json("config.json"))
    model.load_state_dict(safetensors.torch.load_file("model.safetensors"), strict=False)
    states = model(input_ids, attention_mask)          # [B, T, hidden] = BertModel's last_hidden_state
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    @classmethod
    def from_json(cls, path: str | Path) -> "BertConfig":
        raw = json.loads(Path(path).read_text())
        if raw.get("model_type", "bert") != "bert" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: not a BERT config with absolute positions")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{path}: hidden_act {raw['hidden_act']!r} is not supported (only 'gelu')")
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


def _table(rows: int, dim: int) -> nn.Embedding:
    return nn.Embedding.from_pretrained(torch.zeros(rows, dim), freeze=False)


class Embeddings(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        # tables to be loaded, not initialised (nn.Embedding's normal_ init on the meta device imports torch._dynamo)
        self.word_embeddings = _table(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = _table(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = _table(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.LayerNorm(x + self.token_type_embeddings.weight[0])  # one segment: token type 0


class SelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        d = cfg.hidden_size
        self.heads = cfg.num_attention_heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape

        def split(t):
            return t.view(B, T, self.heads, D // self.heads).transpose(1, 2)

        y = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)),
                                           attn_mask=bias)
        return y.transpose(1, 2).reshape(B, T, D)


class Output(nn.Module):
    """dense -> residual add -> LayerNorm (BERT's post-norm sub-layer output)."""

    def __init__(self, d_in: int, d_out: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=eps)

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(h) + residual)


class Attention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.self = SelfAttention(cfg)
        self.output = Output(cfg.hidden_size, cfg.hidden_size, cfg.layer_norm_eps)


class Intermediate(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)


class Layer(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = Output(cfg.intermediate_size, cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention.output(self.attention.self(x, bias), x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class Encoder(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([Layer(cfg) for _ in range(cfg.num_hidden_layers)])


class BertEncoder(nn.Module):
    """BertModel's token states (no pooler). Keys: embeddings.*, encoder.layer.N.*, as in transformers."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.config = cfg
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embeddings(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        # padded keys get the most negative float, as BertModel's extended attention mask does
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Load a BertModel state dict (optionally prefixed 'bert.'); the pooler and position_ids are ignored."""
        state = {k.removeprefix("bert."): v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not k.startswith("pooler.") and not k.endswith("position_ids")}
        on_meta = next(self.parameters()).is_meta
        # a model built on the meta device takes the loaded tensors as they are (no init, no copy)
        self.load_state_dict(state, strict=True, assign=on_meta)
