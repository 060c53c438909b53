"""Writing generated audio: normalised, watermarked and labelled by default (`save_generated`).

One function for the command line, the service and Python users, so that every file tonecraft writes
carries the watermark and the labels unless the caller says `watermark=False` (which the labels record).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import torch

from ..audio import normalize_audio, save_audio, write_format
from ..provenance import MIN_SECONDS, Payload, StreamEmbedder, WatermarkError, embed
from ..provenance.scheme import too_short_message
from ..provenance.labels import generation_tags

log = logging.getLogger("tonecraft")


@dataclass
class Provenance:
    """What goes into the watermark and the labels of one generated clip."""

    model: str | None = None
    prompt: str | None = None
    seed: int | None = None
    params: dict | None = None
    watermark: bool = True

    def payload(self) -> Payload:
        return Payload.for_generation(self.model, self.prompt, self.seed)


def mark(wav: torch.Tensor, sample_rate: int, info: Provenance) -> tuple[torch.Tensor, dict[str, str]]:
    """(audio with the watermark when `info.watermark` and the clip is long enough, its tags)."""
    state, payload = "off", None
    if info.watermark:
        try:
            wav = embed(wav, sample_rate, info.payload())
            state, payload = "on", f"{info.payload().value:08x}"
        except WatermarkError as exc:
            state = f"off: {exc}"
            # the text, not the exception: a handler that keeps records (the server's job log) would keep its
            # traceback, and with it the frames holding the audio
            log.warning("not watermarked: %s", str(exc))
    tags = generation_tags(model=info.model, prompt=info.prompt, seed=info.seed, params=info.params,
                           watermark=state, payload=payload)
    return wav, tags


def save_generated(path: str | os.PathLike, wav: torch.Tensor, sample_rate: int, info: Provenance | None = None,
                   normalize: str = "loudness") -> Path:
    """Write one generated clip [C, T]: normalised first (so the mark is not scaled or clipped afterwards),
    then watermarked (`info.watermark`, default on), then labelled. Peaks the mark pushes past full scale
    are avoided by a gain (the mark survives gain; clipping would cost it)."""
    info = info or Provenance()
    write_format(path)
    wav = torch.as_tensor(wav).detach().to("cpu", torch.float32)
    wav = normalize_audio(wav if wav.dim() == 2 else wav[None], normalize, sample_rate=sample_rate)
    wav, tags = mark(wav, sample_rate, info)
    peak = wav.abs().max().item() if wav.numel() else 0.0
    if peak > 0.999:
        wav = wav * (0.999 / peak)
    return save_audio(path, wav, sample_rate, normalize="none", tags=tags)


# A live stream lags by one block + ~0.25 s of context. Just over 1 s: blocks sit on the pattern grid (32 kHz:
# 512-sample steps), and a block of 0.99 s would hold back the first whole second until the second block.
STREAM_BLOCK_S = 1.02
# Sampling hands audio to the watermark in pieces this long, whatever chunk the user asked for: the first
# marked second leaves once ~1.3 s exist, not when a second 1 s chunk is complete (first audio after 2 s).
STREAM_FEED_S = 0.1


def marked_stream(chunks: Iterable[torch.Tensor], sample_rate: int, info: Provenance | None = None,
                  expected_seconds: float | None = None) -> tuple[Iterator[torch.Tensor], dict[str, str]]:
    """(chunks [C, n] watermarked as they pass, the tags for the file). Each chunk is marked as soon as the
    block it completes is known; the output lags the input by up to 1.25 s and ends with the rest.
    `expected_seconds`: the stream's length when known; shorter than the watermark needs, the chunks pass
    unmarked and the labels say why, as `save_generated` does for a whole clip."""
    info = info or Provenance()
    state, payload = ("on", f"{info.payload().value:08x}") if info.watermark else ("off", None)
    if info.watermark and expected_seconds is not None and expected_seconds < MIN_SECONDS:
        reason = too_short_message(expected_seconds)
        log.warning("not watermarked: %s", reason)
        info = Provenance(info.model, info.prompt, info.seed, info.params, watermark=False)
        state, payload = f"off: {reason}", None
    tags = generation_tags(model=info.model, prompt=info.prompt, seed=info.seed, params=info.params,
                           watermark=state, payload=payload)
    if not info.watermark:
        return iter(chunks), tags

    def run() -> Iterator[torch.Tensor]:
        embedder = None
        for chunk in chunks:
            chunk = chunk.detach().float().cpu()
            if embedder is None:
                embedder = StreamEmbedder(sample_rate, info.payload(), block_seconds=STREAM_BLOCK_S)
            out = embedder.push(chunk)
            if out.shape[-1]:
                yield out
        if embedder is not None:
            out = embedder.flush()
            if out.shape[-1]:
                yield out

    return run(), tags

