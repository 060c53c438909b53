"""One job, one continuous piece: multi-prompt segments (AudioCraft Plus) and the plain single-prompt case.

A job is a list of segments (prompt, seconds of new audio). Segment 0 is an ordinary generation (optionally
continuing an uploaded clip); every later segment is a continuation (`generate_stream(prompt=...)`) of the
last `context_seconds(model)` of the piece so far (the model's own long-form context: window - stride), with
its own prompt. The continuation re-decodes that context from codec tokens, which is not bit-identical to the
audio already sent, so the last CROSSFADE_SECONDS of each segment are held back and crossfaded into the
re-decoded context: the joins are seamless while the piece still streams chunk by chunk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

MAX_SEGMENTS = 16
CROSSFADE_SECONDS = 0.05


@dataclass(frozen=True)
class Segment:
    prompt: str
    seconds: float  # new audio (for a plain job: the whole duration, continuation included)


def job_segments(params: dict) -> list[Segment]:
    """The segments of a job's stored params: its `segments`, or one made of `prompt` and `duration`."""
    if params.get("segments"):
        return [Segment(s["prompt"], float(s["duration"])) for s in params["segments"]]
    return [Segment(params.get("prompt", ""), float(params["duration"]))]


def context_seconds(model, stride: float) -> float:
    """How much of the piece a later segment continues from: the part of a window long-form generation keeps."""
    return model.max_duration - stride


class Joiner:
    """Joins the chunk streams of the segments into one stream, crossfading at every join.

    `push(x)` returns the audio that may be emitted now; the last `fade` samples stay held. `next_segment()`
    says how many of the next segment's first samples to skip (the re-decoded context before the held part)
    and arms the crossfade; `finish()` returns the held tail."""

    def __init__(self, fade: int, keep: int):
        self.fade, self.keep = fade, keep
        self.held: torch.Tensor | None = None
        self.recent: torch.Tensor | None = None  # the last `keep` samples emitted (the context source)
        self.mix = 0  # samples of incoming audio still to crossfade with `held`
        self.skip = 0
        self.pending: list[torch.Tensor] = []

    def context(self, hop: int) -> torch.Tensor:
        """The piece's last samples (emitted + held), at most `keep`, a whole number of frames."""
        parts = [t for t in (self.recent, self.held) if t is not None]
        whole = torch.cat(parts, dim=-1)
        n = min(whole.shape[-1], self.keep) // hop * hop
        return whole[..., whole.shape[-1] - n:]

    def next_segment(self, context_len: int) -> None:
        held = 0 if self.held is None else self.held.shape[-1]
        self.mix, self.skip, self.pending = held, context_len - held, []

    def push(self, x: torch.Tensor) -> torch.Tensor:
        if self.skip:
            cut = min(self.skip, x.shape[-1])
            x, self.skip = x[..., cut:], self.skip - cut
        if self.mix:
            self.pending.append(x)
            joined = torch.cat(self.pending, dim=-1)
            if joined.shape[-1] < self.mix:
                return x[..., :0]
            head, x = joined[..., :self.mix], joined[..., self.mix:]
            w = torch.linspace(0, 1, self.mix + 2, dtype=head.dtype)[1:-1]
            x = torch.cat([self.held * (1 - w) + head * w, x], dim=-1)
            self.held, self.mix, self.pending = None, 0, []
        if self.held is not None:
            x = torch.cat([self.held, x], dim=-1)
        cut = max(0, x.shape[-1] - self.fade)
        out, self.held = x[..., :cut], x[..., cut:]
        self._remember(out)
        return out

    def finish(self) -> torch.Tensor | None:
        held, self.held = self.held, None
        return held

    def _remember(self, out: torch.Tensor) -> None:
        if out.shape[-1]:
            joined = out if self.recent is None else torch.cat([self.recent, out], dim=-1)
            self.recent = joined[..., max(0, joined.shape[-1] - self.keep):]


def generate_piece(model, segments: list[Segment], n: int, configure: Callable[[float], None], *,
                   generator: torch.Generator | None, stride: float, chunk_seconds: float,
                   prompt: tuple[torch.Tensor, int] | None = None, drop_prompt: bool = False,
                   cancelled=None, **conditioning) -> Iterator[torch.Tensor]:
    """Chunks [n, C, m] of the whole piece. `configure(duration)` sets the model's generation params (the
    caller's sampling settings) for a segment's total length; `prompt` (wav, rate): a clip segment 0 continues.
    One `generator` runs through every segment, so a seed gives the same piece; a one-segment piece is exactly
    `generate_stream`'s output. `conditioning` (melody) goes to every segment's call: the API allows it with one
    segment only (a later segment's window starts inside the piece, the melody would restart there)."""
    sr, hop = model.sample_rate, model.hop_length
    keep = int(math.floor(context_seconds(model, stride) * model.frame_rate)) * hop
    joiner = Joiner(max(1, round(CROSSFADE_SECONDS * sr)), keep)
    for i, seg in enumerate(segments):
        if i == 0:
            extra = {}
            duration = seg.seconds
            if prompt is not None:
                wav, rate = prompt
                extra = {"prompt": wav, "prompt_sample_rate": rate, "drop_prompt": drop_prompt}
                if len(segments) > 1:  # segment durations are new audio; a plain job's duration counts the clip
                    duration += wav.shape[-1] / rate
        else:
            ctx = joiner.context(hop)
            joiner.next_segment(ctx.shape[-1])
            extra = {"prompt": ctx, "prompt_sample_rate": sr}
            duration = ctx.shape[-1] / sr + seg.seconds
        configure(duration)
        for chunk in model.generate_stream([seg.prompt or None] * n, chunk_seconds=chunk_seconds,
                                           generator=generator, cancelled=cancelled, **extra,
                                           **conditioning):
            out = joiner.push(chunk.detach().cpu().float())
            if out.shape[-1]:
                yield out
    tail = joiner.finish()
    if tail is not None and tail.shape[-1]:
        yield tail
