"""Assembling a loop from decoded audio: the blend at the seam, the exact length (a windowed-sinc resampler
that streams) and a start on a zero crossing. One code path for the whole loop and the streamed one, so
the two are identical (`LoopAssembler`; `assemble_loop` is the one-shot call)."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .loop_audio import crossfade

_TAPS_HALF = 32  # windowed-sinc kernel: 64 taps, Kaiser beta 8.6 (> 80 dB stop band)
_BETA = 8.6


def _kernel(frac: np.ndarray) -> np.ndarray:
    """[n] fractional offsets -> [n, 64] weights of inputs i0 - 31 .. i0 + 32."""
    k = np.arange(-_TAPS_HALF + 1, _TAPS_HALF + 1)
    t = frac[:, None] - k[None, :]
    window = np.i0(_BETA * np.sqrt(np.clip(1 - (t / _TAPS_HALF) ** 2, 0, 1))) / np.i0(_BETA)
    return np.sinc(t) * window


class Stretch:
    """Resample a loop of `n_in` samples to exactly `length` ([C, ...] chunks in, chunks out). Output n reads
    input position n * n_in / length through a 64-tap windowed sinc; `before` [C, 32] are the samples ahead of
    input 0 and `finish(after)` gives the 32 after the last one (for a loop: its own end and start), so the
    seam is resampled like any other place. n_in == length is the identity, bit for bit."""

    def __init__(self, n_in: int, length: int, before: np.ndarray):
        self.n_in, self.length, self.ratio = n_in, length, n_in / length
        self.buf = np.asarray(before, np.float64)[:, -_TAPS_HALF:]  # inputs from index `self.base`
        self.base = -self.buf.shape[1]
        self.done = 0  # outputs produced

    def _produce(self, available_end: int) -> np.ndarray:
        """Every output whose kernel lies below input `available_end`."""
        last = min(self.length, int(math.floor((available_end - _TAPS_HALF - 1) / self.ratio)) + 1)
        if self.n_in == self.length:
            last = min(self.length, available_end)
        outs = []
        while self.done < last:
            n = np.arange(self.done, min(last, self.done + 16384))
            pos = n * self.ratio
            i0 = np.floor(pos).astype(np.int64)
            frac = pos - i0
            if self.n_in == self.length:
                outs.append(self.buf[:, i0 - self.base])
            else:
                idx = i0[:, None] + np.arange(-_TAPS_HALF + 1, _TAPS_HALF + 1)[None, :] - self.base
                outs.append(np.einsum("cnk,nk->cn", self.buf[:, idx], _kernel(frac)))
            self.done = int(n[-1]) + 1
        keep_from = int(math.floor(self.done * self.ratio)) - _TAPS_HALF - self.base
        if keep_from > 0:
            self.buf, self.base = self.buf[:, keep_from:], self.base + keep_from
        return np.concatenate(outs, axis=1) if outs else np.zeros((self.buf.shape[0], 0))

    def push(self, x: np.ndarray) -> np.ndarray:
        self.buf = np.concatenate([self.buf, np.asarray(x, np.float64)], axis=1)
        return self._produce(self.base + self.buf.shape[1])

    def finish(self, after: np.ndarray) -> np.ndarray:
        out = self.push(np.asarray(after, np.float64)[:, :_TAPS_HALF])
        if self.done < self.length:  # never more than a sample or two (kernel edge)
            out = np.concatenate([out, self._produce(self.base + self.buf.shape[1] + 2 * _TAPS_HALF)], axis=1)
        return out


class LoopAssembler:
    """Decoded audio of the whole take (lead-in, loop, what follows) in, the finished loop out, in order:

    - the loop is input samples [start, end); its last `fade` samples blend (constant power) into the `fade`
      samples before `start` (the lead-in, which flows into the start), so the last sample leads into the
      first one sample for sample;
    - resampled (`Stretch`) from end - start to exactly `length` samples;
    - rotated forward by at most `radius` samples so it begins on a rising zero crossing (the skipped
      samples are played at the end: the loop is circular).
    `push` takes consecutive chunks from sample 0 and returns what is final; `finish` returns the rest. The
    same code makes the one-shot loop and the streamed one, so both are identical."""

    def __init__(self, start: int, end: int, length: int, fade: int, radius: int, channels: int):
        self.keep = max(fade, _TAPS_HALF)
        if start < self.keep or end - start < max(2 * fade, 2 * _TAPS_HALF):
            raise ConfigError("a loop needs a lead-in (preroll) and a body longer than its crossfades")
        self.start, self.end, self.length, self.fade, self.radius = start, end, length, fade, radius
        empty = np.zeros((channels, 0))
        self.pos = 0  # input samples seen
        self.loop_pos = 0  # loop samples seen
        self.pending = empty  # the last `keep` samples before the start, until it is reached
        self.lead_in = None
        self.first, self.tail = empty, empty  # the loop's first samples; its last `fade` ones
        self.stretch: Stretch | None = None
        self.tail_done = False
        self.held = empty  # stretched samples held until the rotation is known
        self.shift: int | None = None
        self.skipped = empty

    def _emit(self, y: np.ndarray) -> np.ndarray:
        if self.shift is not None:
            return y
        self.held = np.concatenate([self.held, y], axis=1)
        if self.held.shape[1] < self.radius + 2 and self.stretch.done < self.length:
            return y[:, :0]
        x = self.held.mean(axis=0)
        rising = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0] + 1
        self.shift = int(rising[0]) if rising.size and rising[0] <= self.radius else 0
        out, self.skipped = self.held[:, self.shift:], self.held[:, :self.shift]
        self.held = None
        return out

    def push(self, x) -> np.ndarray:
        x = np.asarray(x, np.float64)
        lo = self.pos
        self.pos += x.shape[1]
        if self.tail_done:
            return x[:, :0]
        if self.lead_in is None:
            whole, whole_lo = np.concatenate([self.pending, x], axis=1), lo - self.pending.shape[1]
            if self.pos <= self.start:
                self.pending = whole[:, -self.keep:]
                return x[:, :0]
            at = self.start - whole_lo
            self.lead_in = whole[:, at - self.keep:at]
            self.stretch = Stretch(self.end - self.start, self.length, self.lead_in)
            x, self.pending = whole[:, at:], None
        loop_len = self.end - self.start
        x = x[:, :max(0, loop_len - self.loop_pos)]  # nothing after the loop's end
        first = self.loop_pos
        self.loop_pos += x.shape[1]
        if self.first.shape[1] < _TAPS_HALF:
            self.first = np.concatenate([self.first, x[:, :_TAPS_HALF - self.first.shape[1]]], axis=1)
        n_body = int(np.clip(loop_len - self.fade - first, 0, x.shape[1]))
        y = self.stretch.push(x[:, :n_body])
        self.tail = np.concatenate([self.tail, x[:, n_body:]], axis=1)
        if self.loop_pos == loop_len:
            if self.fade:
                blend = crossfade(torch.from_numpy(self.tail), torch.from_numpy(self.lead_in[:, -self.fade:]),
                                  from_start=False).numpy()
                y = np.concatenate([y, self.stretch.push(blend)], axis=1)
            self.tail_done = True
        return self._emit(y)

    def finish(self) -> np.ndarray:
        if not self.tail_done:
            raise ConfigError("the decoded take ended before the loop's end")
        y = self._emit(self.stretch.finish(self.first))
        return np.concatenate([y, self.skipped], axis=1)


def assemble_loop(audio, start: int, end: int, length: int, fade: int, radius: int, blend: str = "tail"
                  ) -> torch.Tensor:
    """The finished loop [C, length] of decoded audio [C, T] in one go (`LoopAssembler`).

    blend "tail" (what streaming can do): the loop's end blends into the lead-in before its start.
    blend "head" (needs the audio after the loop's end, [end, end + fade)): the loop's first `fade` samples
    blend from the rendering that follows the end into the original start. When that rendering is of the
    same tokens as the start (the loop's start tokens decoded after its ending), the two parts are nearly
    identical, so the blend is inaudible: the better seam, used for whole loops."""
    x = audio.detach().cpu().double().numpy()
    if blend == "head":
        if end + fade > x.shape[1] or start < _TAPS_HALF:
            raise ConfigError("a head blend needs the audio after the loop's end and a lead-in")
        x = x.copy()
        x[:, start:start + fade] = crossfade(torch.from_numpy(x[:, end:end + fade]),
                                             torch.from_numpy(x[:, start:start + fade])).numpy()
        x[:, start - _TAPS_HALF:start] = x[:, end - _TAPS_HALF:end]  # what precedes the start is now the end
        fade = 0
    elif blend != "tail":
        raise ConfigError(f"blend must be 'head' or 'tail', got {blend!r}")
    asm = LoopAssembler(start, end, length, fade, radius, x.shape[0])
    out = np.concatenate([asm.push(x), asm.finish()], axis=1)
    return torch.from_numpy(out).to(audio.dtype)
