"""Which output frames are complete after each decoding step, so a consumer can take them early.

With the delay pattern (MusicGen) codebook q of frame t is sampled at step t + q, so frame t is complete
after step t + max_delay; `FrameTracker` hands each frame over once, in order, as soon as that step is done.
The streaming API and long-form windows use it through `generate_tokens(on_step=...)`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..lm.patterns import get_pattern

# (first frame index in the output, codes [B, K, n]) -- consecutive, in order, covering every output frame
FramesHook = Callable[[int, torch.Tensor], None]


class GenerationCancelled(Exception):
    """Raised inside the sampling thread when the stream's consumer stopped listening."""


class FrameTracker:
    """`on_step` hook of `generate_tokens`: after each pattern step, hand over the frames whose codebooks are
    all sampled; raise GenerationCancelled when `cancelled()` says the consumer is gone."""

    def __init__(self, cfg, length: int, start: int, emit: FramesHook | None, cancelled: Callable[[], bool] | None):
        pattern = get_pattern(cfg.pattern, cfg.n_q, length, cfg.delays)
        idx = np.full((cfg.n_q, length), -1, dtype=np.int64)  # step holding (codebook q, frame t)
        for s, coords in enumerate(pattern.layout):
            for t, q in coords:
                if t < length:
                    idx[q, t] = s
        self.idx = torch.from_numpy(idx)
        # frames 0..t are all complete after step done[t]
        self.done = torch.from_numpy(np.maximum.accumulate(idx.max(axis=0)))
        self.next, self.emit, self.cancelled = start, emit, cancelled

    def __call__(self, offset: int, seq: torch.Tensor) -> None:
        if self.cancelled is not None and self.cancelled():
            raise GenerationCancelled()
        if self.emit is None:
            return
        n = int(torch.searchsorted(self.done, torch.tensor(offset), right=True))
        if n > self.next:
            cols = self.idx[:, self.next:n].to(seq.device)
            codes = seq.gather(2, cols.unsqueeze(0).expand(seq.shape[0], -1, -1)).clone()
            t0, self.next = self.next, n
            self.emit(t0, codes)
