"""Finding the watermark (see `scheme` for the method): score, payload, and where in the file."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..audio import check_sample_rate, resample
from . import ecc
from .payload import N_BITS, Payload
from .scheme import (BIN_LO, CHIPS, HOP, MIN_SECONDS, N_BINS, N_CODED, OWNER, PAYLOAD_THRESHOLD, RATE, SYNC,
                     THRESHOLD, TILE_BINS, TILE_COLS, TILE_FRAMES, TILE_ROWS, WINDOW_S, mono16, stft,
                     too_short_message)

def _whitened(x16: np.ndarray, offset: int) -> np.ndarray:
    """Whitened, clipped log-magnitudes [N_BINS, frames] of the band, frames starting at sample `offset`."""
    spec = stft(x16[offset:])
    power = spec[BIN_LO:BIN_LO + N_BINS].abs().pow(2).numpy()
    frame_power = power.mean(0)
    loud = frame_power > max(frame_power.max(), 1e-20) * 1e-6
    logp = np.log(power + 1e-12)
    kernel = np.ones(9) / 9
    padded = np.pad(logp, ((0, 0), (4, 4)), mode="edge")
    smooth = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), 1, padded)
    w = logp - smooth
    w -= w.mean(0, keepdims=True)
    w[:, ~loud] = 0.0
    scale = np.sqrt(np.mean(w[:, loud] ** 2)) if loud.any() else 1.0
    return np.clip(w / max(scale, 1e-9), -2.5, 2.5)


def _tiles(w: np.ndarray, parity: int) -> np.ndarray:
    """Sum [N_BINS, frames] into tiles [TILE_ROWS, n] starting at frame `parity`."""
    n = (w.shape[1] - parity) // TILE_FRAMES
    t = w[:, parity:parity + n * TILE_FRAMES].reshape(TILE_ROWS, TILE_BINS, n, TILE_FRAMES)
    return t.sum(axis=(1, 3))


@dataclass
class Alignment:
    score: float
    offset: int          # sample offset at 16 kHz of the first analysed frame
    parity: int          # frame parity of the tile grid
    shift: int           # tile column of the period where the analysed tiles start
    folded: np.ndarray = field(repr=False)   # [TILE_ROWS, TILE_COLS] folded tile sums (period coordinates)


def _fold(tiles: np.ndarray) -> np.ndarray:
    n = tiles.shape[1]
    out = np.zeros((TILE_ROWS, TILE_COLS))
    for m in range(min(n, TILE_COLS)):
        out[:, m] = tiles[:, m::TILE_COLS].sum(1)
    return out


def _search(tile_sets: list[tuple[int, int, np.ndarray]]) -> Alignment | None:
    """Best alignment of the sync pattern over (offset, parity) tile sets and every period shift."""
    best = None
    sync_abs = np.abs(SYNC)
    for offset, parity, tiles in tile_sets:
        if tiles.shape[1] < TILE_COLS:
            continue
        folded = _fold(tiles)
        for shift in range(TILE_COLS):
            # analysed column m sits at period column (m + shift) % TILE_COLS
            aligned = np.roll(folded, shift, axis=1)
            num = float((aligned * SYNC).sum())
            den = float(np.sqrt((aligned ** 2 * sync_abs).sum()))
            score = num / den if den > 0 else 0.0
            if best is None or score > best.score:
                best = Alignment(score, offset, parity, shift, aligned)
    return best


def decode_payload(aligned: np.ndarray) -> Payload | None:
    """Viterbi over the coded bits' soft values at an alignment; None unless CRC-16 and marker check."""
    soft = np.zeros(N_CODED)
    np.add.at(soft, OWNER[OWNER >= 0], (aligned * CHIPS)[OWNER >= 0])
    bits = ecc.viterbi(soft, N_BITS + ecc.CRC_BITS)
    info, crc = bits[:N_BITS], bits[N_BITS:]
    if not np.array_equal(ecc.crc16(info), crc):
        return None
    payload = Payload.from_bits(info)
    return payload if payload.is_tonecraft else None


@dataclass
class Window:
    start: float
    end: float
    score: float
    watermarked: bool


@dataclass
class Detection:
    """What `detect` found: `watermarked`, the `score` (~N(0,1) on unmarked audio), the decoded `payload`
    (None when it did not check), the windows searched one by one, and a `message` when nothing could be
    searched (too short, silent)."""

    watermarked: bool
    score: float
    payload: Payload | None
    windows: list[Window]
    seconds: float
    message: str | None = None
    speed: float = 1.0          # the playback speed change the mark was found at (1.0: none)

    def as_dict(self) -> dict:
        return {"watermarked": self.watermarked, "score": round(self.score, 2), "speed": self.speed,
                "payload": self.payload.describe() if self.payload else None,
                "windows": [vars(w) | {"score": round(w.score, 2)} for w in self.windows],
                "seconds": round(self.seconds, 3), "message": self.message}


def _analyse(whitened: dict[int, np.ndarray], start: int, stop: int) -> Alignment | None:
    """Search frames [start, stop) of each offset's whitened spectrogram."""
    sets = []
    for offset, w in whitened.items():
        part = w[:, start:stop]
        for parity in range(TILE_FRAMES):
            sets.append((offset, parity, _tiles(part, parity)))
    return _search(sets)


SPEEDS = (1.0, 1.01, 0.99, 1.02, 0.98)  # playback speed changes searched (each shifts pitch and tempo)


def _decide(al: Alignment | None) -> tuple[bool, Payload | None]:
    if al is None:
        return False, None
    payload = decode_payload(al.folded) if al.score >= PAYLOAD_THRESHOLD else None
    return al.score >= THRESHOLD or payload is not None, payload


def detect(wav: torch.Tensor, sample_rate: int, windows: bool = True) -> Detection:
    """Search `wav` [C, T] (any rate, any length) for the watermark. Never raises for short or silent audio:
    the Detection says why nothing was found."""
    sample_rate = check_sample_rate(sample_rate)
    x16 = mono16(wav, sample_rate)
    seconds = x16.shape[0] / RATE
    if seconds < MIN_SECONDS:
        return Detection(False, 0.0, None, [], seconds, too_short_message(seconds))
    if not np.any(np.abs(x16) > 1e-6):
        return Detection(False, 0.0, None, [], seconds, "silent: silence cannot carry the watermark")
    chosen = None
    for speed in SPEEDS:  # the file as is first; other speeds unless that found the mark and its payload
        # audio played `speed` times faster is undone by resampling it to `speed` times more samples
        x = x16 if speed == 1.0 else resample(torch.from_numpy(x16), RATE, round(RATE * speed)).double().numpy()
        whitened = {off: _whitened(x, off) for off in (0, HOP // 2)}
        n_frames = min(w.shape[1] for w in whitened.values())
        best = _analyse(whitened, 0, n_frames)
        found, payload = _decide(best)
        rank = (found, payload is not None, best.score if best else 0.0)
        if chosen is None or (found and rank > chosen[0]):
            chosen = (rank, speed, whitened, n_frames, best, found, payload)
        if found and payload is not None:
            break
    _, speed, whitened, n_frames, best, found, payload = chosen
    score = best.score if best else 0.0
    out_windows = []
    win = int(round(WINDOW_S * RATE / HOP))
    if windows and n_frames > win + win // 2:
        starts = list(range(0, n_frames - win + 1, win // 2))
        if starts[-1] < n_frames - win:  # the last window ends with the file
            starts.append(n_frames - win)
        for start in starts:
            al = _analyse(whitened, start, start + win)
            ok, p = _decide(al)
            out_windows.append(Window(round(start * HOP / RATE / speed, 3),
                                      round((start + win) * HOP / RATE / speed, 3), al.score if al else 0.0, ok))
            if ok and not found:
                found, score, payload = True, al.score, p
            elif ok and payload is None:
                payload = p
    elif windows:
        out_windows.append(Window(0.0, round(seconds, 3), score, found))
    return Detection(found, score, payload, out_windows, seconds, speed=speed)
