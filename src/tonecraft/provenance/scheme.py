"""The watermark: keyed spread-spectrum patchwork on STFT magnitudes, no training, public key.

Scheme (why each choice is there):
- Work at 16 kHz mono (`RATE`) on the band 312-5937 Hz: it survives resampling to 16 kHz, MP3/Ogg/Opus
  (which keep that band) and stereo -> mono; the watermark is computed there and its residual is resampled
  back to the file's rate and added to every channel, so the rest of the audio is untouched.
- STFT 512 / hop 256. The band is cut into tiles of 2 bins x 2 frames (62.5 Hz x 32 ms: a misalignment of
  half a tile, or a 1 % speed change inside one period, costs little). Each tile gets a keyed random chip
  (+-1) and belongs either to the sync pattern (1/3 of the tiles) or to one coded payload bit.
- Embedding scales each magnitude by exp(+-delta): the mark is always a fraction of the audio in that tile
  (silent where the audio is silent, unchanged by gain). delta is larger where the band is quiet (up to
  SHAPE_MAX times, `embedder.delta_shape`): such points cost little SNR and count as much for the detector,
  which doubled the score at equal SNR. Its scale is set per 3 s block so that the block's SNR is
  `DEFAULT_SNR_DB` (31 dB), and no point moves by more than MAX_DELTA (+-2.6 dB).
- The pattern repeats every `PERIOD_S` (1.54 s: 48 tile columns), so any crop of >= 1.6 s holds every tile;
  all repetitions are folded together before correlating (a longer file scores higher, ~sqrt(length)).
- Payload: 32 bits + CRC-16, rate-1/2 K=7 convolutional code (108 coded bits, ~27 tiles each), soft Viterbi.
- Detection: log-magnitudes, whitened (minus the mean over +-4 frames per bin and over the band per frame),
  clipped, summed per tile, folded over the period, then correlated with the sync pattern at every
  alignment (2 sample offsets x 2 frame parities x 48 tile shifts). The score is that correlation over its
  standard deviation, ~N(0, 1) on unmarked audio. At the best alignment the payload bits' soft values go
  through Viterbi; a payload counts when its CRC-16 and marker byte check.
- Localisation: the same search on windows of `WINDOW_S` (3.1 s) every half window.
"""
from __future__ import annotations

import numpy as np
import torch

from ..audio import check_finite, resample
from ..errors import AudioError
from . import ecc
from .payload import N_BITS, Payload

RATE = 16_000
N_FFT = 512
HOP = 256
BIN_LO = 10                     # 312.5 Hz
TILE_BINS = 2
TILE_FRAMES = 2
TILE_ROWS = 90                  # 180 bins: up to 5937 Hz
TILE_COLS = 48                  # one period: 48 x 2 frames x 256 samples = 24576 samples = 1.536 s
N_BINS = TILE_ROWS * TILE_BINS
PERIOD_FRAMES = TILE_COLS * TILE_FRAMES
PERIOD_S = PERIOD_FRAMES * HOP / RATE
SYNC_SHARE = 1 / 3
KEY = 0x70C3_C4AF               # public: anyone can detect (and, knowing this, remove) the mark
MAX_DELTA = 0.3                 # at most +-2.6 dB on any point
SHAPE_MAX = 16.0
SHAPE_GAMMA = 0.5
FLOOR_DB = -45.0
DEFAULT_SNR_DB = 31.0
N_CODED = ecc.coded_length(N_BITS + ecc.CRC_BITS)
MIN_SECONDS = 1.6               # shortest audio that holds one full period (after alignment slack)
WINDOW_S = 2 * PERIOD_S + 0.03  # localisation window
THRESHOLD = 5.0                 # score for "watermarked" (see bench/watermark.py for the false positives)
PAYLOAD_THRESHOLD = 4.0         # a lower score is enough when the payload's CRC and marker check


def _pattern():
    rng = np.random.default_rng(KEY)
    chips = rng.choice(np.array([-1.0, 1.0]), size=(TILE_ROWS, TILE_COLS))
    order = rng.permutation(TILE_ROWS * TILE_COLS)
    n_sync = int(round(SYNC_SHARE * order.size))
    owner = np.empty(order.size, dtype=np.int64)
    owner[order[:n_sync]] = -1                              # -1: sync tile
    owner[order[n_sync:]] = np.arange(order.size - n_sync) % N_CODED   # coded bit index
    return chips, owner.reshape(TILE_ROWS, TILE_COLS)


CHIPS, OWNER = _pattern()
SYNC = np.where(OWNER < 0, CHIPS, 0.0)


def tile_signs(payload: Payload) -> np.ndarray:
    """+-1 per tile of one period: the chip times the symbol (+1 for sync, +-1 for the coded bit)."""
    info = payload.bits()
    coded = ecc.encode(np.concatenate([info, ecc.crc16(info)])).astype(np.float64) * 2 - 1
    return CHIPS * np.where(OWNER < 0, 1.0, coded[np.maximum(OWNER, 0)])


def _window() -> torch.Tensor:
    return torch.hann_window(N_FFT, dtype=torch.float64)


def stft(x: np.ndarray) -> torch.Tensor:
    return torch.stft(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)), N_FFT, HOP, window=_window(),
                      center=True, return_complex=True)


def istft(spec: torch.Tensor, length: int) -> np.ndarray:
    return torch.istft(spec, N_FFT, HOP, window=_window(), center=True, length=length).numpy()


def as_audio(wav: torch.Tensor) -> torch.Tensor:
    """[C, T] float32 on the CPU from [C, T] or [T]; AudioError for other shapes or NaN/Inf."""
    wav = torch.as_tensor(wav).detach().to("cpu", torch.float32)
    if wav.dim() == 1:
        wav = wav[None]
    if wav.dim() != 2:
        raise AudioError(f"expected audio shaped [channels, samples], got {tuple(wav.shape)}")
    check_finite(wav)
    return wav


def mono16(wav: torch.Tensor, sample_rate: int) -> np.ndarray:
    return resample(as_audio(wav).mean(0), sample_rate, RATE).double().numpy()


class WatermarkError(AudioError):
    """Audio that cannot carry (or be searched for) the watermark: too short."""


def too_short_message(seconds: float) -> str:
    return (f"{seconds:.2f} s of audio is too short for the watermark: it needs at least {MIN_SECONDS:g} s "
            f"(one {PERIOD_S:.2f} s period)")


