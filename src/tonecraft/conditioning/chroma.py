"""Melody conditioning: a quantised chromagram of a reference tune, as in the released MusicGen-melody.

Recipe (audiocraft/modules/conditioners.py `ChromaStemConditioner`, audiocraft/modules/chroma.py `ChromaExtractor`;
MusicGen paper, Copet et al. 2023, section 2.3):

  melody wav (any rate / channels) -> 32 kHz mono            (`tonecraft.audio.convert_audio`)
  -> optional stem separation hook (released: demucs htdemucs vocals+other; default here: full mix)
  -> power spectrogram: n_fft = win = 16384, hop 4096, periodic Hann, center=True with reflect padding,
     'window' normalisation (divide the STFT by sqrt(sum(window**2))), power 2; inputs shorter than
     n_fft are first zero-padded (centred) to n_fft
  -> librosa chroma filter bank (12 bins, tuning 0, ctroct 5, octwidth 2, L2-normalised columns, base C)
  -> L-inf normalisation over the 12 bins (eps 1e-6) -> argmax -> one-hot           [B, frames, 12]
  -> tiled / truncated to `chroma_length` frames (235 for 30 s at 32 kHz)
  -> `output_proj: Linear(12, D, bias=True)`                                        [B, 235, D]

The LM of a melody model has no cross-attention: the projected chroma is prepended before the projected text,
`prefix = [chroma(235), text]`, and the mask is all ones (inference, `_use_masking=False`).

The null (CFG-unconditional / "no melody") condition is the chroma of silence: argmax of an all-zero row is
bin 0, so it is a one-hot at bin 0 in every frame, projected (bias included) — *not* a zero vector. This is
what audiocraft and transformers do at inference.

A batch of melodies is zero-padded at the end to the longest one before extraction, exactly like audiocraft's
`ConditioningProvider._collate_wavs`, so a short melody in a batch with a longer one is tiled *with* its
trailing silence. Call once per melody if you want batch-independent results.

Stem separation is a plug-in: `stem_separator(wav)` takes and returns 32 kHz mono audio `[B, 1, T]` (e.g. a
wrapper that runs demucs `htdemucs` at 44.1 kHz and returns vocals + other resampled to 32 kHz mono). No weights
ship here; without a separator the full mix is used, which works but lets drums/bass dominate the chroma.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..audio import check_finite, convert_audio
from ..errors import AudioError

SAMPLE_RATE = 32_000
N_CHROMA = 12
N_FFT = 2 ** 14
HOP_LENGTH = N_FFT // 4
CHROMA_LENGTH = 235  # frames for 30 s at 32 kHz: 1 + 960000 // 4096

StemSeparator = Callable[[torch.Tensor], torch.Tensor]
MelodyInput = torch.Tensor | Sequence[torch.Tensor | None] | None

# Checkpoint keys of the released melody models that are not parameters of ours (the torchaudio window buffer).
IGNORED_KEYS = ("chroma.spec.window",)


def chroma_filter_bank(
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_chroma: int = N_CHROMA,
    tuning: float = 0.0,
    ctroct: float = 5.0,
    octwidth: float | None = 2.0,
    base_c: bool = True,
) -> torch.Tensor:
    """Chroma filter bank [n_chroma, n_fft // 2 + 1] (float32), the same matrix as
    `librosa.filters.chroma(sr, n_fft, n_chroma, tuning, ctroct, octwidth, norm=2, base_c)`.

    Each FFT bin k > 0 sits at fractional chroma position `p = n_chroma * log2(f_k / (A440 / 16))`; row c gets
    a Gaussian bump in the circular distance between p and c (width = local bin spacing, at least one chroma
    bin), columns are L2-normalised, then weighted by a Gaussian over octaves centred on `ctroct` (octave 5
    ~ 880 Hz, std `octwidth` octaves). The DC bin is given a position 1.5 octaves below bin 1. With `base_c`
    rows are rolled so row 0 is C (otherwise A).
    """
    if n_chroma < 1 or n_fft < 2:
        raise ValueError(f"need n_chroma >= 1 and n_fft >= 2, got {n_chroma}, {n_fft}")
    f64 = torch.float64
    freqs = torch.arange(1, n_fft, dtype=f64) * (sample_rate / n_fft)
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    pos = n_chroma * torch.log2(freqs / (a440 / 16))  # fractional chroma bins, A0 = 0
    pos = torch.cat([pos[:1] - 1.5 * n_chroma, pos])  # DC bin: 1.5 octaves below bin 1
    width = torch.cat([torch.clamp(pos[1:] - pos[:-1], min=1.0), torch.ones(1, dtype=f64)])
    half = float(round(n_chroma / 2))
    dist = pos[None, :] - torch.arange(n_chroma, dtype=f64)[:, None]
    dist = torch.remainder(dist + half + 10 * n_chroma, n_chroma) - half  # circular, in [-half, half)
    wts = torch.exp(-0.5 * (2 * dist / width[None, :]) ** 2)
    norms = wts.norm(p=2, dim=0, keepdim=True)
    wts = wts / torch.where(norms < torch.finfo(f64).tiny, torch.ones_like(norms), norms)
    if octwidth is not None:
        wts = wts * torch.exp(-0.5 * ((pos / n_chroma - ctroct) / octwidth) ** 2)[None, :]
    if base_c:
        wts = torch.roll(wts, -3 * (n_chroma // 12), dims=0)
    return wts[:, : n_fft // 2 + 1].to(torch.float32).contiguous()


class ChromaExtractor(nn.Module):
    """Waveform [B, T] or [B, 1, T] at `sample_rate` -> chroma [B, frames, n_chroma] (one-hot with `argmax`).

    frames = 1 + max(T, n_fft) // hop_length. No trainable parameters and nothing in the state dict: the window
    and filter bank are float32 constants kept outside the module's buffers, so `.half()` / `.to(dtype)` on a
    parent model cannot degrade them; they follow the input's device.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, n_chroma: int = N_CHROMA, n_fft: int = N_FFT,
                 hop_length: int | None = None, argmax: bool = True, eps: float = 1e-6):
        super().__init__()
        self.sample_rate = sample_rate
        self.n_chroma = n_chroma
        self.n_fft = n_fft
        self.hop_length = hop_length or n_fft // 4
        self.argmax = argmax
        self.eps = eps
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float32)
        self._consts = {torch.device("cpu"): (window, chroma_filter_bank(sample_rate, n_fft, n_chroma))}

    def _constants(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._consts:
            window, fbank = self._consts[torch.device("cpu")]
            self._consts[device] = (window.to(device), fbank.to(device))
        return self._consts[device]

    def num_frames(self, num_samples: int) -> int:
        return 1 + max(num_samples, self.n_fft) // self.hop_length

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """Power spectrogram [B, n_fft // 2 + 1, frames] of [B, T] float32 audio (torchaudio `Spectrogram`
        with power=2, center=True, pad_mode='reflect', normalized=True)."""
        window, _ = self._constants(wav.device)
        T = wav.shape[-1]
        if T < self.n_fft:  # centred zero padding, the extra sample (odd padding) on the right
            pad = self.n_fft - T
            wav = torch.nn.functional.pad(wav, (pad // 2, pad - pad // 2))
        spec = torch.stft(wav, self.n_fft, hop_length=self.hop_length, win_length=self.n_fft, window=window,
                          center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        spec = spec / window.pow(2).sum().sqrt()
        return spec.abs().pow(2)

    @torch.no_grad()
    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 3:
            if wav.shape[1] != 1:
                raise AudioError(f"chroma extraction needs mono audio [B, 1, T], got {tuple(wav.shape)}")
            wav = wav[:, 0]
        if wav.dim() != 2:
            raise AudioError(f"chroma extraction needs audio shaped [B, T] or [B, 1, T], got {tuple(wav.shape)}")
        wav = wav.float()
        _, fbank = self._constants(wav.device)
        spec = self.spectrogram(wav)
        raw = torch.einsum("cf,bft->bct", fbank, spec)
        chroma = raw / raw.abs().amax(dim=1, keepdim=True).clamp_min(self.eps)  # F.normalize(p=inf, eps)
        chroma = chroma.transpose(1, 2)  # [B, frames, n_chroma]
        if self.argmax:
            return one_hot_argmax(chroma)
        return chroma.contiguous()


def one_hot_argmax(chroma: torch.Tensor) -> torch.Tensor:
    """Replace each frame [..., n_chroma] by the one-hot of its argmax (first index on ties; zeros -> bin 0)."""
    idx = chroma.argmax(dim=-1, keepdim=True)
    return torch.zeros_like(chroma).scatter_(-1, idx, 1.0)


def match_length(chroma: torch.Tensor, length: int) -> torch.Tensor:
    """Truncate chroma [B, T, C] to `length` frames, or tile (repeat from the start) then truncate."""
    T = chroma.shape[1]
    if T < length:
        chroma = chroma.repeat(1, math.ceil(length / T), 1)
    return chroma[:, :length]


def null_chroma(batch_size: int, length: int = CHROMA_LENGTH, n_chroma: int = N_CHROMA,
                device: torch.device | str | None = None) -> torch.Tensor:
    """The released 'no melody' chroma: one-hot at bin 0 in every frame [B, length, n_chroma]."""
    out = torch.zeros(batch_size, length, n_chroma, device=device)
    out[..., 0] = 1.0
    return out


def melody_prefix(chroma_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """The prepended conditions of a melody LM: `[chroma (235), text]` along time (audiocraft's fuser order).

    `text_emb` must keep its zeroed padded positions (and, for all-None descriptions, the single zeroed EOS
    position T5 gives for ""): they occupy LM positions and are attended to. CFG null prefix =
    `melody_prefix(null chroma emb, torch.zeros_like(text_emb))`.
    """
    return torch.cat([chroma_emb, text_emb.to(chroma_emb.dtype)], dim=1)


def melody_window(wav: torch.Tensor, offset_seconds: float, duration: float = 30.0,
                  sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """The melody slice audiocraft feeds each window of long-form (> 30 s) generation: `duration` seconds
    starting at `offset_seconds`, wrapping around (samples taken modulo the melody length). wav [..., T]."""
    T = wav.shape[-1]
    start = int(offset_seconds * sample_rate)
    positions = torch.arange(start, start + int(duration * sample_rate), device=wav.device) % T
    return wav[..., positions]


class ChromaConditioner(nn.Module):
    """Melody conditioner of the released MusicGen-melody models.

    `tokenize(melodies, sample_rate)` -> one-hot chroma [B, chroma_length, 12] (no gradient, no parameters);
    `forward(chroma)` -> (embeddings [B, chroma_length, output_dim], mask [B, chroma_length] all ones);
    `condition(melodies, sample_rate)` does both. `melodies` is a tensor [C, T] / [B, C, T] or a list of
    [C, T] tensors and `None`s (None = no melody = the null condition); any rate and channel count.

    Use in `generate_with_chroma` (B descriptions, melody wavs at `sr`):

        chroma = cond.tokenize(melodies, sr, batch_size=B)        # [B, 235, 12]
        c_emb, _ = cond(chroma); n_emb, _ = cond.null_condition(B)
        t_emb, _ = text_conditioner.condition(descriptions)      # always, even if all None
        prefix, null_prefix = melody_prefix(c_emb, t_emb), melody_prefix(n_emb, torch.zeros_like(t_emb))

    Beyond 30 s audiocraft recomputes the chroma per window from `melody_window(wav, offset)` of each
    (32 kHz mono) melody, so even the first window wraps a short melody at the *sample* level.

    State dict: only `output_proj.{weight,bias}` (released key prefix
    `condition_provider.conditioners.self_wav.`; the released `chroma.spec.window` buffer is ignored on load).
    """

    def __init__(self, output_dim: int, sample_rate: int = SAMPLE_RATE, n_chroma: int = N_CHROMA,
                 radix2_exp: int = 14, duration: float = 30.0, stem_separator: StemSeparator | None = None,
                 chroma_length: int | None = None):
        super().__init__()
        self.sample_rate = sample_rate
        self.n_chroma = n_chroma
        self.output_dim = output_dim
        self.chroma = ChromaExtractor(sample_rate, n_chroma, n_fft=2 ** radix2_exp, argmax=True)
        # 235 for 30 s (audiocraft: frames of a silent `duration`-long wav; HF: config.chroma_length)
        self.chroma_length = chroma_length or self.chroma.num_frames(int(sample_rate * duration))
        self.stem_separator = stem_separator
        self.output_proj = nn.Linear(n_chroma, output_dim, bias=True)

    @property
    def device(self) -> torch.device:
        return self.output_proj.weight.device

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for key in IGNORED_KEYS:
            state_dict.pop(prefix + key, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- waveform -> chroma ------------------------------------------------------------------------------------

    def prepare_wavs(self, melodies: MelodyInput, sample_rate: int, batch_size: int | None = None) -> torch.Tensor:
        """Convert melodies to one zero-padded 32 kHz mono batch [B, 1, T] (None -> one silent sample)."""
        items = _as_list(melodies, batch_size)
        wavs = []
        for i, wav in enumerate(items):
            if wav is None:
                wavs.append(torch.zeros(1))
                continue
            wav = torch.as_tensor(wav)
            if wav.dim() == 1:
                wav = wav[None]
            if wav.dim() != 2:
                raise AudioError(f"melody {i}: expected audio shaped [channels, samples], got {tuple(wav.shape)}")
            if wav.shape[-1] == 0:
                raise AudioError(f"melody {i}: the melody has no samples")
            wav = wav.detach().to("cpu", torch.float32)
            check_finite(wav, f"melody {i}")
            wavs.append(convert_audio(wav, sample_rate, self.sample_rate, 1)[0])
        length = max(w.shape[-1] for w in wavs)
        batch = torch.zeros(len(wavs), 1, length)
        for i, w in enumerate(wavs):
            batch[i, 0, : w.shape[-1]] = w
        return batch.to(self.device)

    @torch.no_grad()
    def chroma_from_wav(self, wav: torch.Tensor) -> torch.Tensor:
        """32 kHz mono batch [B, 1, T] -> one-hot chroma [B, chroma_length, n_chroma]."""
        if wav.shape[-1] > 1 and self.stem_separator is not None:  # audiocraft skips stems for null-only batches
            wav = self.stem_separator(wav)
        # Frames past chroma_length are cut anyway; frame f only reads samples < f*hop + n_fft/2, so cutting
        # the audio there changes nothing and bounds the STFT cost for long melodies.
        keep = (self.chroma_length - 1) * self.chroma.hop_length + self.chroma.n_fft // 2
        if wav.shape[-1] > keep:
            wav = wav[..., :keep]
        return match_length(self.chroma(wav), self.chroma_length)

    def tokenize(self, melodies: MelodyInput, sample_rate: int, batch_size: int | None = None) -> torch.Tensor:
        """Melodies (any rate/channels, None allowed) -> one-hot chroma [B, chroma_length, n_chroma]."""
        return self.chroma_from_wav(self.prepare_wavs(melodies, sample_rate, batch_size))

    def null_chroma(self, batch_size: int) -> torch.Tensor:
        return null_chroma(batch_size, self.chroma_length, self.n_chroma, self.device)

    # -- chroma -> embeddings ----------------------------------------------------------------------------------

    def forward(self, chroma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if chroma.dim() != 3 or chroma.shape[-1] != self.n_chroma:
            raise ValueError(f"expected chroma [B, T, {self.n_chroma}], got {tuple(chroma.shape)}")
        chroma = match_length(chroma, self.chroma_length)
        w = self.output_proj.weight
        emb = self.output_proj(chroma.to(device=w.device, dtype=w.dtype))
        mask = torch.ones(emb.shape[:2], dtype=torch.long, device=emb.device)
        return emb, mask

    def condition(self, melodies: MelodyInput, sample_rate: int,
                  batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """tokenize + forward."""
        return self(self.tokenize(melodies, sample_rate, batch_size))

    def null_condition(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of 'no melody' (CFG unconditional rows): the projected bin-0 one-hot, bias included."""
        return self(self.null_chroma(batch_size))


def _as_list(melodies: MelodyInput, batch_size: int | None) -> list[torch.Tensor | None]:
    if melodies is None:
        if batch_size is None:
            raise ValueError("pass batch_size when melodies is None")
        return [None] * batch_size
    if isinstance(melodies, (torch.Tensor, np.ndarray)):
        melodies = torch.as_tensor(melodies)
        if melodies.dim() in (1, 2):
            melodies = melodies.reshape(1, -1, melodies.shape[-1]) if melodies.dim() == 2 else melodies[None, None]
        if melodies.dim() != 3:
            raise AudioError(f"expected melodies shaped [C, T] or [B, C, T], got {tuple(melodies.shape)}")
        items = list(melodies)
    else:
        items = list(melodies)
    if not items:
        raise AudioError("no melodies given")
    if batch_size is not None and len(items) != batch_size:
        raise AudioError(f"got {len(items)} melodies for a batch of {batch_size} descriptions")
    return items


__all__ = [
    "CHROMA_LENGTH", "ChromaConditioner", "ChromaExtractor", "IGNORED_KEYS", "StemSeparator", "chroma_filter_bank",
    "match_length", "melody_prefix", "melody_window", "null_chroma", "one_hot_argmax",
]
