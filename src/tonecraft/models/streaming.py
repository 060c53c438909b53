"""Audio while tokens are still being sampled (`GenerativeModel.generate_stream`).

Sampling runs in a background thread (`long_form.generate_frames` with a frame hook); complete frames go
through a queue to the consumer, are decoded with the codec's streaming decoder (which carries convolution
and LSTM state across calls, so joined chunks equal the one-shot decode up to float rounding) and leave in
chunks of a fixed number of samples. Closing the iterator stops the sampling thread.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator

import torch

from .frames import GenerationCancelled
from .long_form import ConditionsFn, generate_frames


def stream_audio(model, conditions: ConditionsFn, prompt_tokens, progress: bool, generator, chunk: int, skip: int,
                 single: bool, cancelled=None) -> Iterator[torch.Tensor]:
    """Chunks of `chunk` samples ([C, n] when `single`, else [B, C, n]); the first `skip` samples are dropped.
    `cancelled()` (polled after every decoding step) true -> the iterator raises GenerationCancelled."""
    results: queue.Queue = queue.Queue()
    stop = threading.Event()

    def should_stop() -> bool:
        if stop.is_set():
            return True
        if cancelled is not None and cancelled():
            results.put(("cancelled", None))
            return True
        return False

    def work():
        try:
            with torch.inference_mode():
                generate_frames(model, conditions, prompt_tokens, progress, generator,
                                on_frames=lambda t0, codes: results.put(("frames", codes)), cancelled=should_stop)
            results.put(("done", None))
        except GenerationCancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            results.put(("error", exc))

    decoder = StreamDecoder(model)
    worker = threading.Thread(target=work, name=f"tonecraft-{model.name}-sampling", daemon=True)
    worker.start()

    def decoded() -> Iterator[torch.Tensor]:
        remaining_skip = skip
        while True:
            kind, payload = results.get()
            if cancelled is not None and cancelled():  # do not decode frames queued before the cancel
                raise GenerationCancelled()
            if kind == "error":
                raise payload
            if kind == "cancelled":
                raise GenerationCancelled()
            audio = decoder.push(payload) if kind == "frames" else decoder.flush()
            if remaining_skip and audio.shape[-1]:
                cut = min(remaining_skip, audio.shape[-1])
                audio, remaining_skip = audio[..., cut:], remaining_skip - cut
            yield audio
            if kind == "done":
                return

    try:
        for out in rechunk(decoded(), chunk):
            yield out[0] if single else out
    finally:
        stop.set()
        worker.join()


def rechunk(chunks: Iterable[torch.Tensor], size: int) -> Iterator[torch.Tensor]:
    """[..., n] pieces of any length in, chunks of exactly `size` samples out (the last one the remainder)."""
    pending: list[torch.Tensor] = []
    buffered = 0
    for piece in chunks:
        if piece.shape[-1]:
            pending.append(piece)
            buffered += piece.shape[-1]
        while buffered >= size:
            joined = torch.cat(pending, dim=-1) if len(pending) > 1 else pending[0]
            rest = joined[..., size:]
            pending, buffered = ([rest] if rest.shape[-1] else []), buffered - size
            yield joined[..., :size]
    if buffered:
        yield torch.cat(pending, dim=-1)


class StreamDecoder:
    """Codes in, audio out, chunk by chunk: the codec's exact streaming decoder (one per channel for stereo).
    A codec without one (or one that rescales its input) decodes everything at the end."""

    def __init__(self, model):
        self.model = model
        codec = model.codec
        cfg = getattr(codec, "config", None)
        can_stream = hasattr(codec, "stream_decoder") and not getattr(cfg, "normalize", False)
        n = 2 if model.stereo_interleaved else 1
        self.decoders = [codec.stream_decoder() for _ in range(n)] if can_stream else None
        self.pending: list[torch.Tensor] = []

    def _parts(self, codes: torch.Tensor) -> list[torch.Tensor]:
        return [codes] if len(self.decoders) == 1 else [codes[:, 0::2], codes[:, 1::2]]

    def push(self, codes: torch.Tensor) -> torch.Tensor:
        if self.decoders is None:
            self.pending.append(codes)
            return torch.empty(codes.shape[0], self.model.audio_channels, 0)
        outs = [d.push(c) for d, c in zip(self.decoders, self._parts(codes))]
        return torch.cat(outs, dim=1).float()

    def flush(self) -> torch.Tensor:
        if self.decoders is None:
            return self.model.generate_audio(torch.cat(self.pending, dim=-1))
        return torch.cat([d.flush() for d in self.decoders], dim=1).float()
