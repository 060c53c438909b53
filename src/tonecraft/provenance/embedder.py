"""Adding the watermark: whole clips (`embed`) and streams chunk by chunk (`StreamEmbedder`), one code path.

The audio is marked in blocks of ~3 s on a grid aligned to the pattern; each block is analysed with 0.25 s of
context on both sides (so the STFT frames and the resampler see exactly what they would see in the whole
file) and gets its own strength, set by bisection so that the block's SNR is the target: every 3 s of the
output meets it, and a stream needs no look at the future beyond the context.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..audio import check_sample_rate, resample
from .payload import Payload
from .scheme import (BIN_LO, DEFAULT_SNR_DB, FLOOR_DB, HOP, MAX_DELTA, MIN_SECONDS, N_BINS, RATE, SHAPE_GAMMA,
                     SHAPE_MAX, TILE_BINS, TILE_COLS, TILE_FRAMES, WatermarkError, as_audio, istft, mono16, stft,
                     tile_signs,
                     too_short_message)

BLOCK_S = 3.0
CONTEXT_S = 0.25
BISECTION_STEPS = 10


def tile_power(spec: torch.Tensor) -> np.ndarray:
    """Power per (bin, frame) of the band averaged over +-2 bins and +-1 frame (a local level, not one bin's
    fluctuation)."""
    power = spec[BIN_LO:BIN_LO + N_BINS].abs().pow(2).numpy()
    padded = np.pad(power, ((2, 2), (1, 1)), mode="edge")
    out = np.zeros_like(power)
    for db in range(5):
        for dt in range(3):
            out += padded[db:db + power.shape[0], dt:dt + power.shape[1]]
    return out / 15


def delta_shape(local_power: np.ndarray) -> np.ndarray:
    """Relative strength per point: more where the audio is quiet (it costs little SNR there and, in the
    log domain, counts as much for the detector as a loud point: this shaping more than doubled the
    score at equal SNR), at most SHAPE_MAX times the loud points' one, nothing extra below FLOOR_DB."""
    ref = np.quantile(local_power, 0.99) + 1e-20
    p = np.maximum(local_power / ref, 10 ** (FLOOR_DB / 10))
    return np.minimum(SHAPE_MAX, p ** -SHAPE_GAMMA)


def _residual(spec: torch.Tensor, signs: np.ndarray, delta: float, shape: np.ndarray, frame0: int,
              length: int) -> np.ndarray:
    """The watermark alone: magnitudes scaled by exp(+-min(MAX_DELTA, delta * shape)), minus the audio."""
    frames = frame0 + np.arange(spec.shape[1])
    cols = (frames // TILE_FRAMES) % TILE_COLS
    rows = np.arange(N_BINS) // TILE_BINS
    gain = np.exp(np.minimum(MAX_DELTA, delta * shape) * signs[rows[:, None], cols[None, :]]) - 1.0
    marked = torch.zeros_like(spec)
    marked[BIN_LO:BIN_LO + N_BINS] = spec[BIN_LO:BIN_LO + N_BINS] * torch.from_numpy(gain)
    return istft(marked, length)


def residual_16k(x16: np.ndarray, signs: np.ndarray, frame0: int, inner: slice, target_power: float
                 ) -> np.ndarray:
    """Residual for 16 kHz mono `x16` (first sample at global frame `frame0`) whose power over `inner` is
    `target_power` (or less where MAX_DELTA caps it)."""
    spec = stft(x16)
    shape = delta_shape(tile_power(spec))
    lo, hi, best = 0.0, MAX_DELTA, None
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        r = _residual(spec, signs, mid, shape, frame0, len(x16))
        if np.mean(r[inner] ** 2) > target_power:
            hi = mid
        else:
            lo, best = mid, r
    return best if best is not None else np.zeros_like(x16)


class StreamEmbedder:
    """Watermarks audio pushed chunk by chunk: `push(chunk)` returns the marked audio that is ready (it lags
    the input by up to one block + context), `flush()` the rest. Joined, the output is what `embed` gives
    for the whole clip."""

    def __init__(self, sample_rate: int, payload: Payload, target_snr_db: float = DEFAULT_SNR_DB,
                 block_seconds: float = BLOCK_S):
        self.sample_rate = check_sample_rate(sample_rate)
        self.signs = tile_signs(payload)
        self.target = 10 ** (-target_snr_db / 10)
        # block edges on the pattern grid: a whole number of 16 kHz hops, a whole number of input samples
        self.align = sample_rate * HOP // math.gcd(sample_rate * HOP, RATE)
        self.block = self.align * max(1, round(block_seconds * sample_rate / self.align))
        self.context = self.align * max(1, math.ceil(CONTEXT_S * sample_rate / self.align))
        self.buffer: torch.Tensor | None = None   # input from `self.buffer_start` on
        self.buffer_start = 0
        self.done = 0                             # samples already returned

    def _append(self, chunk: torch.Tensor) -> None:
        chunk = as_audio(chunk)
        self.buffer = chunk if self.buffer is None else torch.cat([self.buffer, chunk], dim=-1)

    def push(self, chunk: torch.Tensor) -> torch.Tensor:
        self._append(chunk)
        out = []
        while self.buffer_start + self.buffer.shape[-1] >= self.done + self.block + self.context:
            out.append(self._mark(self.done + self.block))
        return self._join(out)

    def flush(self) -> torch.Tensor:
        if self.buffer is None:
            return torch.zeros(1, 0)
        out = []
        end = self.buffer_start + self.buffer.shape[-1]
        while self.done < end:
            out.append(self._mark(min(end, self.done + self.block)))
        return self._join(out)

    def _join(self, parts: list[torch.Tensor]) -> torch.Tensor:
        channels = self.buffer.shape[0] if self.buffer is not None else 1
        return torch.cat(parts, dim=-1) if parts else torch.zeros(channels, 0)

    def _mark(self, stop: int) -> torch.Tensor:
        """Marked samples [self.done, stop); drops input no longer needed as context."""
        start, end = self.done, self.buffer_start + self.buffer.shape[-1]
        seg_start, seg_end = max(self.buffer_start, start - self.context), min(end, stop + self.context)
        seg = self.buffer[:, seg_start - self.buffer_start:seg_end - self.buffer_start]
        own = seg[:, start - seg_start:stop - seg_start]
        power_x = own.double().pow(2).mean().item()
        x16 = mono16(seg, self.sample_rate)
        ratio = RATE / self.sample_rate
        inner = slice(int(round((start - seg_start) * ratio)), int(round((stop - seg_start) * ratio)))
        frame0 = int(round(seg_start * ratio)) // HOP
        if power_x > 0 and inner.stop > inner.start:
            r16 = residual_16k(x16, self.signs, frame0, inner, power_x * self.target)
            r = resample(torch.from_numpy(r16).float(), RATE, self.sample_rate)
            r = torch.nn.functional.pad(r, (0, max(0, seg.shape[-1] - r.shape[-1])))
            marked = own + r[start - seg_start:stop - seg_start]
        else:
            marked = own.clone()
        self.done = stop
        keep_from = max(self.buffer_start, stop - self.context)
        self.buffer = self.buffer[:, keep_from - self.buffer_start:]
        self.buffer_start = keep_from
        return marked


def embed(wav: torch.Tensor, sample_rate: int, payload: Payload, target_snr_db: float = DEFAULT_SNR_DB
          ) -> torch.Tensor:
    """`wav` [C, T] (or [T]) with the watermark added (SNR `target_snr_db` in every 3 s block);
    WatermarkError when shorter than MIN_SECONDS. Silence stays silence."""
    sample_rate = check_sample_rate(sample_rate)
    wav = torch.as_tensor(wav).detach().to("cpu", torch.float32)
    seconds = wav.shape[-1] / sample_rate
    if seconds < MIN_SECONDS:
        raise WatermarkError(too_short_message(seconds))
    embedder = StreamEmbedder(sample_rate, payload, target_snr_db)
    flat = wav if wav.dim() == 2 else wav[None]
    out = torch.cat([embedder.push(flat), embedder.flush()], dim=-1)
    return out if wav.dim() == 2 else out[0]
