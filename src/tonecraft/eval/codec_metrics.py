"""Reconstruction quality of a codec next to Opus (ffmpeg + libopus) on the same clips.

Metrics (from `train.losses`, the ones the codec trainer validates with):
- `sisnr`: scale-invariant SNR in dB (higher is better);
- `mel`: L1 between log10 mel spectrograms, n_fft 1024 / hop 256 / 64 mels (`MelDistance`; lower is better);
- `msspec`: audiocraft's multi-scale mel loss, n_fft 64..1024, L1 on mel + MSE on log mel (`MultiScaleMelLoss`).
Before scoring, the decoded clip is aligned to the reference (integer delay with the highest
cross-correlation within +-`max_delay_ms`) and both are cut to the common length.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from functools import lru_cache

import numpy as np
import soundfile as sf
import torch

from ..audio import resample

OPUS_RATE = 48_000


@lru_cache(maxsize=1)
def opus_available() -> tuple[bool, str]:
    """(True, "") when ffmpeg can encode with libopus, else (False, reason)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        return False, "ffmpeg is not installed (apt-get install ffmpeg)"
    try:
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"ffmpeg does not run ({exc})"
    if "libopus" not in out:
        return False, "ffmpeg was built without libopus"
    return True, ""


def opus_roundtrip(wav: np.ndarray, sample_rate: int, kbps: float = 6.0) -> tuple[np.ndarray, float]:
    """Mono float [T] -> (decoded [T'] at `sample_rate`, file bitrate in kbps incl. Ogg overhead).

    Resampled to 48 kHz with soxr first (libopus runs at 48 kHz), encoded with ffmpeg/libopus at `kbps`
    (ffmpeg's default VBR, application audio: the file's real bitrate is measured and reported), decoded back
    to 48 kHz float and resampled to `sample_rate`. Opus' pre-skip is removed by ffmpeg's decoder."""
    ok, why = opus_available()
    if not ok:
        raise RuntimeError(why)
    x = torch.as_tensor(np.asarray(wav, dtype=np.float32))[None]
    x48 = resample(x, sample_rate, OPUS_RATE)[0].numpy()
    with tempfile.TemporaryDirectory(prefix="tonecraft-opus-") as tmp:
        src, enc, dec = (os.path.join(tmp, n) for n in ("in.wav", "enc.opus", "out.wav"))
        sf.write(src, np.clip(x48, -1, 1), OPUS_RATE, subtype="FLOAT")
        common = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-threads", "1"]
        subprocess.run([*common, "-i", src, "-c:a", "libopus", "-b:a", f"{kbps}k", "-application", "audio",
                        "-ac", "1", enc], check=True, capture_output=True, timeout=120)
        subprocess.run([*common, "-i", enc, "-ar", str(OPUS_RATE), "-ac", "1", "-c:a", "pcm_f32le", dec],
                       check=True, capture_output=True, timeout=120)
        kbps_real = os.path.getsize(enc) * 8 / (len(wav) / sample_rate) / 1000
        y48, _ = sf.read(dec, dtype="float32", always_2d=False)
    y = resample(torch.from_numpy(np.ascontiguousarray(y48))[None], OPUS_RATE, sample_rate)[0].numpy()
    return y, kbps_real


def codec_roundtrip(codec, wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Encode + decode one mono clip with a tonecraft `Codec` (resampled to its rate and back)."""
    x = torch.as_tensor(np.asarray(wav, dtype=np.float32))[None]
    x = resample(x, sample_rate, codec.sample_rate)
    x = x[None].expand(1, codec.channels, x.shape[-1]).contiguous()
    with torch.no_grad():  # not inference_mode: weight-norm parametrisations of unfolded codecs refuse it
        if codec.segment_length is not None:
            y = codec.decode_segments(codec.encode_segments(x))
        else:
            codes, scale = codec.encode(x)
            y = codec.decode(codes, scale)
    y = y[0].mean(0)[: x.shape[-1]].float()
    return resample(y[None], codec.sample_rate, sample_rate)[0].numpy()


def codec_kbps(codec) -> float:
    from ..codec.quantizer import bandwidth_for_n_q

    return float(bandwidth_for_n_q(codec.n_q, codec.frame_rate, codec.cardinality))


def align(ref: np.ndarray, est: np.ndarray, max_delay: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Shift `est` by the integer delay (|d| <= max_delay) maximising cross-correlation with `ref`;
    returns (ref, est) cut to their overlap and the delay (positive: `est` lags `ref`)."""
    n = min(len(ref), len(est))
    if max_delay > 0 and n > 0:
        size = 1 << int(np.ceil(np.log2(len(ref) + len(est))))
        xc = np.fft.irfft(np.fft.rfft(est, size) * np.conj(np.fft.rfft(ref, size)), size)
        lags = np.concatenate([np.arange(0, max_delay + 1), np.arange(-max_delay, 0)])
        vals = xc[lags % size]
        delay = int(lags[int(np.argmax(vals))])
    else:
        delay = 0
    if delay >= 0:
        est = est[delay:]
    else:
        ref = ref[-delay:]
    n = min(len(ref), len(est))
    return ref[:n], est[:n], delay


class ReconstructionMetrics:
    def __init__(self, sample_rate: int, max_delay_ms: float = 20.0):
        from ..train.losses import MelDistance, MultiScaleMelLoss

        self.sample_rate = sample_rate
        self.max_delay = int(round(max_delay_ms * sample_rate / 1000))
        self.mel = MelDistance(sample_rate)
        self.msspec = MultiScaleMelLoss(sample_rate)

    def __call__(self, ref: np.ndarray, est: np.ndarray) -> dict:
        from ..train.losses import si_snr

        ref, est, delay = align(np.asarray(ref, np.float32), np.asarray(est, np.float32), self.max_delay)
        r = torch.from_numpy(np.ascontiguousarray(ref))[None, None]
        e = torch.from_numpy(np.ascontiguousarray(est))[None, None]
        with torch.no_grad():
            return {"sisnr": float(si_snr(e, r)[0]), "mel": float(self.mel(e, r)),
                    "msspec": float(self.msspec(e, r)), "delay_samples": delay}


def summarize(rows: list[dict], keys=("sisnr", "mel", "msspec")) -> dict:
    out = {"n": len(rows)}
    for k in keys:
        v = np.array([r[k] for r in rows], dtype=np.float64)
        if v.size:
            out[k] = {"mean": float(v.mean()), "median": float(np.median(v)), "std": float(v.std())}
    if rows and "delay_samples" in rows[0]:
        out["median_delay_samples"] = float(np.median([r["delay_samples"] for r in rows]))
    return out
