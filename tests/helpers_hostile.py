"""Builders of hostile input files shared by the unit tests and the fault suite (`tests/faults/`)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def tone(seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def good_wav(path, seconds: float = 1.0, sr: int = SR) -> Path:
    sf.write(path, tone(seconds, sr), sr, subtype="PCM_16")
    return Path(path)


def truncated_wav(path) -> Path:
    """Header declares 1 s of 16-bit mono, the data chunk holds 0.5 s."""
    good_wav(path)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: 44 + SR])
    return Path(path)


def truncated_aiff(path) -> Path:
    """An AIFF cut in half: its COMM and SSND chunks declare 1 s, the file holds about 0.5 s."""
    sf.write(path, tone(), SR, format="AIFF", subtype="PCM_16")
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    return Path(path)


def huge_flac(path) -> Path:
    """A valid 1 s FLAC whose STREAMINFO claims 2^36 - 1 samples (a naive reader allocates 256 GiB)."""
    sf.write(path, tone(), SR, format="FLAC")
    b = bytearray(Path(path).read_bytes())
    field = int.from_bytes(b[18:26], "big")  # STREAMINFO bytes 10..17: rate, channels, bps, total samples
    b[18:26] = (field | ((1 << 36) - 1)).to_bytes(8, "big")
    Path(path).write_bytes(bytes(b))
    return Path(path)


def truncated_flac(path) -> Path:
    sf.write(path, tone(), SR, format="FLAC")
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    return Path(path)


def wav_with_rate(path, rate: int) -> Path:
    """A WAV whose header states `rate` Hz (1 Hz, 10 MHz ...), patched after writing."""
    good_wav(path)
    b = bytearray(Path(path).read_bytes())
    b[24:28] = rate.to_bytes(4, "little")
    b[28:32] = (rate * 2).to_bytes(4, "little")
    Path(path).write_bytes(bytes(b))
    return Path(path)


def nan_wav(path) -> Path:
    x = tone()
    x[100] = np.nan
    x[200] = np.inf
    sf.write(path, x, SR, subtype="FLOAT")
    return Path(path)


def random_bytes(path, n: int = 5000, seed: int = 0) -> Path:
    Path(path).write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return Path(path)


def fifo(path) -> Path:
    os.mkfifo(path)
    return Path(path)


def symlink_loop(path) -> Path:
    os.symlink(Path(path).name, path)
    return Path(path)
