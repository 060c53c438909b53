"""Codebook interleaving patterns (audiocraft `codebooks_patterns.py` semantics).

The LM predicts K parallel codebook streams. A pattern lays the code grid [B, K, T] out as an
interleaved sequence [B, K, S]: `layout[s]` lists the (t, q) coordinates emitted at step s. Step 0 is
always empty, so every sequence starts with a column of special tokens (the BOS). Holes are filled
with the special token. The default "delay" pattern delays codebook q by q steps:

    k0: S a0 a1 a2 a3 S  S  S
    k1: S S  b0 b1 b2 b3 S  S
    k2: S S  S  c0 c1 c2 c3 S        (K=4, T=4 -> S = T + max_delay + 1 = 8 steps)
    k3: S S  S  S  d0 d1 d2 d3

Logits at step s predict the tokens of step s+1 (`revert_logits`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError

Coord = tuple[int, int]  # (timestep t, codebook q)


@dataclass
class Pattern:
    layout: list[list[Coord]]
    n_q: int
    timesteps: int
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if not self.layout or self.layout[0]:
            raise ConfigError("a pattern layout must start with an empty step")
        last = [-1] * self.n_q
        for s, coords in enumerate(self.layout):
            qs = [q for _, q in coords]
            if len(set(qs)) != len(qs):
                raise ConfigError(f"pattern step {s} holds a codebook twice")
            for t, q in coords:
                if t < last[q]:
                    raise ConfigError(f"pattern goes back in time for codebook {q} at step {s}")
                last[q] = t

    @property
    def num_steps(self) -> int:
        """S: length of the interleaved sequence, including the initial special step."""
        return len(self.layout)

    @property
    def max_delay(self) -> int:
        end = max((t + 1 for coords in self.layout for t, _ in coords), default=0)
        return end - self.timesteps

    def first_step_with_timestep(self, t: int) -> int | None:
        """First sequence step holding frame t (any codebook): where generation starts after a t-frame prompt."""
        for s, coords in enumerate(self.layout):
            if any(ct == t for ct, _ in coords):
                return s
        return None

    # -- index tables (numpy-built once, cached per shape/device) -------------------------------------------

    def sequence_index(self, timesteps: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """[K, S] indices into the flattened codes [K*T] (+1 sentinel = special), and the valid mask [K, S]."""
        key = ("seq", timesteps, str(device))
        if key not in self._cache:
            if timesteps > self.timesteps:
                raise ConfigError(f"codes have {timesteps} frames, pattern only {self.timesteps}")
            idx = np.full((self.n_q, self.num_steps), self.n_q * timesteps, dtype=np.int64)
            mask = np.zeros((self.n_q, self.num_steps), dtype=bool)
            for s, coords in enumerate(self.layout):
                for t, q in coords:
                    if t < timesteps:
                        idx[q, s] = q * timesteps + t
                        mask[q, s] = True
            self._cache[key] = (torch.from_numpy(idx).to(device), torch.from_numpy(mask).to(device))
        return self._cache[key]

    def revert_index(self, steps: int, model_output: bool = False, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """[K, T] indices into a flattened sequence [K*steps] (+1 sentinel), and the valid mask [K, T].
        With `model_output`, step s of the sequence holds the prediction for layout[s+1]."""
        key = ("rev", steps, model_output, str(device))
        if key not in self._cache:
            if steps > self.num_steps:
                raise ConfigError(f"sequence has {steps} steps, pattern only {self.num_steps}")
            layout = self.layout[1:] if model_output else self.layout
            idx = np.full((self.n_q, self.timesteps), self.n_q * steps, dtype=np.int64)
            mask = np.zeros((self.n_q, self.timesteps), dtype=bool)
            for s, coords in enumerate(layout[:steps]):
                for t, q in coords:
                    if t < self.timesteps:
                        idx[q, t] = q * steps + s
                        mask[q, t] = True
            self._cache[key] = (torch.from_numpy(idx).to(device), torch.from_numpy(mask).to(device))
        return self._cache[key]

    # -- tensor transforms ----------------------------------------------------------------------------------

    def build(self, codes: torch.Tensor, special: int) -> tuple[torch.Tensor, torch.Tensor]:
        """codes [B, K, T] -> (sequence [B, K, S] with holes = special, mask [K, S] of real codes)."""
        B, K, T = codes.shape
        self._check_k(K)
        idx, mask = self.sequence_index(T, codes.device)
        flat = torch.cat([codes.reshape(B, K * T), codes.new_full((B, 1), special)], dim=1)
        return flat[:, idx.view(-1)].view(B, K, -1), mask

    def revert(self, seq: torch.Tensor, special: int) -> tuple[torch.Tensor, torch.Tensor]:
        """sequence [B, K, S] -> (codes [B, K, T] with missing frames = special, mask [K, T])."""
        B, K, S = seq.shape
        self._check_k(K)
        idx, mask = self.revert_index(S, False, seq.device)
        flat = torch.cat([seq.reshape(B, K * S), seq.new_full((B, 1), special)], dim=1)
        return flat[:, idx.view(-1)].view(B, K, -1), mask

    def revert_logits(self, logits: torch.Tensor, fill: float = float("nan")) -> tuple[torch.Tensor, torch.Tensor]:
        """Model logits [B, K, S, card] -> logits aligned with the codes [B, K, T, card], and mask [K, T].
        Logits at step s predict step s+1, so the last step has no target and frame (0, q) comes from step d_q."""
        B, K, S, card = logits.shape
        self._check_k(K)
        idx, mask = self.revert_index(S, True, logits.device)
        flat = torch.cat([logits.reshape(B, K * S, card), logits.new_full((B, 1, card), fill)], dim=1)
        return flat[:, idx.view(-1)].view(B, K, -1, card), mask

    def _check_k(self, k: int):
        if k != self.n_q:
            raise ConfigError(f"codes have {k} codebooks, pattern expects {self.n_q}")


# -- pattern providers -----------------------------------------------------------------------------------------

def delay_pattern(n_q: int, timesteps: int, delays: list[int] | None = None,
                  flatten_first: int = 0, empty_initial: int = 0) -> Pattern:
    """Codebook q at step s holds frame s-1-delays[q]. Default delays [0, 1, ..., n_q-1]."""
    delays = list(range(n_q)) if delays is None else list(delays)
    if len(delays) != n_q or sorted(delays) != delays:
        raise ConfigError(f"delays {delays} must be n_q={n_q} non-decreasing values")
    layout: list[list[Coord]] = [[] for _ in range(1 + empty_initial)]
    for t in range(min(timesteps, flatten_first)):
        layout += [[(t, q)] for q in range(n_q)]
    for t in range(flatten_first, timesteps + max(delays)):
        layout.append([(t - d, q) for q, d in enumerate(delays) if t - d >= flatten_first])
    return Pattern(layout, n_q, timesteps)


def parallel_pattern(n_q: int, timesteps: int) -> Pattern:
    """All codebooks of frame t at step t+1 (delay pattern with zero delays)."""
    return delay_pattern(n_q, timesteps, [0] * n_q)


def unroll_pattern(n_q: int, timesteps: int, flattening: list[int] | None = None,
                   delays: list[int] | None = None) -> Pattern:
    """Flatten codebooks into inner steps: codebooks sharing a `flattening` value are emitted together.
    Default is full flattening (one codebook per step, n_q steps per frame)."""
    flattening = list(range(n_q)) if flattening is None else list(flattening)
    delays = [0] * n_q if delays is None else list(delays)
    if len(flattening) != n_q or len(delays) != n_q or sorted(flattening) != flattening or sorted(delays) != delays:
        raise ConfigError("flattening and delays must be n_q non-decreasing values")
    groups: dict[int, tuple[list[int], int]] = {}
    for q, (step, d) in enumerate(zip(flattening, delays)):
        qs, gd = groups.setdefault(step, ([], d))
        if gd != d:
            raise ConfigError("codebooks flattened to the same step must share their delay")
        qs.append(q)
    inner = max(groups) + 1
    end = timesteps + max(delays)
    keyed: list[tuple[int, list[Coord]]] = []
    for t in range(end):
        for step in range(inner):
            if step in groups:
                qs, d = groups[step]
                if t + d < end:
                    keyed.append((t + d, [(t, q) for q in qs]))
            else:
                keyed.append((t, []))
    keyed.sort(key=lambda x: (x[0], x[1]))
    return Pattern([[]] + [c for _, c in keyed], n_q, timesteps)


def coarse_first_pattern(n_q: int, timesteps: int, delays: list[int] | None = None) -> Pattern:
    """All of codebook 0 first, then codebooks 1..K-1 in parallel (optionally delayed)."""
    delays = [0] * (n_q - 1) if delays is None else list(delays)
    if len(delays) != n_q - 1 or sorted(delays) != delays:
        raise ConfigError("coarse_first delays must be n_q-1 non-decreasing values")
    layout: list[list[Coord]] = [[]] + [[(t, 0)] for t in range(timesteps)]
    for t in range(timesteps + max(delays, default=0)):
        layout.append([(t - d, q + 1) for q, d in enumerate(delays) if t - d >= 0])
    return Pattern(layout, n_q, timesteps)


def musiclm_pattern(n_q: int, timesteps: int, group_by: int = 2) -> Pattern:
    """Flatten codebooks in groups: (0, 1) for all frames, then (2, 3), ..."""
    layout: list[list[Coord]] = [[]]
    for start in range(0, n_q, group_by):
        for t in range(timesteps):
            layout += [[(t, q)] for q in range(start, min(start + group_by, n_q))]
    return Pattern(layout, n_q, timesteps)


def get_pattern(name: str, n_q: int, timesteps: int, delays: list[int] | None = None, **kw) -> Pattern:
    """Pattern by audiocraft name (`codebooks_pattern.modeling`): delay, parallel, unroll, coarse_first, musiclm."""
    if name == "delay":
        return delay_pattern(n_q, timesteps, delays, **kw)
    if name == "parallel":
        return parallel_pattern(n_q, timesteps)
    if name == "unroll":
        return unroll_pattern(n_q, timesteps, delays=delays, **kw)
    if name in ("coarse_first", "valle"):
        return coarse_first_pattern(n_q, timesteps, delays, **kw)
    if name == "musiclm":
        return musiclm_pattern(n_q, timesteps, **kw)
    raise ConfigError(f"unknown codebook pattern {name!r}")
