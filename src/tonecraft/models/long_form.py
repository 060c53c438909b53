"""Tokens of any length: one LM window up to `max_duration`, audiocraft's sliding windows beyond it.

Beyond max_duration (audiocraft/models/genmodel.py, `BaseGenModel._generate_tokens`): window i starts at
frame i * stride (stride = `extend_stride` seconds), is prompted with the last (window - stride) frames of
window i-1 (positions restart at 0 in every window) and appends only its new frames; the conditions are
recomputed per window at its time offset (melody: the reference is re-sliced there). The total is exactly
round(duration * frame_rate) frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import ConfigError
from ..lm.generate import ConditionTensors, generate_tokens
from .frames import FrameTracker, FramesHook
from .params import GenerationParams
from .progress import GenerationProgress

# window time offset in seconds (None: the whole piece is one window) -> (condition, CFG null condition)
ConditionsFn = Callable[[float | None], tuple[ConditionTensors, ConditionTensors]]


@dataclass(frozen=True)
class WindowPlan:
    """Lengths in frames: the whole output, one LM window, and the step between windows."""

    total: int
    window: int
    stride: int
    frame_rate: float
    duration: float
    max_duration: float

    @classmethod
    def of(cls, params: GenerationParams, frame_rate: float, max_duration: float) -> "WindowPlan":
        if int(round(params.duration * frame_rate)) < 1:  # was a reshape RuntimeError deep in sampling
            raise ConfigError(f"duration {params.duration:g} s is shorter than one frame ({1 / frame_rate:.3g} s)")
        return cls(total=int(round(params.duration * frame_rate)), window=int(round(max_duration * frame_rate)),
                   stride=int(round(params.extend_stride * frame_rate)), frame_rate=frame_rate,
                   duration=params.duration, max_duration=max_duration)

    def check_prompt(self, prompt_len: int) -> None:
        """A prompt must fit in the output, and leave room for new frames in a window when sliding."""
        if prompt_len > self.total:
            raise ConfigError(f"the prompt ({prompt_len / self.frame_rate:.2f} s) is longer than duration "
                              f"{self.duration} s (the duration includes the prompt)")
        if self.total > self.window and prompt_len >= self.window:
            raise ConfigError(f"the prompt ({prompt_len / self.frame_rate:.2f} s) must be shorter than the model's "
                              f"max_duration {self.max_duration} s when generating beyond it")


def generate_frames(model, conditions: ConditionsFn, prompt_tokens: torch.Tensor | None, progress: bool = False,
                    generator: torch.Generator | None = None, on_frames: FramesHook | None = None,
                    cancelled: Callable[[], bool] | None = None) -> torch.Tensor:
    """Codes [B, K, duration * frame_rate] (prompt frames included) for `model`'s current parameters.

    `on_frames(t0, codes)` receives every output frame once, in order, as soon as it is complete (prompt
    frames first). `cancelled()` is polled every step (streaming)."""
    p = model.params
    plan = WindowPlan.of(p, model.frame_rate, model.max_duration)
    prompt_len = 0 if prompt_tokens is None else prompt_tokens.shape[-1]
    plan.check_prompt(prompt_len)
    bar = GenerationProgress(model.name, model.frame_rate, plan.total - prompt_len, p.duration) if progress else None
    if on_frames is not None and prompt_len:
        on_frames(0, prompt_tokens)

    def run(prompt, length, offset_frames, cond_offset):
        condition, null = conditions(cond_offset)
        done = 0 if prompt is None else prompt.shape[-1]
        cb = None if bar is None else (lambda i, n: bar.update(done, i, n, length))
        hook = None
        if on_frames is not None or cancelled is not None:
            emit = None if on_frames is None else (lambda t0, codes: on_frames(offset_frames + t0, codes))
            hook = FrameTracker(model.lm.cfg, length, done, emit, cancelled)
        return generate_tokens(
            model.lm, condition, null, prompt=prompt, max_gen_len=length, use_sampling=p.use_sampling,
            temp=p.temperature, top_k=p.top_k, top_p=p.top_p, cfg_coef=p.cfg_coef, generator=generator,
            callback=cb, on_step=hook, first_frame=offset_frames,
        )

    try:
        if plan.total <= plan.window:
            return run(prompt_tokens, plan.total, 0, None)
        chunks = [] if prompt_tokens is None else [prompt_tokens]
        prompt, offset = prompt_tokens, 0
        while offset + (0 if prompt is None else prompt.shape[-1]) < plan.total:
            length = min(plan.total - offset, plan.window)
            tokens = run(prompt, length, offset, offset / model.frame_rate)
            chunks.append(tokens if prompt is None else tokens[..., prompt.shape[-1]:])
            if bar is not None:
                bar.base += length - (0 if prompt is None else prompt.shape[-1])
            prompt = tokens[..., plan.stride:]
            offset += plan.stride
        return torch.cat(chunks, dim=-1)[..., :plan.total]
    finally:
        if bar is not None:
            bar.close()
