"""Time-stretching a loop to an exact length without changing its pitch (WSOLA), kept seamless.

Why: an LM follows an asked tempo only roughly (the default model plays 90 bpm as 86-97 bpm). A loop cut at
the asked bar length then holds a fraction of a bar too much or too little music, and its seam falls off the
music's bar line. Cutting whole bars at the tempo the music has and stretching those bars to the asked length
fixes both, as a DAW's warp does. The stretch is waveform-similarity overlap-add (WSOLA): every output frame
is a window of the input near its nominal position, shifted by up to `tolerance` so it continues the previous
frame's waveform. Plain time-domain copying keeps attacks and timbre; for the few-percent changes a loop needs,
it is transparent on most music (a phase vocoder smears transients and adds phasiness at any ratio).
`cyclic_stretch` stretches three copies of a loop end to end and keeps the middle one, so the audio around the
seam is stretched like the rest, then blends the loop's first milliseconds from the stretched continuation of
its end, so the wrap is sample-continuous.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError

FRAME_S = 0.040  # analysis window: long enough to hold a low note's period, short enough to follow attacks
TOLERANCE_S = 0.010  # how far a frame may shift to continue the previous one
DECIMATE = 4  # the shift is searched on a 4x decimated mono signal, then refined at full rate


def _best_shift(ref: np.ndarray, region: np.ndarray) -> int:
    """Offset of `region` (len(ref) + 2 t) where a window of len(ref) correlates best with `ref` (normalised)."""
    n = ref.size
    corr = np.correlate(region, ref, mode="valid")
    energy = np.convolve(region * region, np.ones(n), mode="valid")
    score = corr / np.sqrt(np.maximum(energy, 1e-12))
    return int(np.argmax(score))


def wsola(wav: torch.Tensor, length: int, sample_rate: int) -> torch.Tensor:
    """Audio [C, L] -> [C, length], the same pitch, played `length / L` times as long."""
    if wav.dim() != 2 or wav.shape[-1] < 2:
        raise ConfigError(f"expected audio [channels, samples] with samples >= 2, got {tuple(wav.shape)}")
    if length < 1:
        raise ConfigError(f"the stretched length must be >= 1 sample, got {length}")
    x = wav.detach().to(torch.float64).cpu().numpy()
    n_in = x.shape[-1]
    frame = max(8, 2 * int(round(FRAME_S * sample_rate / 2)))
    hop = frame // 2
    tol = max(DECIMATE, int(round(TOLERANCE_S * sample_rate)))
    rate = n_in / length  # input samples per output sample
    window = np.hanning(frame + 1)[:frame]  # periodic Hann: overlapping at half a frame it sums to 1
    pad = tol + frame
    xp = np.pad(x, ((0, 0), (pad, pad + frame)))
    ref_sig = xp.mean(axis=0)
    out = np.zeros((x.shape[0], length + frame))
    norm = np.zeros(length + frame)
    prev = None  # input position (in xp) of the previous frame
    for k in range(int(math.ceil(length / hop)) + 1):
        nominal = pad + int(round(k * hop * rate)) - hop  # frame k is centred on output k*hop <- input k*hop*rate
        if prev is None:
            pos = nominal
        else:
            target = ref_sig[prev + hop:prev + hop + frame]  # what naturally follows the previous frame
            lo = max(0, nominal - tol)
            hi = min(xp.shape[-1] - frame, nominal + tol)
            if hi <= lo:
                pos = nominal
            else:
                coarse_ref = target[::DECIMATE]
                coarse_region = ref_sig[lo:hi + frame][::DECIMATE]
                c = _best_shift(coarse_ref, coarse_region) * DECIMATE + lo
                a, b = max(lo, c - DECIMATE), min(hi, c + DECIMATE)
                pos = a + _best_shift(target, ref_sig[a:b + frame])
        start = k * hop - hop
        o0, o1 = max(0, start), min(length + frame, start + frame)
        if o1 > o0:
            out[:, o0:o1] += xp[:, pos + o0 - start:pos + o1 - start] * window[o0 - start:o1 - start]
            norm[o0:o1] += window[o0 - start:o1 - start]
        prev = pos
    out = out[:, :length] / np.maximum(norm[:length], 1e-3)
    return torch.from_numpy(out).to(wav.dtype)


def cyclic_stretch(loop: torch.Tensor, length: int, sample_rate: int, fade: int = 0) -> torch.Tensor:
    """A seamless loop [C, L] -> a seamless loop [C, length] of the same music at a new tempo. The first
    `fade` samples blend from the stretched continuation of the loop's end into its own start."""
    from .loop_audio import crossfade

    n = loop.shape[-1]
    if length == n:
        return loop.clone()
    tiled = torch.cat([loop, loop, loop], dim=-1)
    y = wsola(tiled, 3 * length, sample_rate)
    out = y[:, length:2 * length].clone()
    fade = max(0, min(fade, length))
    if fade:
        out[:, :fade] = crossfade(y[:, 2 * length:2 * length + fade], out[:, :fade], from_start=True)
    return out
