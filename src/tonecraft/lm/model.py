"""The MusicGen / AudioGen language model: a pre-norm decoder-only transformer over K codebook streams.

    x = sum_k emb[k](codes[:, k]) (+ beat grid, optional) (+ prefix prepended) + sinusoid(pos)
    per layer:  x += SelfAttn(norm1(x))            causal, KV-cached when decoding
                x += CrossAttn(norm_cross(x), c)   c = projected condition, no padding mask
                x += linear2(gelu(linear1(norm2(x))))
    logits[k] = linears[k](out_norm(x))

Parameter names equal audiocraft's LM state-dict keys (audiocraft/models/lm.py `LMModel`), so a released `best_state` loads with a
plain `load_state_dict` (drop the `condition_provider.*` keys, they belong to conditioning/).

Decoding uses a preallocated KV cache (`DecodeState`): one static [B, H, max_len, head_dim] tensor pair per
layer, written in place; cross-attention K/V are computed once from the condition and reused every step.
In bfloat16 mode (`LMConfig.dtype`) only the transformer layers and the cache are bf16; embeddings,
`out_norm` and the heads stay float32 (as audiocraft does on GPU), so logits are float32.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import fast_paths
from .beat_grid import BeatGrid, step_frames
from .config import LMConfig
from .fast_paths import linear


def sin_embedding(positions: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal positions [..., dim] in float32: [cos, sin] with phase pos / max_period**(i/(half-1))."""
    half = dim // 2
    i = torch.arange(half, device=positions.device, dtype=torch.float32)
    phase = positions.to(torch.float32)[..., None] / (max_period ** (i / (half - 1)))
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


class Attention(nn.Module):
    """Multi-head attention with audiocraft's packed projection `in_proj_weight` = [q; k; v] rows, no biases."""

    def __init__(self, dim: int, num_heads: int, dtype=None):
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim, dtype=dtype))
        self.out_proj = nn.Linear(dim, dim, bias=False, dtype=dtype)
        self.packed: dict = {}  # decoding-time weight replacements ("qkv", "q", "out"), see linear(); not saved

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # [B, S, D] -> [B, H, S, hd]
        B, S, D = x.shape
        return x.view(B, S, self.num_heads, D // self.num_heads).transpose(1, 2)

    def _merge(self, y: torch.Tensor) -> torch.Tensor:  # [B, H, S, hd] -> [B, S, D]
        B, H, S, hd = y.shape
        return linear(y.transpose(1, 2).reshape(B, S, H * hd), self.out_proj.weight, self.packed.get("out"))

    def self_attn(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None, pos,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
        """Causal self-attention. With a cache, K/V of the new positions are written at [pos, pos+S).
        A tensor `pos` selects the static-shape form used by compiled decoding: one token, attention over the
        whole (zero-initialised) cache with `mask` [1, max_len] marking the filled positions."""
        B, S, D = x.shape
        H = self.num_heads
        qkv = linear(x, self.in_proj_weight, self.packed.get("qkv")).view(B, S, 3, H, D // H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, S, hd]
        if cache is None:
            return self._merge(F.scaled_dot_product_attention(q, k, v, is_causal=S > 1))
        ck, cv = cache
        if isinstance(pos, torch.Tensor):
            ck.index_copy_(2, pos, k)
            cv.index_copy_(2, pos, v)
            return self._merge(F.scaled_dot_product_attention(q, ck, cv, attn_mask=mask))
        ck[:, :, pos:pos + S].copy_(k)
        cv[:, :, pos:pos + S].copy_(v)
        k, v = ck[:, :, :pos + S], cv[:, :, :pos + S]
        if S == 1:
            y = F.scaled_dot_product_attention(q, k, v)
        elif pos == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # several new tokens after a filled cache: causal mask aligned to the end
            mask = torch.ones(S, pos + S, dtype=torch.bool, device=x.device).tril(pos)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self._merge(y)

    def cross_kv(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """K/V [B, H, Tc, hd] of the condition; computed once per generation."""
        D = cond.shape[-1]
        kv = linear(cond, self.in_proj_weight[D:])
        k, v = kv.chunk(2, dim=-1)
        return self._heads(k).contiguous(), self._heads(v).contiguous()

    def cross_attn(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Attention to every condition position (no padding mask: padded positions are zero vectors)."""
        D = x.shape[-1]
        q = self._heads(linear(x, self.in_proj_weight[:D], self.packed.get("q")))
        return self._merge(F.scaled_dot_product_attention(q, kv[0], kv[1]))


class Layer(nn.Module):
    def __init__(self, cfg: LMConfig, dtype=None):
        super().__init__()
        d, eps = cfg.dim, cfg.norm_eps
        self.self_attn = Attention(d, cfg.num_heads, dtype)
        self.norm1 = nn.LayerNorm(d, eps=eps, dtype=dtype)
        if cfg.cross_attention:
            self.cross_attention = Attention(d, cfg.num_heads, dtype)
            self.norm_cross = nn.LayerNorm(d, eps=eps, dtype=dtype)
        else:
            self.cross_attention = None
        self.norm2 = nn.LayerNorm(d, eps=eps, dtype=dtype)
        self.linear1 = nn.Linear(d, cfg.ffn_dim, bias=False, dtype=dtype)
        self.linear2 = nn.Linear(cfg.ffn_dim, d, bias=False, dtype=dtype)
        self.packed: dict = {}  # decoding-time linear1/linear2 replacements; not saved

    def forward(self, x, cache=None, pos=0, cross_kv=None, mask=None):
        x = x + self.self_attn.self_attn(self.norm1(x), cache, pos, mask)
        if cross_kv is not None:
            x = x + self.cross_attention.cross_attn(self.norm_cross(x), cross_kv)
        h = F.gelu(linear(self.norm2(x), self.linear1.weight, self.packed.get("linear1")))
        return x + linear(h, self.linear2.weight, self.packed.get("linear2"))


class Transformer(nn.Module):
    def __init__(self, cfg: LMConfig, dtype=None):
        super().__init__()
        self.layers = nn.ModuleList([Layer(cfg, dtype) for _ in range(cfg.num_layers)])


@dataclass
class DecodeState:
    """Per-generation decoding state: static KV cache, cached cross-attention K/V, next position."""
    keys: list[torch.Tensor]  # per layer [B, H, max_len, hd]
    values: list[torch.Tensor]
    cross: list[tuple[torch.Tensor, torch.Tensor]] | None  # per layer cross K/V, None = no cross-attention
    pos_table: torch.Tensor  # [max_len, D] float32 sinusoids
    pos: int = 0
    tokens: int = 0  # sequence steps fed so far (pos counts prefix positions too)

    @property
    def max_len(self) -> int:
        return self.pos_table.shape[0]


def _reset_optimized_decoding(module: "LMModel", incompatible_keys) -> None:
    module.optimize_decoding(False)  # frozen / packed weight copies are stale after a load


class LMModel(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.cfg = cfg
        D, K = cfg.dim, cfg.n_q
        # reset_parameters() initialises the tables; from_pretrained(empty) skips nn.Embedding's own normal_
        # init, which on the meta device (for_loading) would import torch._dynamo (seconds)
        self.emb = nn.ModuleList([nn.Embedding.from_pretrained(torch.empty(cfg.card + 1, D), freeze=False)
                                  for _ in range(K)])
        self.transformer = Transformer(cfg, dtype=cfg.torch_dtype)
        self.out_norm = nn.LayerNorm(D, eps=cfg.norm_eps)
        self.linears = nn.ModuleList([nn.Linear(D, cfg.card, bias=False) for _ in range(K)])
        self.beat_grid = BeatGrid(D, cfg.beat_grid_rate) if cfg.beat_grid_rate > 0 else None
        self._compiled_step = None  # see optimize_decoding()
        self.decoding_path = "eager"  # which optimize_decoding path is active
        fast_paths.refresh()
        self.reset_parameters()
        self.register_load_state_dict_post_hook(_reset_optimized_decoding)

    # -- set-up ------------------------------------------------------------------------------------------------

    @classmethod
    def for_loading(cls, cfg: LMConfig, device: str | torch.device = "cpu") -> "LMModel":
        """An LM whose every weight is about to be loaded: memory allocated, not initialised (the random init
        of musicgen-small's 420 M parameters alone takes seconds). Load it strictly, or it holds garbage."""
        with torch.device("meta"):
            lm = cls(cfg)
        # not Module.to_empty: on CPU it goes through torch._refs, which imports sympy and torch.fx (~1 s)
        for module in lm.modules():
            for name, p in list(module.named_parameters(recurse=False)):
                module.register_parameter(name, nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device=device),
                                                             requires_grad=p.requires_grad))
        assert next(lm.buffers(), None) is None, "materialise buffers here too"
        return lm

    @torch.no_grad()
    def reset_parameters(self):
        """audiocraft's `gaussian` init: trunc-normal std 1/sqrt(fan_in) (+-3 std), LayerNorm 1/0."""
        for name, p in self.named_parameters():
            if p.dim() == 1:
                (p.zero_() if name.endswith("bias") else p.fill_(1.0))
            else:
                std = 1.0 / math.sqrt(p.shape[-1])
                nn.init.trunc_normal_(p, std=std, a=-3 * std, b=3 * std)
        if self.beat_grid is not None:
            self.beat_grid.reset_parameters()

    def add_beat_grid(self, frame_rate: float) -> None:
        """Give a trained LM a (zero-initialised) beat grid, for fine-tuning."""
        if self.beat_grid is None:
            self.cfg = replace(self.cfg, beat_grid_rate=float(frame_rate))
            self.beat_grid = BeatGrid(self.cfg.dim, frame_rate).to(self.device)

    @property
    def layer_dtype(self) -> torch.dtype:
        layers = self.transformer.layers
        return layers[0].norm1.weight.dtype if len(layers) else self.out_norm.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.out_norm.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- forward -----------------------------------------------------------------------------------------------

    def _embed(self, codes: torch.Tensor, prefix: torch.Tensor | None, grid: torch.Tensor | None = None
               ) -> torch.Tensor:
        x = self.emb[0](codes[:, 0])
        for k in range(1, len(self.emb)):
            x = x + self.emb[k](codes[:, k])
        if grid is not None:
            x = x + grid.to(x.dtype)
        if prefix is not None:
            x = torch.cat([prefix.to(x.dtype), x], dim=1)
        return x

    def _head(self, x: torch.Tensor) -> torch.Tensor:  # [B, S, D] -> [B, K, S, card]
        x = self.out_norm(x.to(self.out_norm.weight.dtype))
        return torch.stack([linear(x, lin.weight) for lin in self.linears], dim=1).float()

    def _grid(self, bpm: torch.Tensor | None, first_frame, start: int, codes: torch.Tensor) -> torch.Tensor | None:
        """Beat-grid input of steps start.. of `codes` (None without a grid or a bpm)."""
        if self.beat_grid is None or bpm is None:
            return None
        B, S = codes.shape[0], codes.shape[-1]
        frames = step_frames(first_frame, start, S, B, codes.device)
        return self.beat_grid(bpm.to(codes.device), frames)

    def forward(self, codes: torch.Tensor, cross: torch.Tensor | None = None,
                prefix: torch.Tensor | None = None, bpm: torch.Tensor | None = None,
                first_frame: int | torch.Tensor = 0) -> torch.Tensor:
        """Full-sequence forward (training / scoring). codes [B, K, S] (special token = card allowed),
        cross [B, Tc, D] condition for cross-attention, prefix [B, P, D] prepended embeddings, bpm [B] (NaN =
        none) and first_frame (int or [B]: the segment's first frame in its clip) for the beat grid.
        Returns float32 logits [B, K, S, card]; prefix positions are sliced off."""
        S = codes.shape[-1]
        x = self._embed(codes, prefix, self._grid(bpm, first_frame, 0, codes))
        pos = sin_embedding(torch.arange(x.shape[1], device=x.device), self.cfg.dim, self.cfg.max_period)
        x = (x.float() + pos).to(self.layer_dtype)
        cross = self._check_cross(cross)
        for layer in self.transformer.layers:
            ckv = layer.cross_attention.cross_kv(cross) if cross is not None else None
            x = layer(x, cross_kv=ckv)
        return self._head(x[:, -S:])

    def _check_cross(self, cross: torch.Tensor | None) -> torch.Tensor | None:
        if cross is None:
            return None
        if not self.cfg.cross_attention:
            raise ValueError("this model has no cross-attention; pass conditions as `prefix`")
        return cross.to(self.layer_dtype)

    # -- incremental decoding ----------------------------------------------------------------------------------

    @torch.no_grad()
    def init_state(self, batch: int, max_len: int, cross: torch.Tensor | None = None) -> DecodeState:
        """Allocate the KV cache for `max_len` positions (prefix + tokens) and cache the cross-attention K/V.
        `cross=None` skips cross-attention: identical to an all-zero condition (its output is exactly 0)."""
        cfg, dt, dev = self.cfg, self.layer_dtype, self.device
        shape = (batch, cfg.num_heads, max_len, cfg.head_dim)
        # zeros, not empty: compiled decoding attends over the whole cache (masked) and 0 * NaN garbage = NaN
        keys = [torch.zeros(shape, dtype=dt, device=dev) for _ in range(cfg.num_layers)]
        values = [torch.zeros(shape, dtype=dt, device=dev) for _ in range(cfg.num_layers)]
        cross = self._check_cross(cross)
        ckv = None
        if cross is not None:
            ckv = [layer.cross_attention.cross_kv(cross) for layer in self.transformer.layers]
        table = sin_embedding(torch.arange(max_len, device=dev), cfg.dim, cfg.max_period)
        if self._compiled_step is not None:  # one compiled graph for every cache length
            for t in keys + values:
                torch._dynamo.mark_dynamic(t, 2)
            torch._dynamo.mark_dynamic(table, 0)
        return DecodeState(keys, values, ckv, table)

    @torch.no_grad()
    def step(self, codes: torch.Tensor, state: DecodeState, prefix: torch.Tensor | None = None,
             last_only: bool = True, bpm: torch.Tensor | None = None, first_frame: int = 0) -> torch.Tensor:
        """Feed codes [B, K, S] (one column per call, or a whole prompt on the first call, optionally after a
        `prefix` [B, P, D]) and advance the cache. `bpm` / `first_frame`: the beat grid, as in `forward`.
        Returns float32 logits [B, K, card] of the last position (or [B, K, S, card] with `last_only=False`)."""
        S = codes.shape[-1]
        grid = self._grid(bpm, first_frame, state.tokens, codes)
        compiled = self._compiled_step is not None and S == 1 and prefix is None and last_only and grid is None
        if compiled and state.pos < state.max_len:
            with torch._inductor.config.patch(self._compile_options):  # read at (re)compilation time
                logits = self._compiled_step(codes, state.keys, state.values, state.cross,
                                             torch.tensor([state.pos], device=codes.device), state.pos_table)
            state.pos += 1
            state.tokens += 1
            return logits
        x = self._embed(codes, prefix, grid)
        p0, n = state.pos, x.shape[1]
        if p0 + n > state.max_len:
            raise ValueError(f"KV cache full: {p0}+{n} > {state.max_len} positions")
        x = (x.float() + state.pos_table[p0:p0 + n]).to(self.layer_dtype)
        for i, layer in enumerate(self.transformer.layers):
            x = layer(x, (state.keys[i], state.values[i]), p0, state.cross[i] if state.cross else None)
        state.pos = p0 + n
        state.tokens += S
        if last_only:
            return self._head(x[:, -1:])[:, :, 0]
        return self._head(x[:, -S:])

    # -- compiled single-token decoding (opt-in) --------------------------------------------------------------

    def _step_static(self, codes, keys, values, cross, pos, table):
        """One-token decode step with static shapes (attention over the whole cache, masked) for torch.compile."""
        x = (self._embed(codes, None).float() + table.index_select(0, pos)).to(self.layer_dtype)
        mask = (torch.arange(keys[0].shape[2], device=x.device) <= pos).view(1, -1)
        for i, layer in enumerate(self.transformer.layers):
            x = layer(x, (keys[i], values[i]), pos, cross[i] if cross is not None else None, mask)
        return self._head(x)[:, :, 0]

    @torch.no_grad()
    def optimize_decoding(self, enable: bool = True, dtype: str | None = None):
        """Faster decoding on CPU, at the cost of a second copy of the transformer weights. `dtype`:
        - None: the LM's own precision. float32: decoding steps run through torch.compile (inductor, weights
          frozen and prepacked for its C++ GEMM micro-kernels; the first generation compiles for a minute or
          more, each new batch size recompiles). bfloat16: weights prepacked for oneDNN (no compilation).
        - "int8": transformer linears as dynamic int8 (per-channel weights, `lm/fast_paths.py`); needs a float32 LM.
          Results are within a stated tolerance of float32, not equal (`bench/lm.py` measures top-1 agreement).
        Each path is used only where `cpu_features` says this CPU supports it; otherwise the plain eager path is
        kept and the reason logged once (`decoding_path` says what was chosen). Results of the float32 and bf16
        paths equal eager within float tolerance. Call again after changing the weights (loading a state dict
        turns it off)."""
        self._compiled_step = None
        self.decoding_path = fast_paths.prepare(self.transformer.layers, self.layer_dtype, self.device,
                                                enable, dtype)
        if self.decoding_path == "compiled":
            importlib.import_module("torch._inductor.config")  # patched around every compiled call in step()
            # inductor's C++ GEMM micro-kernels beat MKL on these GEMV shapes
            self._compile_options = {"freezing": True, "max_autotune": True,
                                     "max_autotune_gemm_backends": "CPP,ATEN"}
            self._compiled_step = torch.compile(self._step_static, fullgraph=True)
        return self
