"""Audio file I/O, resampling and channel conversion.

Reading and writing go through `soundfile` (libsndfile: wav, flac, ogg/vorbis, opus, mp3, aiff ...),
resampling through `soxr`. Every failure a user can cause is turned into an `AudioError` with a
message naming the file and the problem, never a raw backend traceback.

Waveforms are float32 torch tensors shaped [channels, samples] with values nominally in [-1, 1].
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from .errors import AudioError, UnsupportedFormatError

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
MAX_CHANNELS = 64


def _umask_file_mode() -> int:
    mask = os.umask(0o022)  # read once, at import (os.umask has no read-only form)
    os.umask(mask)
    return 0o666 & ~mask


NEW_FILE_MODE = _umask_file_mode()  # what open() would give a new file; atomic writes chmod their temp file to it


# Extension -> (soundfile format, default subtype). Ogg/Opus needs 48 kHz-family rates.
_WRITE_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".aiff": ("AIFF", "PCM_16"),
    ".aif": ("AIFF", "PCM_16"),
}
_SUBTYPES = {"pcm16": "PCM_16", "pcm24": "PCM_24", "float": "FLOAT"}
# libsndfile crashes on very long single Ogg/MP3 writes: feed compressed formats in blocks.
_WRITE_BLOCK_SECONDS = 5.0


def check_sample_rate(sample_rate: int, what: str = "sample rate") -> int:
    """Reject sample rates no real audio has (0, negative, 10 Hz, 10 MHz)."""
    if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool):
        if isinstance(sample_rate, float) and sample_rate.is_integer():
            sample_rate = int(sample_rate)
        else:
            raise AudioError(f"{what} must be an integer number of Hz, got {sample_rate!r}")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{what} {sample_rate} Hz is outside the supported range "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
        )
    return int(sample_rate)


def check_finite(wav: torch.Tensor, what: str = "audio") -> None:
    if not torch.isfinite(wav).all():
        raise AudioError(f"{what} contains NaN or infinite samples")


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file (sample rate, channels, frames, duration) without decoding it."""
    path = _existing_file(path)
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _read_error(path, exc) from None


def load_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    channels: int | None = None,
    offset: float = 0.0,
    duration: float | None = None,
) -> tuple[torch.Tensor, int]:
    """Read an audio file as float32 [C, T].

    `offset`/`duration` are in seconds of the file's own timeline. With `sample_rate` the audio is
    resampled; with `channels` it is converted (mono average / mono duplicate, see
    `convert_channels`). Returns (wav, sample_rate).
    """
    path = _existing_file(path)
    if offset < 0:
        raise AudioError(f"offset must be >= 0 seconds, got {offset}")
    if duration is not None and duration <= 0:
        raise AudioError(f"duration must be > 0 seconds, got {duration}")
    try:
        with sf.SoundFile(str(path)) as f:
            file_sr = f.samplerate
            check_sample_rate(file_sr, f"{path}: sample rate")
            start = int(round(offset * file_sr))
            frames = -1 if duration is None else int(round(duration * file_sr))
            if f.seekable() and start > 0:
                if f.frames > 0 and start >= f.frames:
                    raise AudioError(
                        f"{path}: offset {offset:.3f} s is past the end of the file "
                        f"({f.frames / file_sr:.3f} s)"
                    )
                f.seek(start)
            elif start > 0:
                f.read(start, dtype="float32", always_2d=True)
            data = f.read(frames, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise _read_error(path, exc) from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file contains no audio samples")
    wav = torch.from_numpy(np.ascontiguousarray(data.T))
    check_finite(wav, str(path))
    if sample_rate is not None:
        wav = resample(wav, file_sr, sample_rate)
        file_sr = sample_rate
    if channels is not None:
        wav = convert_channels(wav, channels)
    return wav, file_sr


def save_audio(
    path: str | os.PathLike,
    wav: torch.Tensor | np.ndarray,
    sample_rate: int,
    normalize: str = "peak",
    peak_headroom_db: float = 1.0,
    loudness_headroom_db: float = 14.0,
    subtype: str | None = None,
) -> Path:
    """Write [C, T] (or [T]) audio atomically; the format follows the file extension.

    normalize:
      'peak'     -- scale so the peak sits `peak_headroom_db` below full scale (never boosts silence);
      'loudness' -- scale to an integrated loudness of -`loudness_headroom_db` LUFS (ITU-R BS.1770-4,
                    via pyloudnorm), then soft-clip peaks with tanh (see `normalize_audio`);
      'none'     -- write as is, clipping to [-1, 1] for integer formats.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _WRITE_FORMATS:
        raise UnsupportedFormatError(
            f"{path}: cannot write '{ext or 'no extension'}' files; "
            f"use one of {', '.join(sorted(_WRITE_FORMATS))}"
        )
    sample_rate = check_sample_rate(sample_rate)
    wav = torch.as_tensor(wav).detach().to("cpu", torch.float32)
    if wav.dim() == 1:
        wav = wav[None]
    if wav.dim() != 2 or wav.shape[0] > MAX_CHANNELS:
        raise AudioError(f"expected audio shaped [channels, samples], got {tuple(wav.shape)}")
    if wav.shape[-1] == 0:
        raise AudioError("refusing to write an empty (zero-length) audio file")
    check_finite(wav)
    wav = normalize_audio(wav, normalize, peak_headroom_db, loudness_headroom_db, sample_rate=sample_rate)
    fmt, default_subtype = _WRITE_FORMATS[ext]
    subtype = _SUBTYPES.get(subtype, subtype) if subtype else default_subtype
    if fmt == "OGG" and default_subtype == "OPUS" and sample_rate not in (8000, 12000, 16000, 24000, 48000):
        raise AudioError(f"Opus files need a rate of 8/12/16/24/48 kHz, got {sample_rate} Hz")
    data = wav.clamp(-1, 1).numpy().T if subtype != "FLOAT" else wav.numpy().T
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=ext, dir=path.parent)
    os.close(fd)
    try:
        with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=data.shape[1], format=fmt, subtype=subtype) as f:
            block = data.shape[0] if fmt in ("WAV", "FLAC", "AIFF") else int(_WRITE_BLOCK_SECONDS * sample_rate)
            for start in range(0, data.shape[0], block):
                f.write(np.ascontiguousarray(data[start : start + block]))
        os.chmod(tmp, NEW_FILE_MODE)  # mkstemp makes 0600; an output file gets the usual umask mode
        os.replace(tmp, path)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"{path}: could not write audio ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _loudness_db(wav: torch.Tensor, sample_rate: int) -> float:
    """Integrated loudness of [C, T] audio in LUFS; where BS.1770 cannot measure (shorter than one 0.4 s
    gating block, more than 5 channels) the RMS level in dBFS. -inf for silence."""
    import pyloudnorm  # lazy: pulls in scipy.signal (~0.6 s), only needed here

    try:
        return pyloudnorm.Meter(sample_rate).integrated_loudness(wav.detach().cpu().double().numpy().T)
    except ValueError:
        rms = wav.pow(2).mean().sqrt().item()
        return 20 * np.log10(rms) if rms >= 1e-8 else -np.inf


def normalize_audio(
    wav: torch.Tensor,
    strategy: str = "peak",
    peak_headroom_db: float = 1.0,
    loudness_headroom_db: float = 14.0,
    *,
    sample_rate: int | None = None,
) -> torch.Tensor:
    """Output normalisation of [C, T] audio (as audiocraft's `audio_write` strategies).

    'loudness' measures integrated loudness (ITU-R BS.1770-4 LUFS, `pyloudnorm`) at `sample_rate`,
    gains to -`loudness_headroom_db` LUFS, then applies a tanh 'compressor' that soft-clips peaks
    into (-1, 1). BS.1770 needs at least one 0.4 s block and at most 5 channels: outside that it falls
    back to an RMS of -`loudness_headroom_db` dBFS. Silence (-inf LUFS, i.e. under the -70 LUFS
    absolute gate) is returned unchanged.
    """
    if strategy == "none":
        return wav
    if strategy == "peak":
        peak = wav.abs().max()
        if peak < 1e-8:
            return wav
        return wav * (10 ** (-peak_headroom_db / 20) / peak)
    if strategy == "loudness":
        if sample_rate is None:
            raise AudioError("'loudness' normalisation needs the sample rate (sample_rate=...)")
        level = _loudness_db(wav, sample_rate)
        if np.isneginf(level):
            return wav
        return torch.tanh(wav * float(10 ** ((-loudness_headroom_db - level) / 20)))
    raise AudioError(f"unknown normalisation '{strategy}': use 'peak', 'loudness' or 'none'")


def resample(wav: torch.Tensor, from_rate: int, to_rate: int) -> torch.Tensor:
    """High-quality resampling of [..., T] audio with soxr (VHQ)."""
    from_rate = check_sample_rate(from_rate, "source sample rate")
    to_rate = check_sample_rate(to_rate, "target sample rate")
    if from_rate == to_rate:
        return wav
    shape = wav.shape
    flat = wav.detach().to("cpu", torch.float32).reshape(-1, shape[-1]).numpy().T
    out = soxr.resample(np.ascontiguousarray(flat), from_rate, to_rate, quality="VHQ")
    out = torch.from_numpy(np.ascontiguousarray(out.T if out.ndim == 2 else out[None]))
    return out.reshape(*shape[:-1], out.shape[-1]).to(wav.dtype)


def convert_channels(wav: torch.Tensor, channels: int) -> torch.Tensor:
    """[C, T] or [B, C, T] -> same with `channels` channels.

    Mono target: average of the channels. Mono source: duplicated. Any other mismatch
    (e.g. 6 -> 2) is ambiguous and refused rather than guessed.
    """
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"channel count must be between 1 and {MAX_CHANNELS}, got {channels}")
    have = wav.shape[-2]
    if have == channels:
        return wav
    if channels == 1:
        return wav.mean(dim=-2, keepdim=True)
    if have == 1:
        return wav.expand(*wav.shape[:-2], channels, wav.shape[-1]).contiguous()
    raise AudioError(f"cannot convert {have}-channel audio to {channels} channels")


def convert_audio(wav: torch.Tensor, from_rate: int, to_rate: int, to_channels: int) -> torch.Tensor:
    """Resample and remix in one call (the common 'make this fit the model' step)."""
    return convert_channels(resample(wav, from_rate, to_rate), to_channels)


def _existing_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    return path


def _read_error(path: Path, exc: Exception) -> AudioError:
    msg = str(exc)
    if "Format not recognised" in msg or "unknown format" in msg.lower():
        return UnsupportedFormatError(
            f"{path}: not a readable audio file (unknown or unsupported format; "
            "supported: wav, flac, ogg/vorbis, opus, mp3, aiff)"
        )
    return AudioError(f"{path}: could not read audio, the file may be corrupt or truncated ({msg})")
