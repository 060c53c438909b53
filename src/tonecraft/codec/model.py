"""`Codec`: SEANet encoder + residual vector quantiser + SEANet decoder.

Shapes: audio [B, C, T] float, codes [B, K, F] int64 with F = ceil(T / hop_length). `encode`/`decode`
code the input as one segment; `encode_segments`/`decode_segments` follow the 48 kHz recipe (1 s
segments, 1 % overlap, per-segment RMS scale, triangular overlap-add). Streaming (`stream_encoder`,
`stream_decoder`) gives the same result as one call, chunk by chunk.
"""
from __future__ import annotations

import os
import typing as tp
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tonecraft.errors import AudioError, ConfigError

from .configs import CodecConfig
from .conv import fold_weight_norm
from .quantizer import ResidualVectorQuantizer, bandwidth_for_n_q, n_q_for_bandwidth
from .seanet import SEANetDecoder, SEANetEncoder

EncodedSegment = tuple[torch.Tensor, tp.Optional[torch.Tensor]]


@dataclass
class CodecOutput:
    audio: torch.Tensor      # reconstruction [B, C, T]
    codes: torch.Tensor      # [B, K, F]
    penalty: torch.Tensor    # commitment loss
    bandwidth: float         # kbps actually used


def linear_overlap_add(frames: list[torch.Tensor], stride: int) -> torch.Tensor:
    """Join overlapping segments with triangular weights (peak mid-segment), normalised by the
    summed weights, so each output sample is a convex blend of the segments covering it."""
    if not frames:
        raise ValueError("no segments to join")
    first = frames[0]
    length = first.shape[-1]
    total = stride * (len(frames) - 1) + frames[-1].shape[-1]
    t = torch.linspace(0, 1, length + 2, device=first.device, dtype=first.dtype)[1:-1]
    weight = 0.5 - (t - 0.5).abs()
    out = first.new_zeros(*first.shape[:-1], total)
    sum_weight = first.new_zeros(total)
    for i, frame in enumerate(frames):
        n = frame.shape[-1]
        off = i * stride
        out[..., off:off + n] += weight[:n] * frame
        sum_weight[off:off + n] += weight[:n]
    return out / sum_weight


class Codec(nn.Module):
    """Neural audio codec (EnCodec architecture)."""

    def __init__(self, config: CodecConfig):
        super().__init__()
        c = config
        self.config = c
        seanet = dict(channels=c.channels, dimension=c.dimension, n_filters=c.n_filters,
                      n_residual_layers=c.n_residual_layers, ratios=c.ratios, activation=c.activation,
                      activation_params=c.activation_params, norm=c.norm, kernel_size=c.kernel_size,
                      last_kernel_size=c.last_kernel_size, residual_kernel_size=c.residual_kernel_size,
                      dilation_base=c.dilation_base, causal=c.causal, pad_mode=c.pad_mode, true_skip=c.true_skip,
                      compress=c.compress, lstm=c.lstm_layers, disable_norm_outer_blocks=c.disable_norm_outer_blocks)
        self.encoder = SEANetEncoder(**seanet)
        self.decoder = SEANetDecoder(**seanet, final_activation=c.final_activation,
                                     trim_right_ratio=c.trim_right_ratio)
        self.quantizer = ResidualVectorQuantizer(
            dimension=c.dimension, n_q=c.n_q, bins=c.bins, decay=c.decay, kmeans_init=c.kmeans_init,
            kmeans_iters=c.kmeans_iters, threshold_ema_dead_code=c.threshold_ema_dead_code,
            q_dropout=c.q_dropout, commitment_weight=c.commitment_weight)
        self.bandwidth: float | None = None

    # --- properties ----------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def frame_rate(self) -> float:
        """Code frames per second (float; 75, 150, 50 and 50 for the official models)."""
        return self.config.frame_rate

    @property
    def cardinality(self) -> int:
        """Codebook size: codes are in [0, cardinality)."""
        return self.config.bins

    @property
    def total_n_q(self) -> int:
        """Number of codebooks the model has."""
        return self.quantizer.n_q

    @property
    def n_q(self) -> int:
        """Number of codebooks used at the current target bandwidth."""
        return self.n_q_for_bandwidth(self.bandwidth)

    @property
    def target_bandwidths(self) -> list[float]:
        bws = self.config.target_bandwidths
        return list(bws) if bws else [bandwidth_for_n_q(self.total_n_q, self.frame_rate, self.cardinality)]

    @property
    def segment_length(self) -> int | None:
        s = self.config.segment
        return None if s is None else int(s * self.sample_rate)

    @property
    def segment_stride(self) -> int | None:
        n = self.segment_length
        return None if n is None else max(1, int((1 - self.config.overlap) * n))

    def n_q_for_bandwidth(self, bandwidth: float | None) -> int:
        return n_q_for_bandwidth(bandwidth, self.frame_rate, self.cardinality, self.total_n_q)

    def set_target_bandwidth(self, bandwidth: float | None) -> None:
        """Use the codebooks that fit `bandwidth` kbps (one of `target_bandwidths`; None = all)."""
        if bandwidth is not None and not any(abs(bandwidth - b) < 1e-9 for b in self.target_bandwidths):
            raise ConfigError(f"{self.config.name} does not support {bandwidth} kbps; "
                              f"choose one of {self.target_bandwidths}")
        self.bandwidth = bandwidth

    def _n_q(self, bandwidth: float | None) -> int:
        return self.n_q_for_bandwidth(self.bandwidth if bandwidth is None else bandwidth)

    # --- single segment ----------------------------------------------------------------------
    def _check_audio(self, wav: torch.Tensor) -> None:
        if wav.dim() != 3 or wav.shape[1] != self.channels:
            raise AudioError(f"expected audio of shape [batch, {self.channels}, time], got {tuple(wav.shape)}")
        if wav.shape[-1] == 0:
            raise AudioError("cannot encode empty audio")

    def _normalize(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.config.normalize:
            return wav, None
        mono = wav.mean(dim=1, keepdim=True)
        scale = mono.pow(2).mean(dim=2, keepdim=True).sqrt() + 1e-8
        return wav / scale, scale.view(-1, 1)

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, bandwidth: float | None = None) -> EncodedSegment:
        """Audio [B, C, T] -> (codes [B, K, ceil(T / hop)] int64, scale [B, 1] or None).
        The scale is returned only by normalising models (pass it back to `decode`)."""
        self._check_audio(wav)
        x, scale = self._normalize(wav)
        emb = self.encoder(x)
        return self.quantizer.encode(emb, self._n_q(bandwidth)), scale

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Codes [B, K, F] (K <= total_n_q) -> audio [B, C, F * hop] (trim to the input length)."""
        if codes.dim() != 3:
            raise ValueError(f"expected codes of shape [batch, codebooks, frames], got {tuple(codes.shape)}")
        out = self.decoder(self.quantizer.decode(codes))
        if scale is not None:
            out = out * scale.view(-1, 1, 1)
        return out.contiguous()  # the decoder works time-major; hand back a plain [B, C, T] tensor

    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes -> continuous latent [B, D, F] (sum of codewords)."""
        return self.quantizer.decode(codes)

    # --- segmented (48 kHz recipe) ------------------------------------------------------------
    def encode_segments(self, wav: torch.Tensor, bandwidth: float | None = None) -> list[EncodedSegment]:
        """Code `wav` in overlapping segments of `config.segment` seconds, each with its own scale.
        Without a segment length this is `[encode(wav)]`."""
        self._check_audio(wav)
        seg, stride = self.segment_length, self.segment_stride
        if seg is None:
            return [self.encode(wav, bandwidth)]
        return [self.encode(wav[..., off:off + seg], bandwidth) for off in range(0, wav.shape[-1], stride)]

    def decode_segments(self, segments: tp.Sequence[EncodedSegment]) -> torch.Tensor:
        """Inverse of `encode_segments` (output may be a little longer than the input)."""
        if not segments:
            raise ValueError("no segments to decode")
        frames = [self.decode(codes, scale) for codes, scale in segments]
        if self.segment_length is None:
            if len(frames) != 1:
                raise ValueError("this codec has no segment length: expected a single segment")
            return frames[0]
        return linear_overlap_add(frames, self.segment_stride)

    # --- training ------------------------------------------------------------------------------
    def forward(self, wav: torch.Tensor, bandwidth: float | None = None) -> CodecOutput:
        """Autoencode one segment with gradients (straight-through quantiser, commitment loss,
        EMA codebook updates in training mode). Output is trimmed to the input length."""
        self._check_audio(wav)
        x, scale = self._normalize(wav)
        q = self.quantizer(self.encoder(x), self._n_q(bandwidth))
        out = self.decoder(q.quantized)[..., :wav.shape[-1]]
        if scale is not None:
            out = out * scale.view(-1, 1, 1)
        return CodecOutput(out, q.codes, q.penalty, bandwidth_for_n_q(q.n_q, self.frame_rate, self.cardinality))

    # --- streaming -----------------------------------------------------------------------------
    def stream_encoder(self, bandwidth: float | None = None) -> "StreamingEncoder":
        return StreamingEncoder(self, bandwidth)

    def stream_decoder(self) -> "StreamingDecoder":
        return StreamingDecoder(self)

    # --- inference helpers / io -----------------------------------------------------------------
    def fold_weight_norm(self) -> "Codec":
        """Bake weight-norm parametrisations into plain weights (faster inference; irreversible)."""
        fold_weight_norm(self)
        return self

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, device: str | torch.device = "cpu") -> "Codec":
        """Load official or local weights; see `tonecraft.pretrained.codec_loading.load_codec`."""
        from tonecraft.pretrained.codec_loading import load_codec
        return load_codec(name_or_path, device=device)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write `config.json` + `model.safetensors` (atomic per file) loadable by `from_pretrained`."""
        from tonecraft.pretrained.codec_loading import save_codec
        return save_codec(self, directory)


class StreamingEncoder:
    """Chunked encoding: `push(wav_chunk)` returns the code frames completed so far, `flush()` the
    rest. Concatenated outputs equal `codec.encode(whole)[0]`. Non-causal models lag by their right
    context; normalising or group-norm models cannot stream."""

    def __init__(self, codec: Codec, bandwidth: float | None = None):
        if codec.config.normalize:
            raise ConfigError("normalising codecs (per-segment scale) cannot be streamed")
        self.codec = codec
        self.n_q = codec._n_q(bandwidth)
        self.state = codec.encoder.init_state()
        self.done = False

    def _codes(self, emb: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        if emb is None or emb.shape[-1] == 0:
            return torch.empty(batch, self.n_q, 0, dtype=torch.long, device=device)
        return self.codec.quantizer.encode(emb, self.n_q)

    @torch.no_grad()
    def push(self, wav: torch.Tensor) -> torch.Tensor:
        if self.done:
            raise RuntimeError("stream already flushed")
        if wav.dim() != 3 or wav.shape[1] != self.codec.channels:
            raise AudioError(f"expected audio of shape [batch, {self.codec.channels}, time], got {tuple(wav.shape)}")
        self._batch, self._device = wav.shape[0], wav.device
        return self._codes(self.codec.encoder.step(wav, self.state), wav.shape[0], wav.device)

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        self.done = True
        emb = self.codec.encoder.flush(self.state)
        return self._codes(emb, getattr(self, "_batch", 1), getattr(self, "_device", "cpu"))


class StreamingDecoder:
    """Chunked decoding: `push(codes_chunk)` returns the audio completed so far, `flush()` the rest.
    Concatenated outputs equal `codec.decode(all_codes)`."""

    def __init__(self, codec: Codec):
        if codec.config.normalize:
            raise ConfigError("normalising codecs (per-segment scale) cannot be streamed")
        self.codec = codec
        self.state = codec.decoder.init_state()
        self.done = False

    def _audio(self, y: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        if y is None:
            return torch.empty(batch, self.codec.channels, 0, device=device)
        return y

    @torch.no_grad()
    def push(self, codes: torch.Tensor) -> torch.Tensor:
        if self.done:
            raise RuntimeError("stream already flushed")
        self._batch, self._device = codes.shape[0], codes.device
        if codes.shape[-1] == 0:
            return self._audio(None, codes.shape[0], codes.device)
        y = self.codec.decoder.step(self.codec.quantizer.decode(codes), self.state)
        return self._audio(y, codes.shape[0], codes.device)

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        self.done = True
        y = self.codec.decoder.flush(self.state)
        return self._audio(y, getattr(self, "_batch", 1), getattr(self, "_device", "cpu"))
