"""`tonecraft demo`: generate a clip with the default model (shipped in the package) and draw its spectrogram.

    tonecraft demo                                   # -> out/demo.wav + out/demo.png
    tonecraft demo --prompt "slow sad waltz on cello" --duration 5 --out /tmp/demo

Everything runs offline on CPU. The PNG is written by a tiny numpy + zlib encoder (no plotting library).
"""
from __future__ import annotations

import argparse
import struct
import time
import zlib
from pathlib import Path

import numpy as np

DEFAULT_PROMPT = "Upbeat lively Irish folk reel played on fiddle in D major, 120 bpm, 4/4 time"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out", help="output folder (default: out/)")
    p.add_argument("--prompt", default=DEFAULT_PROMPT, help="text description")
    p.add_argument("--duration", "-d", type=float, default=10.0, help="seconds of audio (default 10)")
    p.add_argument("--model", "-m", default="tonecraft-default",
                   help="model name or folder (default: the model shipped in the package)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cfg", type=float, default=None, help="classifier-free guidance scale (default: the model's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=("int8", "float32"), default="int8",
                   help="LM decoding: int8 (default: dynamic int8 linears where this CPU has the kernels, else "
                        "float32; measured level with float32 on the default model, and faster) or float32")


# -- PNG ----------------------------------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(rgb: np.ndarray) -> bytes:
    """uint8 [H, W, 3] (or [H, W] grey) -> PNG file bytes (8-bit, no interlace, filter 0)."""
    img = np.asarray(rgb)
    if img.dtype != np.uint8:
        raise ValueError("png_bytes expects uint8 pixels")
    if img.ndim == 2:
        color_type, img = 0, img[..., None]
    elif img.ndim == 3 and img.shape[2] == 3:
        color_type = 2
    else:
        raise ValueError(f"png_bytes expects [H, W] or [H, W, 3], got {img.shape}")
    h, w, c = img.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * c)], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


def _colormap(v: np.ndarray) -> np.ndarray:
    """[0, 1] -> RGB uint8 (black -> purple -> orange -> yellow, magma-like)."""
    stops = np.array([[0, 0, 4], [80, 18, 123], [182, 54, 121], [251, 136, 97], [252, 253, 191]], np.float64)
    x = np.clip(v, 0, 1) * (len(stops) - 1)
    i = np.minimum(x.astype(int), len(stops) - 2)
    f = (x - i)[..., None]
    return (stops[i] * (1 - f) + stops[i + 1] * f).astype(np.uint8)


def spectrogram_image(wav: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256, n_bands: int = 256,
                      dynamic_range_db: float = 80.0) -> np.ndarray:
    """Log-frequency magnitude spectrogram (dB) of a mono signal as an RGB image, low frequencies at the bottom."""
    x = np.asarray(wav, np.float64).reshape(-1)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft), axis=1)) ** 2  # [frames, bins]
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    edges = np.geomspace(40.0, sample_rate / 2, n_bands + 1)
    band = np.clip(np.searchsorted(edges, freqs) - 1, 0, n_bands - 1)
    valid = freqs >= edges[0]
    bands = np.zeros((frames, n_bands))
    np.add.at(bands.T, band[valid], spec[:, valid].T)
    counts = np.bincount(band[valid], minlength=n_bands)
    empty = counts == 0  # narrow low bands: take the nearest FFT bin
    if empty.any():
        centers = np.sqrt(edges[:-1] * edges[1:])
        nearest = np.clip(np.searchsorted(freqs, centers[empty]), 0, len(freqs) - 1)
        bands[:, empty] = spec[:, nearest]
        counts[empty] = 1
    db = 10 * np.log10(bands / np.maximum(counts, 1) + 1e-12)
    db = (db - (db.max() - dynamic_range_db)) / dynamic_range_db
    return _colormap(db.T[::-1])


def write_spectrogram_png(wav: np.ndarray, sample_rate: int, path: str | Path) -> Path:
    from ..fileio import atomic_write_bytes

    return atomic_write_bytes(path, png_bytes(spectrogram_image(wav, sample_rate)))


# -- command ------------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    import torch

    from ..audio import save_audio
    from ..models import load_model
    from ..models.genmodel import tune_cpu_threads
    from .generate import prepare_decoding

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model = load_model(args.model, device=args.device)
    tune_cpu_threads(model)
    if args.dtype == "int8" and model.device.type == "cpu":
        prepare_decoding(model, "int8")
    t_load = time.perf_counter() - t0
    model.set_generation_params(duration=args.duration, cfg_coef=args.cfg)  # None: the model's
    t1 = time.perf_counter()
    with torch.inference_mode():
        wav = model.generate([args.prompt], seed=args.seed)
    t_gen = time.perf_counter() - t1
    audio = wav[0].float().cpu()
    wav_path = out / "demo.wav"
    save_audio(wav_path, audio, model.sample_rate, normalize="loudness")
    png_path = write_spectrogram_png(audio.mean(0).numpy(), model.sample_rate, out / "demo.png")
    secs = audio.shape[-1] / model.sample_rate
    print(f"model: {model.name} (loaded in {t_load:.1f} s; decoding: {model.lm.decoding_path})")
    print(f"prompt: {args.prompt!r}")
    print(f"generated {secs:.1f} s of {model.sample_rate} Hz audio in {t_gen:.1f} s wall "
          f"({secs / max(t_gen, 1e-9):.2f}x real time) -> {wav_path}")
    print(f"spectrogram -> {png_path}")
    return 0
