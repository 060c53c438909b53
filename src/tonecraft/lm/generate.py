"""Autoregressive token generation over a codebook pattern, with classifier-free guidance (audiocraft/models/lm.py `LMModel.generate`).

API used by the MusicGen / AudioGen wrappers (models/):

    cond = ConditionTensors(cross=text_states)               # [B, Tc, D], already projected and masked
    null = ConditionTensors(cross=torch.zeros_like(text_states))   # or None: zeros are derived for `cross`
    codes = generate_tokens(lm, cond, null, prompt=None, max_gen_len=250,
                            use_sampling=True, temp=1.0, top_k=250, top_p=0.0, cfg_coef=3.0,
                            generator=torch.Generator().manual_seed(0), callback=lambda i, n: ...)
    # codes: int64 [B, K, max_gen_len], prompt frames included at the start

- `ConditionTensors.cross` feeds cross-attention; `.prefix` [B, P, D] is prepended to the token embeddings
  (melody model: [chroma, text]). Conditions are not masked: padded positions must already be zero vectors.
  `.bpm` [B] is the asked tempo for an LM with a beat grid (`lm/beat_grid.py`); null rows get NaN (no grid).
- CFG (cfg_coef != 1): conditional and null rows run as one batch of 2B (cond first) and the logits are
  combined as `uncond + cfg_coef * (cond - uncond)`. Cond and null tensors of different lengths are
  zero-padded at the end to the longer one (what audiocraft's joint tokenisation of the 2B batch does).
  When the condition equals the null condition (no text, unconditional generation) the null half is
  skipped: the result is the same and it runs ~2x faster.
- `prompt` [B, K, Tp] codes are copied into the grid and never overwritten; the first forward pass feeds the
  whole prompt (prefill). Pattern positions without a code are forced to the special token.
- `callback(step, total)` is called after every generated step.
- `on_step(offset, seq)` (optional) is called after every generated step with the pattern step just filled
  and the interleaved sequence [B, K, S] so far (read-only; -1 = not generated yet). Streaming output uses it
  to pick up frames as soon as all their codebooks are sampled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .model import LMModel
from .patterns import get_pattern
from .sampling import sample


@dataclass
class ConditionTensors:
    """Condition inputs of the LM for a batch of B items."""
    cross: torch.Tensor | None = None  # [B, Tc, D] cross-attention source
    prefix: torch.Tensor | None = None  # [B, P, D] embeddings prepended to the token sequence
    bpm: torch.Tensor | None = None  # [B] asked tempo for an LM with a beat grid (NaN = none)

    @property
    def batch_size(self) -> int | None:
        for t in (self.cross, self.prefix, self.bpm):
            if t is not None:
                return t.shape[0]
        return None


def _pad_time(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad two [B, T, D] tensors at the end of time to the same length."""
    n = max(a.shape[1], b.shape[1])
    return F.pad(a, (0, 0, 0, n - a.shape[1])), F.pad(b, (0, 0, 0, n - b.shape[1]))


def _is_null(t: torch.Tensor | None) -> bool:
    return t is None or not bool(t.any())


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return _is_null(a) and _is_null(b)
    if a.shape != b.shape:
        a, b = _pad_time(a, b)
    return torch.equal(a, b)


def _same_bpm(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return all(t is None or bool(t.isnan().all()) for t in (a, b))
    return torch.equal(a.nan_to_num(-1.0), b.nan_to_num(-1.0))


def cfg_batch(cond: ConditionTensors, null: ConditionTensors | None, B: int) -> tuple[ConditionTensors, bool]:
    """Stack [cond; null] along batch. Returns (conditions, use_cfg)."""
    if null is None:
        if cond.prefix is not None:
            raise ConfigError("a prefix condition needs an explicit null_condition for classifier-free guidance")
        null = ConditionTensors(cross=None if cond.cross is None else torch.zeros_like(cond.cross))
    if _same(cond.cross, null.cross) and _same(cond.prefix, null.prefix) and _same_bpm(cond.bpm, null.bpm):
        return cond, False
    out = ConditionTensors()
    if cond.bpm is not None or null.bpm is not None:
        given = cond.bpm if cond.bpm is not None else null.bpm
        c, n = (torch.full((B,), float("nan"), device=given.device) if t is None else t.float()
                for t in (cond.bpm, null.bpm))
        out.bpm = torch.cat([c, n])
    for name in ("cross", "prefix"):
        c, n = getattr(cond, name), getattr(null, name)
        if c is None and n is None:
            continue
        if c is None or n is None:
            if name == "prefix":
                raise ConfigError("condition and null_condition must both have a prefix or neither")
            ref = c if c is not None else n
            c, n = (c if c is not None else torch.zeros_like(ref)), (n if n is not None else torch.zeros_like(ref))
        if n.shape[0] != B or c.shape[0] != B:
            raise ConfigError(f"condition batch sizes {c.shape[0]}/{n.shape[0]} do not match batch {B}")
        c, n = _pad_time(c, n)
        setattr(out, name, torch.cat([c, n], dim=0))
    return out, True


@torch.inference_mode()
def generate_tokens(
    lm: LMModel,
    condition: ConditionTensors | None = None,
    null_condition: ConditionTensors | None = None,
    prompt: torch.Tensor | None = None,
    max_gen_len: int = 250,
    use_sampling: bool = True,
    temp: float = 1.0,
    top_k: int = 250,
    top_p: float = 0.0,
    cfg_coef: float = 3.0,
    generator: torch.Generator | None = None,
    callback: Callable[[int, int], None] | None = None,
    num_samples: int | None = None,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    first_frame: int = 0,
) -> torch.Tensor:
    """Generate codes [B, K, max_gen_len] (int64, prompt included). B comes from the prompt, the condition
    or `num_samples` (unconditional). `first_frame`: where this window starts in the whole piece (long-form),
    so a beat grid keeps its phase across windows."""
    cfg, dev = lm.cfg, lm.device
    K, special = cfg.n_q, cfg.special_token
    condition = condition or ConditionTensors()
    B = next((b for b in (None if prompt is None else prompt.shape[0], condition.batch_size, num_samples)
              if b is not None), 1)
    if condition.cross is not None and not cfg.cross_attention:
        raise ConfigError("this model has no cross-attention; pass the condition as `prefix`")
    Tp = 0 if prompt is None else prompt.shape[-1]
    if prompt is not None and (prompt.shape[:2] != (B, K) or Tp > max_gen_len):
        raise ConfigError(f"prompt must be [B={B}, K={K}, T<={max_gen_len}], got {tuple(prompt.shape)}")

    conds, use_cfg = condition, False
    if cfg_coef != 1.0:
        conds, use_cfg = cfg_batch(condition, null_condition, B)
    if _is_null(conds.cross):  # all-zero cross-attention source contributes exactly 0: skip it
        conds = ConditionTensors(cross=None, prefix=conds.prefix, bpm=conds.bpm)
    cross = None if conds.cross is None else conds.cross.to(dev)
    prefix = None if conds.prefix is None else conds.prefix.to(dev)
    bpm = None if conds.bpm is None or lm.beat_grid is None else conds.bpm.to(dev)

    pattern = get_pattern(cfg.pattern, K, max_gen_len, cfg.delays)
    codes = torch.full((B, K, max_gen_len), -1, dtype=torch.long, device=dev)
    if prompt is not None:
        codes[..., :Tp] = prompt.to(dev)
    seq, mask = pattern.build(codes, special)  # [B, K, S], [K, S]
    S = pattern.num_steps
    start = pattern.first_step_with_timestep(Tp)
    if Tp == max_gen_len or start is None:  # the prompt already fills every frame
        return codes

    P = 0 if prefix is None else prefix.shape[1]
    state = lm.init_state(B * (2 if use_cfg else 1), P + S, cross)
    total = S - start
    prev = 0
    for offset in range(start, S):
        inp = seq[..., prev:offset]
        if use_cfg:
            inp = torch.cat([inp, inp], dim=0)
        logits = lm.step(inp, state, prefix=prefix if prev == 0 else None, bpm=bpm,
                         first_frame=first_frame)  # [B', K, card] fp32
        if use_cfg:
            c, u = logits.split(B)
            logits = u + (c - u) * cfg_coef
        tok = sample(logits, use_sampling, temp, top_k, top_p, generator)  # [B, K]
        tok = torch.where(mask[:, offset], tok, special)
        cur = seq[..., offset]
        seq[..., offset] = torch.where(cur == -1, tok, cur)
        prev = offset
        if callback is not None:
            callback(offset - start + 1, total)
        if on_step is not None:
            on_step(offset, seq)

    out, _ = pattern.revert(seq, -1)
    out = out[..., :max_gen_len]
    if (out < 0).any() or (out >= cfg.card).any():
        raise RuntimeError("generation left unfilled or special tokens in the code grid")
    return out
