"""Audio file I/O, resampling and channel conversion.

Reading and writing go through `soundfile` (libsndfile: wav, flac, ogg/vorbis, opus, mp3, aiff ...),
resampling through `soxr`. Every failure a user can cause is turned into an `AudioError` with a
message naming the file and the problem, never a raw backend traceback.

Waveforms are float32 torch tensors shaped [channels, samples] with values nominally in [-1, 1].
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Mapping

import numpy as np
import soundfile as sf
import soxr
import torch

from .errors import AudioError, UnsupportedFormatError
from .fileio import atomic_path, check_input_file

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
MAX_CHANNELS = 64


# Extension -> (soundfile format, default subtype). Ogg/Opus needs 48 kHz-family rates.
WRITE_FORMATS = {
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


def write_format(path: str | os.PathLike) -> tuple[str, str]:
    """(soundfile format, default subtype) for an output file's extension; UnsupportedFormatError otherwise.
    Callers check this before slow work (generation) so a typo in the output name fails at once."""
    ext = Path(path).suffix.lower()
    if ext not in WRITE_FORMATS:
        raise UnsupportedFormatError(
            f"{path}: cannot write '{ext or 'no extension'}' files; use one of {', '.join(sorted(WRITE_FORMATS))}"
        )
    return WRITE_FORMATS[ext]


_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def check_write_rate(path: str | os.PathLike, sample_rate: int) -> None:
    """Whether `path`'s format can hold audio at `sample_rate` (Ogg/Opus only takes 8/12/16/24/48 kHz);
    callers check before slow work so a 32 kHz model is not run for an .opus file it cannot write."""
    fmt, subtype = write_format(path)
    if fmt == "OGG" and subtype == "OPUS" and sample_rate not in _OPUS_RATES:
        raise AudioError(f"{path}: Opus files need a rate of 8/12/16/24/48 kHz, got {sample_rate} Hz; "
                         "write .ogg, .flac or .wav instead")


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
    """Header of an audio file (sample rate, channels, frames, duration) without decoding it.
    The header is not checked against the data: use `scan_audio` for a length that can be trusted."""
    path = _existing_file(path)
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _read_error(path, exc) from None


def scan_audio(path: str | os.PathLike) -> tuple[int, int, int]:
    """(frames, sample_rate, channels) of a file, by decoding all of it block by block (memory stays
    bounded whatever the header claims): exactly the checks `load_audio` makes (rate, NaN/Inf,
    truncation, decodability), so a file that passes loads."""
    path = _existing_file(path)
    try:
        with sf.SoundFile(str(path)) as f:
            sr = check_sample_rate(f.samplerate, f"{path}: sample rate")
            _check_not_truncated(f, path)
            frames = 0
            for block in _blocks(f, -1):
                check_finite(torch.from_numpy(block), str(path))
                frames += block.shape[0]
            _check_length(f, path, frames)
            channels = f.channels
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise _read_error(path, exc) from None
    if frames == 0:
        raise AudioError(f"{path}: the file contains no audio samples")
    return frames, sr, channels


_READ_BLOCK_FRAMES = 1 << 18  # decode in blocks: an allocation follows the data, never the header's claim
# Formats whose header length is exact (compressed streams such as MP3 only estimate it).
_EXACT_LENGTH_FORMATS = ("WAV", "WAVEX", "FLAC", "AIFF", "W64", "RF64", "CAF", "AU")
# libsndfile's header log: "data : 32000 (should be 16000)" when the data chunk is shorter than declared
# (AIFF's chunk lines are indented: " SSND : 32008 (should be 15981)").
_SHORT_CHUNK = re.compile(r"^[ \t]*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_UNKNOWN_CHUNK_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)  # streaming writers that could not seek back


def _blocks(f: sf.SoundFile, frames: int):
    """Float32 [n, C] blocks of at most _READ_BLOCK_FRAMES, `frames` in all (-1: to the end)."""
    left = frames
    while left != 0:
        n = _READ_BLOCK_FRAMES if left < 0 else min(_READ_BLOCK_FRAMES, left)
        block = f.read(n, dtype="float32", always_2d=True)
        if block.shape[0]:
            yield block
        if block.shape[0] < n:
            return
        left = left - block.shape[0] if left > 0 else left


def _check_not_truncated(f: sf.SoundFile, path: Path) -> None:
    """A WAV/AIFF whose data chunk holds less than its header declares (libsndfile silently reads what
    is there)."""
    m = _SHORT_CHUNK.search(f.extra_info or "")
    if not m:
        return
    declared, present = int(m.group(1)), int(m.group(2))
    frame_bytes = max(1, f.channels * 2)
    if declared not in _UNKNOWN_CHUNK_SIZES and declared - present >= frame_bytes:
        raise AudioError(f"{path}: the file is truncated (its header declares {declared} bytes of audio, "
                         f"the file holds {present})")


def _check_length(f: sf.SoundFile, path: Path, decoded: int) -> None:
    """After decoding to the end: a header that promised more samples than the data held."""
    if f.format in _EXACT_LENGTH_FORMATS and 0 < decoded < f.frames:
        raise AudioError(f"{path}: the file is truncated or corrupt (its header declares {f.frames} samples, "
                         f"only {decoded} could be decoded)")


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
            _check_not_truncated(f, path)
            if f.seekable() and start > 0:
                if f.frames > 0 and start >= f.frames:
                    raise AudioError(
                        f"{path}: offset {offset:.3f} s is past the end of the file "
                        f"({f.frames / file_sr:.3f} s)"
                    )
                f.seek(start)
            elif start > 0:
                for _ in _blocks(f, start):
                    pass
            blocks = list(_blocks(f, frames))
            data = np.concatenate(blocks) if blocks else np.zeros((0, f.channels), np.float32)
            if frames < 0:
                _check_length(f, path, start + data.shape[0])
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
    tags: Mapping[str, str] | None = None,
) -> Path:
    """Write [C, T] (or [T]) audio atomically; the format follows the file extension.

    `tags` (soundfile names: title, artist, comment, software, date) are stored in the file (see `set_tags`).

    normalize:
      'peak'     -- scale so the peak sits `peak_headroom_db` below full scale (never boosts silence);
      'loudness' -- scale to an integrated loudness of -`loudness_headroom_db` LUFS (ITU-R BS.1770-4,
                    via pyloudnorm), then soft-clip peaks with tanh (see `normalize_audio`);
      'none'     -- write as is, clipping to [-1, 1] for integer formats.
    """
    path = Path(path)
    fmt, default_subtype = write_format(path)
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
    subtype = _SUBTYPES.get(subtype, subtype) if subtype else default_subtype
    check_write_rate(path, sample_rate)
    data = wav.clamp(-1, 1).numpy().T if subtype != "FLOAT" else wav.numpy().T
    with atomic_path(path, library_errors=(sf.LibsndfileError, RuntimeError, ValueError)) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=data.shape[1], format=fmt,
                          subtype=subtype) as f:
            set_tags(f, tags)
            block = data.shape[0] if fmt in ("WAV", "FLAC", "AIFF") else int(_WRITE_BLOCK_SECONDS * sample_rate)
            for start in range(0, data.shape[0], block):
                f.write(np.ascontiguousarray(data[start : start + block]))
        finish_tags(tmp, fmt, tags)
    return path


def set_tags(f: sf.SoundFile, tags: Mapping[str, str] | None) -> None:
    """Text tags of a file being written, before its first frame: Vorbis comments (FLAC, Ogg), ID3 (MP3).
    WAV files get theirs from `finish_tags` (libsndfile drops all WAV tags once one is long)."""
    if tags and f.format != "WAV":
        for name, value in tags.items():
            setattr(f, name, str(value))


def finish_tags(path: str | os.PathLike, fmt: str, tags: Mapping[str, str] | None) -> None:
    """After a WAV file is written and closed: its LIST/INFO chunk (`riff.write_info`)."""
    if tags and fmt == "WAV":
        from .riff import write_info

        write_info(path, tags)


def read_tags(path: str | os.PathLike) -> dict[str, str]:
    """Text tags of an audio file: LIST/INFO of a WAV, Vorbis comments / ID3 of the others ({} if none)."""
    path = _existing_file(path)
    try:
        with sf.SoundFile(str(path)) as f:
            fmt, tags = f.format, f.copy_metadata()
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _read_error(path, exc) from None
    if fmt == "WAV":
        from .riff import read_info

        tags = read_info(path) or tags
    return {k: v for k, v in tags.items() if v}


def _loudness_db(wav: torch.Tensor, sample_rate: int) -> float:
    """Integrated loudness of [C, T] audio in LUFS; where BS.1770 cannot measure (shorter than one 0.4 s
    gating block, more than 5 channels, a rate whose Nyquist frequency is under the K-weighting shelf at
    ~1.7 kHz, where the filter is unstable and the level overflows) the RMS level in dBFS. -inf for silence."""
    level = np.nan
    if sample_rate >= 4000:
        import pyloudnorm  # lazy: pulls in scipy.signal (~0.6 s), only needed here

        with np.errstate(over="ignore", invalid="ignore"), contextlib.suppress(ValueError):
            level = pyloudnorm.Meter(sample_rate).integrated_loudness(wav.detach().cpu().double().numpy().T)
    if np.isfinite(level) or np.isneginf(level):
        return level
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
    return check_input_file(path, AudioError, "an audio file")


def _read_error(path: Path, exc: Exception) -> AudioError:
    msg = str(exc)
    # libsndfile says "does not exist or is not a regular file" for a file it cannot parse (random bytes
    # named .mp3): the file was checked to exist, so that means an unreadable format
    if ("Format not recognised" in msg or "unknown format" in msg.lower()
            or "does not exist or is not a regular file" in msg):
        return UnsupportedFormatError(
            f"{path}: not a readable audio file (unknown or unsupported format; "
            "supported: wav, flac, ogg/vorbis, opus, mp3, aiff)"
        )
    return AudioError(f"{path}: could not read audio, the file may be corrupt or truncated ({msg})")
