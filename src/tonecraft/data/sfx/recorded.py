"""One recorded source file -> clips: decode (libsndfile, else ffmpeg), 16 kHz mono, trim silence, split long
ambiences, drop pieces too short or too quiet. Pure function of the file's bytes: resumed runs give the same clips."""
from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from .dsp import SAMPLE_RATE, db, fade, normalize, resample, rms, split_long, to_mono, trim_silence


class DecodeError(Exception):
    """Neither libsndfile nor ffmpeg could read the file."""


@dataclass(frozen=True)
class ClipRules:
    max_clip_s: float = 10.0
    min_clip_s: float = 0.08
    max_source_s: float = 120.0  # longer files are music or field recordings we do not split blindly
    min_rms_db: float = -50.0


def decode(data: bytes, name: str) -> tuple[np.ndarray, int, str]:
    """-> (mono float32, sample rate, decoder)."""
    import soundfile as sf

    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
        return to_mono(x), int(sr), "libsndfile"
    except Exception as exc:  # noqa: BLE001 -- libsndfile refuses some mp3/ogg variants: try ffmpeg
        first = f"{type(exc).__name__}: {exc}"
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise DecodeError(f"libsndfile: {first}; ffmpeg not installed")
    r = subprocess.run([exe, "-nostdin", "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1",
                        "-ar", str(SAMPLE_RATE), "pipe:1"], input=data, capture_output=True, timeout=120)
    if r.returncode != 0 or not r.stdout:
        raise DecodeError(f"libsndfile: {first}; ffmpeg: {r.stderr.decode('utf-8', 'replace').strip()[-200:]}")
    return np.frombuffer(r.stdout, dtype="<f4").copy(), SAMPLE_RATE, "ffmpeg"


def clips_from_audio(x: np.ndarray, sr: int, rules: ClipRules) -> tuple[list[np.ndarray], str | None]:
    """-> (normalised 16 kHz clips, reason when none)."""
    if len(x) == 0:
        return [], "empty"
    if not np.isfinite(x).all():
        return [], "NaN/Inf samples"
    if len(x) / sr > rules.max_source_s:
        return [], f"longer than {rules.max_source_s:.0f} s ({len(x) / sr:.0f} s): music or an unsplit recording"
    y = resample(x, sr, SAMPLE_RATE)
    y = y - float(np.mean(y))  # DC offset of some game recordings
    y = trim_silence(y, SAMPLE_RATE)
    if len(y) < rules.min_clip_s * SAMPLE_RATE:
        return [], "silent or shorter than %.2f s after trimming" % rules.min_clip_s
    out = []
    for part in split_long(y, SAMPLE_RATE, rules.max_clip_s, max(rules.min_clip_s, 2.0)):
        if db(rms(part)) < rules.min_rms_db:
            continue
        out.append(normalize(fade(part, SAMPLE_RATE)))
    return out, None if out else "too quiet"
