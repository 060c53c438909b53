"""Shared user API of the token-LM audio generators (MusicGen, AudioGen).

A `GenerativeModel` = codec (audio <-> tokens) + LM (tokens) + text conditioner. Every public call
(`generate`, `generate_unconditional`, `generate_continuation`, `generate_stream`, and MusicGen's
`generate_with_chroma`) goes through the same steps, so the features combine:

    _inputs(descriptions, prompt)        -> descriptions, prompt tokens      (continuation: codec-encoded prompt)
    _conditions(descriptions, **extra)   -> window offset -> (cond, null)    melody: chroma prefix per window
    _generate_tokens(conditions, prompt_tokens, progress, generator, on_frames)
                                                                              long-form windows, streaming hook
    generate_audio(tokens)                                                    stereo de-interleaving

Durations above `max_duration` use audiocraft's sliding window (facts §1.8): windows of
`max_duration`, each prompted with the last `max_duration - extend_stride` seconds of tokens of the
previous one (positions restart at 0 in every window); the conditions are recomputed per window
(melody: the reference is re-sliced at the window's time offset).
"""
from __future__ import annotations

import math
import os
import queue
import threading
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from ..conditioning.base import TextConditioner
from ..conditioning.tempo import bpm_tensor
from ..errors import AudioError, CheckpointError, ConfigError
from ..lm.generate import ConditionTensors, generate_tokens
from ..lm.model import LMModel
from ..lm.patterns import get_pattern

MAX_DURATION_S = 3600.0  # anything longer is almost certainly a typo (and would take days)

# window time offset in seconds (None: the whole piece is one window) -> (condition, CFG null condition)
ConditionsFn = Callable[[float | None], tuple[ConditionTensors, ConditionTensors]]
# (first frame index in the output, codes [B, K, n]) -- consecutive, in order, covering every output frame
FramesHook = Callable[[int, torch.Tensor], None]


@dataclass
class GenerationParams:
    """Sampling and length settings; audiocraft's defaults (facts §1.7)."""

    duration: float = 30.0
    use_sampling: bool = True
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    cfg_coef: float = 3.0
    extend_stride: float = 18.0

    def validate(self, max_duration: float) -> "GenerationParams":
        def bad(msg: str):
            raise ConfigError(msg)

        for name in ("duration", "top_p", "temperature", "cfg_coef", "extend_stride"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                bad(f"{name} must be a finite number, got {v!r}")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool):
            bad(f"top_k must be an integer, got {self.top_k!r}")
        if self.duration <= 0:
            bad(f"duration must be > 0 seconds, got {self.duration}")
        if self.duration > MAX_DURATION_S:
            bad(f"duration {self.duration} s is above the {MAX_DURATION_S:.0f} s limit")
        if self.top_k < 0:
            bad(f"top_k must be >= 0 (0 disables top-k), got {self.top_k}")
        if not 0.0 <= self.top_p <= 1.0:
            bad(f"top_p must be in [0, 1] (0 disables nucleus sampling), got {self.top_p}")
        if self.temperature < 0:
            bad(f"temperature must be >= 0 (0 means greedy), got {self.temperature}")
        if self.cfg_coef < 0 or self.cfg_coef > 100:
            bad(f"cfg_coef must be in [0, 100] (1 disables guidance), got {self.cfg_coef}")
        if self.duration > max_duration and not 0 < self.extend_stride < max_duration:
            bad(f"extend_stride must be in (0, {max_duration}) s for durations above {max_duration} s, "
                f"got {self.extend_stride}")
        return self



SMALL_LM_PARAMS = 50_000_000


def tune_cpu_threads(model: "GenerativeModel") -> None:
    """Decode small LMs on one CPU thread.

    Each decoding step of a small model is a handful of tiny matrix products: intra-op threading only adds
    synchronisation, and on a busy 2-core machine it made the 10 s default-model demo ~50x slower
    (155 s vs 2.8 s measured). Large models keep torch's default threading.
    """
    device = next(model.lm.parameters()).device
    if device.type == "cpu" and sum(p.numel() for p in model.lm.parameters()) < SMALL_LM_PARAMS:
        torch.set_num_threads(1)

class GenerativeModel:
    """Base class: holds the parts, the generation settings, and the generate loop plumbing."""

    family = "musicgen"  # checkpoint family this class loads (LoadedModel.family)
    default_duration = 15.0  # set by the constructor (audiocraft's __init__)
    default_params_duration = 30.0  # default of set_generation_params
    default_extend_stride = 18.0

    def __init__(self, name: str, codec, lm: LMModel, conditioner: TextConditioner | None,
                 max_duration: float = 30.0, cfg_coef: float = 3.0):
        self.name = name
        self.codec = codec
        self.lm = lm.eval()
        self.conditioner = conditioner.eval() if conditioner is not None else None
        self.max_duration = float(max_duration)
        self.params = GenerationParams(duration=min(self.default_duration, self.max_duration), cfg_coef=cfg_coef,
                                       extend_stride=self.default_extend_stride)
        if hasattr(codec, "eval"):
            codec.eval()

    # -- loading ----------------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, device: str | torch.device | None = None,
                        **overrides):
        """Load an official name (musicgen-small, facebook/musicgen-medium, audiogen-medium, ...) from the
        Hugging Face cache (network unless HF_HUB_OFFLINE=1), or a local directory: audiocraft release files
        (state_dict.bin + compression_state_dict.bin) or a transformers MusicgenForConditionalGeneration /
        MusicgenMelodyForConditionalGeneration folder. `overrides`: `text_encoder=` / `codec=` to replace the
        parts the checkpoint refers to, `dtype=` ("float32" | "bfloat16") for the LM."""
        from ..pretrained.musicgen_loading import load_musicgen

        loaded = load_musicgen(name_or_path, **overrides)
        if loaded.family != cls.family:
            other = "AudioGen" if loaded.family == "audiogen" else "MusicGen"
            raise CheckpointError(f"{name_or_path} is a{'n' if other[0] == 'A' else ''} {other} checkpoint: load it "
                                  f"with {other}.from_pretrained (or tonecraft.models.load_model)")
        return cls.from_loaded(loaded, device)

    @classmethod
    def from_loaded(cls, loaded, device: str | torch.device | None = None):
        """Wrap a `pretrained.musicgen_loading.LoadedModel`."""
        if getattr(loaded, "chroma", None) is not None:
            raise CheckpointError(f"{loaded.name}: a melody checkpoint needs MusicGen")
        model = cls(loaded.name, loaded.codec, loaded.lm, loaded.conditioner, max_duration=loaded.max_duration,
                    cfg_coef=loaded.cfg_coef)
        return model.to(device) if device is not None else model

    # -- properties -------------------------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return int(self.codec.sample_rate)

    @property
    def frame_rate(self) -> float:
        return float(self.codec.frame_rate)

    @property
    def hop_length(self) -> int:
        """Audio samples per token frame."""
        return int(round(self.sample_rate / self.frame_rate))

    @property
    def stereo_interleaved(self) -> bool:
        """Stereo MusicGen: a mono codec per channel, LM codebooks interleaved [L0, R0, L1, R1, ...]."""
        codec_n_q = getattr(self.codec, "total_n_q", None)
        return self.codec.channels == 1 and codec_n_q is not None and self.lm.cfg.n_q == 2 * codec_n_q

    @property
    def audio_channels(self) -> int:
        return 2 if self.stereo_interleaved else int(self.codec.channels)

    @property
    def device(self) -> torch.device:
        return self.lm.device

    @property
    def duration(self) -> float:
        return self.params.duration

    def to(self, device) -> "GenerativeModel":
        self.lm.to(device)
        self.codec.to(device)
        if self.conditioner is not None:
            self.conditioner.to(device)
        return self

    # -- settings ---------------------------------------------------------------------------------------------

    def set_generation_params(self, duration: float | None = None, top_k: int = 250, top_p: float = 0.0,
                              temperature: float = 1.0, cfg_coef: float = 3.0, use_sampling: bool = True,
                              extend_stride: float | None = None) -> None:
        """Set all generation parameters at once (audiocraft semantics: omitted ones reset to defaults;
        duration defaults to 30 s for MusicGen, 10 s for AudioGen; extend_stride to 18 s / 2 s)."""
        params = GenerationParams(
            duration=self.default_params_duration if duration is None else duration, use_sampling=use_sampling,
            top_k=top_k, top_p=top_p, temperature=temperature, cfg_coef=cfg_coef,
            extend_stride=self.default_extend_stride if extend_stride is None else extend_stride)
        self.params = params.validate(self.max_duration)

    def generation_params(self) -> dict:
        return asdict(self.params)

    # -- public generation API --------------------------------------------------------------------------------

    def generate_unconditional(self, num_samples: int, progress: bool = False, return_tokens: bool = False,
                               seed: int | None = None, generator: torch.Generator | None = None):
        """`num_samples` samples without any text (no CFG pass needed: the condition is the null one)."""
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
            raise ConfigError(f"num_samples must be a positive integer, got {num_samples!r}")
        return self._run([None] * num_samples, progress=progress, return_tokens=return_tokens, seed=seed,
                         generator=generator)

    def generate(self, descriptions: list[str | None] | str, progress: bool = False, return_tokens: bool = False,
                 seed: int | None = None, generator: torch.Generator | None = None):
        """Audio [B, C, T] for a batch of text descriptions (one forward batch for all of them)."""
        return self._run(self._check_descriptions(descriptions), progress=progress, return_tokens=return_tokens,
                         seed=seed, generator=generator)

    def generate_continuation(self, prompt: torch.Tensor, prompt_sample_rate: int,
                              descriptions: list[str | None] | str | None = None, progress: bool = False,
                              return_tokens: bool = False, seed: int | None = None,
                              generator: torch.Generator | None = None, drop_prompt: bool = False):
        """Continue `prompt` audio ([C, T] or [B, C, T] at `prompt_sample_rate`, any channel count).

        The prompt is converted to the model's rate and channels, encoded with the codec (ceil(T / hop) frames),
        and fed to the LM in one prefill forward pass; its tokens are never overwritten, so the output's first
        T_p frames are exactly the prompt tokens (the prompt audio is re-decoded from them, i.e. codec-lossy).
        `duration` is the total length *including* the prompt; a prompt longer than it raises ConfigError.
        `descriptions`: None (no text) or one text per prompt; a single prompt is shared by all descriptions.
        `drop_prompt` (audiocraft's `remove_prompts`): return only the new part; the audio is decoded with the
        prompt as left context and then cut, so it starts seamlessly. Returns audio [B, C, T] (and tokens).
        """
        return self._run(descriptions, prompt=(prompt, prompt_sample_rate), progress=progress,
                         return_tokens=return_tokens, seed=seed, generator=generator, drop_prompt=drop_prompt)

    def generate_stream(self, descriptions: list[str | None] | str | None = None, chunk_seconds: float = 1.0, *,
                        prompt: torch.Tensor | None = None, prompt_sample_rate: int | None = None,
                        drop_prompt: bool = False, progress: bool = False, seed: int | None = None,
                        generator: torch.Generator | None = None, **conditioning) -> Iterator[torch.Tensor]:
        """Yield audio while the tokens are still being sampled.

            for chunk in model.generate_stream("lofi beat", chunk_seconds=0.5, seed=0):
                player.queue(chunk.numpy())          # [C, n] float32 at model.sample_rate

        `descriptions` a string (or None) -> chunks [C, n]; a list of B items -> chunks [B, C, n] (float32, on the
        model's device: call `.cpu()` for an audio API).
        Every chunk has `round(chunk_seconds * sample_rate)` samples except the last (the remainder); joined
        they have the length of `generate(...)`'s output. Sampling runs in a background thread; a frame is
        handed to the codec as soon as all its codebooks are sampled (delay pattern: frame t after step
        t + max_delay + 1) and decoded with the codec's streaming decoder, which carries the convolution and
        LSTM state across chunks, so the audio arrives with a lag of a few frames (the decoder's right context).
        Joined chunks equal the one-shot decode of the same tokens up to float32 rounding: max abs difference
        below 1e-5 (measured ~1e-7 in tests/models/test_stream.py); with the same seed the tokens are those
        of `generate`. Works with long-form durations, continuation (`prompt`, `drop_prompt`, as in
        `generate_continuation`) and melody (MusicGen-melody: `melody_wavs=`, `melody_sample_rate=`).
        Closing the generator early (break) stops the sampling thread. Bad arguments raise at call time.
        A codec without a streaming decoder falls back to decoding once at the end.
        """
        single = descriptions is None or isinstance(descriptions, str)
        if not isinstance(chunk_seconds, (int, float)) or isinstance(chunk_seconds, bool) or \
                not math.isfinite(chunk_seconds) or chunk_seconds <= 0:
            raise ConfigError(f"chunk_seconds must be a positive number, got {chunk_seconds!r}")
        if prompt is not None and prompt_sample_rate is None:
            raise ConfigError("pass prompt_sample_rate with prompt")
        descriptions = [descriptions] if single else self._check_descriptions(descriptions)
        self.params.validate(self.max_duration)
        descriptions, prompt_tokens = self._inputs(
            descriptions, None if prompt is None else (prompt, prompt_sample_rate))
        generator = self._make_generator(seed, generator)
        conditions = self._conditions(descriptions, **conditioning)
        chunk = max(1, int(round(chunk_seconds * self.sample_rate)))
        skip = prompt_tokens.shape[-1] * self.hop_length if drop_prompt and prompt_tokens is not None else 0
        return self._stream(conditions, prompt_tokens, progress, generator, chunk, skip, single)

    def generate_audio(self, tokens: torch.Tensor) -> torch.Tensor:
        """Decode codes [B, K, T] into audio [B, C, T * hop] (float32)."""
        with torch.inference_mode():
            if self.stereo_interleaved:
                left, right = self.codec.decode(tokens[:, 0::2]), self.codec.decode(tokens[:, 1::2])
                return torch.cat([left, right], dim=1).float()
            return self.codec.decode(tokens).float()

    def encode_prompt(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Audio [C, T] / [B, C, T] at `sample_rate` -> LM tokens [B, K, ceil(T' / hop)] (T' at the model rate).
        Stereo models encode each channel with the mono codec and interleave [L0, R0, L1, R1, ...]."""
        from ..audio import check_finite, convert_audio

        wav = torch.as_tensor(wav)
        if wav.dim() == 2:
            wav = wav[None]
        if wav.dim() != 3:
            raise AudioError(f"prompt audio must be shaped [channels, samples] or [batch, channels, samples], "
                             f"got {tuple(wav.shape)}")
        if wav.shape[-1] == 0 or wav.shape[0] == 0:
            raise AudioError("the prompt audio is empty")
        wav = wav.detach().to("cpu", torch.float32)
        check_finite(wav, "prompt audio")
        wav = convert_audio(wav, sample_rate, self.sample_rate, self.audio_channels).to(self.device)
        n_q = self.lm.cfg.n_q // (2 if self.stereo_interleaved else 1)
        with torch.inference_mode():
            B = wav.shape[0]
            if self.stereo_interleaved:
                codes, scale = self.codec.encode(wav.reshape(B * 2, 1, wav.shape[-1]))
            else:
                codes, scale = self.codec.encode(wav)
            if scale is not None:
                raise ConfigError(f"{self.name}: the codec rescales its input (normalize=True), which token "
                                  "prompts cannot carry")
            if codes.shape[1] < n_q:
                raise ConfigError(f"{self.name}: the codec gives {codes.shape[1]} codebooks at its bandwidth, "
                                  f"the LM needs {n_q}")
            codes = codes[:, :n_q]
            if self.stereo_interleaved:
                codes = codes.view(B, 2, n_q, -1).transpose(1, 2).reshape(B, 2 * n_q, -1)
        return codes.long().clone()

    # -- steps subclasses override ----------------------------------------------------------------------------

    def _check_descriptions(self, descriptions) -> list[str | None]:
        if isinstance(descriptions, str):
            descriptions = [descriptions]
        if descriptions is None:
            raise ConfigError("descriptions is None: pass a list of texts (or Nones)")
        descriptions = list(descriptions)
        if not descriptions:
            raise ConfigError("descriptions is empty: pass at least one text (or None)")
        for d in descriptions:
            if d is not None and not isinstance(d, str):
                raise ConfigError(f"descriptions must be strings or None, got {type(d).__name__}")
        return descriptions

    def _run(self, descriptions, *, prompt=None, progress=False, return_tokens=False, seed=None, generator=None,
             drop_prompt=False, **conditioning):
        self.params.validate(self.max_duration)
        descriptions, prompt_tokens = self._inputs(descriptions, prompt)
        generator = self._make_generator(seed, generator)
        conditions = self._conditions(descriptions, **conditioning)
        tokens = self._generate_tokens(conditions, prompt_tokens, progress, generator)
        audio = self.generate_audio(tokens)
        if drop_prompt and prompt_tokens is not None:
            tp = prompt_tokens.shape[-1]
            tokens, audio = tokens[..., tp:], audio[..., tp * self.hop_length:]
        return (audio, tokens) if return_tokens else audio

    def _inputs(self, descriptions, prompt) -> tuple[list[str | None], torch.Tensor | None]:
        """Validate descriptions, encode the prompt (wav, sample_rate) and match their batch sizes."""
        if prompt is None:
            return self._check_descriptions(descriptions), None
        wav, sample_rate = prompt
        tokens = self.encode_prompt(wav, sample_rate)
        if descriptions is None:
            descriptions = [None] * tokens.shape[0]
        descriptions = self._check_descriptions(descriptions)
        B = len(descriptions)
        if tokens.shape[0] != B:
            if tokens.shape[0] != 1:
                raise ConfigError(f"got {tokens.shape[0]} prompts for {B} descriptions")
            tokens = tokens.expand(B, -1, -1).contiguous()
        self._check_prompt_length(tokens.shape[-1])
        return descriptions, tokens

    def _frames(self) -> tuple[int, int, int]:
        """(total, window, stride) in frames for the current parameters."""
        p, fr = self.params, self.frame_rate
        return (int(round(p.duration * fr)), int(round(self.max_duration * fr)), int(round(p.extend_stride * fr)))

    def _check_prompt_length(self, prompt_len: int) -> None:
        total, window, _ = self._frames()
        if prompt_len > total:
            raise ConfigError(f"the prompt ({prompt_len / self.frame_rate:.2f} s) is longer than duration "
                              f"{self.params.duration} s (the duration includes the prompt)")
        if total > window and prompt_len >= window:
            raise ConfigError(f"the prompt ({prompt_len / self.frame_rate:.2f} s) must be shorter than the model's "
                              f"max_duration {self.max_duration} s when generating beyond it")

    def _make_generator(self, seed: int | None, generator: torch.Generator | None) -> torch.Generator | None:
        if generator is not None:
            return generator
        if seed is None:
            return None
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        return torch.Generator(device=self.device).manual_seed(seed)

    def _conditions(self, descriptions: list[str | None], **conditioning) -> ConditionsFn:
        """Conditions per window: text models use the same ones for every window."""
        if conditioning:
            raise ConfigError(f"{self.name} takes no {', '.join(sorted(conditioning))} conditioning")
        cond, null = self._prepare_conditions(descriptions)
        return lambda offset: (cond, null)

    @torch.inference_mode()
    def _prepare_conditions(self, descriptions: list[str | None]) -> tuple[ConditionTensors, ConditionTensors]:
        """Text -> cross-attention condition and its CFG null (all zeros, same shape)."""
        B = len(descriptions)
        if all(not d for d in descriptions) or self.conditioner is None:
            if self.conditioner is None and any(descriptions):
                raise ConfigError(f"{self.name} has no text conditioning; descriptions must be None")
            if not self.lm.cfg.cross_attention:
                return ConditionTensors(), ConditionTensors()
            zeros = torch.zeros(B, 1, self.lm.cfg.dim, device=self.device)
            # a pooled-prefix model was trained with the (zero) prefix position present for null texts too
            prefix = zeros if getattr(self.conditioner, "pooled", False) else None
            return ConditionTensors(cross=zeros, prefix=prefix), ConditionTensors(cross=zeros, prefix=prefix)
        emb, _mask, pooled = self.conditioner.condition_all(descriptions)
        null_pooled = None if pooled is None else torch.zeros_like(pooled)
        bpm = bpm_tensor(descriptions) if self.lm.beat_grid is not None else None
        return (ConditionTensors(cross=emb, prefix=pooled, bpm=bpm),
                ConditionTensors(cross=torch.zeros_like(emb), prefix=null_pooled))

    def _generate_tokens(self, conditions: ConditionsFn, prompt_tokens: torch.Tensor | None, progress: bool = False,
                         generator: torch.Generator | None = None, on_frames: FramesHook | None = None,
                         cancelled: Callable[[], bool] | None = None) -> torch.Tensor:
        """Codes [B, K, duration * frame_rate] (prompt frames included).

        Beyond max_duration (facts §1.8): window i starts at frame i * stride, is prompted with the last
        (window - stride) frames of window i-1 and appends only its new frames; the total is exactly
        round(duration * frame_rate) frames. `on_frames(t0, codes)` receives every output frame once, in order,
        as soon as it is complete (prompt frames first). `cancelled()` is polled every step (streaming)."""
        total, window, stride = self._frames()
        prompt_len = 0 if prompt_tokens is None else prompt_tokens.shape[-1]
        self._check_prompt_length(prompt_len)
        bar = _Progress(self, total - prompt_len, self.params.duration) if progress else None
        if on_frames is not None and prompt_len:
            on_frames(0, prompt_tokens)

        def run(prompt, length, offset_frames, cond_offset):
            p = self.params
            condition, null = conditions(cond_offset)
            done = 0 if prompt is None else prompt.shape[-1]
            cb = None if bar is None else (lambda i, n: bar.update(done, i, n, length))
            hook = None
            if on_frames is not None or cancelled is not None:
                emit = None if on_frames is None else (lambda t0, codes: on_frames(offset_frames + t0, codes))
                hook = _FrameTracker(self.lm.cfg, length, done, emit, cancelled)
            return generate_tokens(
                self.lm, condition, null, prompt=prompt, max_gen_len=length, use_sampling=p.use_sampling,
                temp=p.temperature, top_k=p.top_k, top_p=p.top_p, cfg_coef=p.cfg_coef, generator=generator,
                callback=cb, on_step=hook, first_frame=offset_frames,
            )

        try:
            if total <= window:
                return run(prompt_tokens, total, 0, None)
            # Long-form: each window re-prompts with the tail of the previous one; positions restart at 0.
            chunks = [] if prompt_tokens is None else [prompt_tokens]
            prompt, offset = prompt_tokens, 0
            while offset + (0 if prompt is None else prompt.shape[-1]) < total:
                length = min(total - offset, window)
                tokens = run(prompt, length, offset, offset / self.frame_rate)
                chunks.append(tokens if prompt is None else tokens[..., prompt.shape[-1]:])
                if bar is not None:
                    bar.base += length - (0 if prompt is None else prompt.shape[-1])
                prompt = tokens[..., stride:]
                offset += stride
            return torch.cat(chunks, dim=-1)[..., :total]
        finally:
            if bar is not None:
                bar.close()

    # -- streaming --------------------------------------------------------------------------------------------

    def _stream(self, conditions: ConditionsFn, prompt_tokens, progress, generator, chunk: int, skip: int,
                single: bool) -> Iterator[torch.Tensor]:
        results: queue.Queue = queue.Queue()
        stop = threading.Event()

        def work():
            try:
                with torch.inference_mode():
                    self._generate_tokens(conditions, prompt_tokens, progress, generator,
                                          on_frames=lambda t0, codes: results.put(("frames", codes)),
                                          cancelled=stop.is_set)
                results.put(("done", None))
            except _Cancelled:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
                results.put(("error", exc))

        decoder = _StreamDecoder(self)
        worker = threading.Thread(target=work, name=f"tonecraft-{self.name}-sampling", daemon=True)
        worker.start()
        pending: list[torch.Tensor] = []
        buffered = 0
        try:
            while True:
                kind, payload = results.get()
                if kind == "error":
                    raise payload
                audio = decoder.push(payload) if kind == "frames" else decoder.flush()
                if skip and audio.shape[-1]:
                    cut = min(skip, audio.shape[-1])
                    audio, skip = audio[..., cut:], skip - cut
                if audio.shape[-1]:
                    pending.append(audio)
                    buffered += audio.shape[-1]
                while buffered >= chunk or (kind == "done" and buffered):
                    joined = torch.cat(pending, dim=-1) if len(pending) > 1 else pending[0]
                    n = min(chunk, buffered)
                    out, rest = joined[..., :n], joined[..., n:]
                    pending, buffered = ([rest] if rest.shape[-1] else []), buffered - n
                    yield out[0] if single else out
                if kind == "done":
                    return
        finally:
            stop.set()
            worker.join()


class _Cancelled(Exception):
    """Raised inside the sampling thread when the stream consumer stopped."""


class _FrameTracker:
    """`on_step` hook of `generate_tokens`: after each pattern step, hand over the frames whose codebooks are
    all sampled (delay pattern: frame t after step t + max_delay + 1)."""

    def __init__(self, cfg, length: int, start: int, emit: FramesHook | None, cancelled: Callable[[], bool] | None):
        pattern = get_pattern(cfg.pattern, cfg.n_q, length, cfg.delays)
        idx = np.full((cfg.n_q, length), -1, dtype=np.int64)  # step holding (codebook q, frame t)
        for s, coords in enumerate(pattern.layout):
            for t, q in coords:
                if t < length:
                    idx[q, t] = s
        self.idx = torch.from_numpy(idx)
        # frames 0..t are all complete after step done[t]
        self.done = torch.from_numpy(np.maximum.accumulate(idx.max(axis=0)))
        self.next, self.emit, self.cancelled = start, emit, cancelled

    def __call__(self, offset: int, seq: torch.Tensor) -> None:
        if self.cancelled is not None and self.cancelled():
            raise _Cancelled()
        if self.emit is None:
            return
        n = int(torch.searchsorted(self.done, torch.tensor(offset), right=True))
        if n > self.next:
            cols = self.idx[:, self.next:n].to(seq.device)
            codes = seq.gather(2, cols.unsqueeze(0).expand(seq.shape[0], -1, -1)).clone()
            t0, self.next = self.next, n
            self.emit(t0, codes)


class _StreamDecoder:
    """Codes in, audio out, chunk by chunk: the codec's exact streaming decoder (one per channel for stereo)."""

    def __init__(self, model: GenerativeModel):
        self.model = model
        codec = model.codec
        cfg = getattr(codec, "config", None)
        can_stream = hasattr(codec, "stream_decoder") and not getattr(cfg, "normalize", False)
        n = 2 if model.stereo_interleaved else 1
        self.decoders = [codec.stream_decoder() for _ in range(n)] if can_stream else None
        self.pending: list[torch.Tensor] = []

    def _parts(self, codes: torch.Tensor) -> list[torch.Tensor]:
        return [codes] if len(self.decoders) == 1 else [codes[:, 0::2], codes[:, 1::2]]

    def push(self, codes: torch.Tensor) -> torch.Tensor:
        if self.decoders is None:
            self.pending.append(codes)
            return torch.empty(codes.shape[0], self.model.audio_channels, 0)
        outs = [d.push(c) for d, c in zip(self.decoders, self._parts(codes))]
        return torch.cat(outs, dim=1).float()

    def flush(self) -> torch.Tensor:
        if self.decoders is None:
            return self.model.generate_audio(torch.cat(self.pending, dim=-1))
        return torch.cat([d.flush() for d in self.decoders], dim=1).float()


class _Progress:
    """tqdm bar over generated frames, showing seconds of audio produced (one bar for all windows)."""

    def __init__(self, model: GenerativeModel, frames: int, duration: float):
        from tqdm.auto import tqdm

        self.rate = model.frame_rate
        self.base = 0  # frames finished in previous windows
        self.bar = tqdm(total=frames, unit="frame", desc=f"{model.name}", leave=False,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}] {postfix}")
        self.duration = duration

    def update(self, prompt_len: int, step: int, steps: int, length: int) -> None:
        # `steps` includes the pattern's trailing delay steps; map linearly onto new frames.
        frames = self.base + round((length - prompt_len) * step / max(steps, 1))
        self.bar.n = min(frames, self.bar.total)
        self.bar.set_postfix_str(f"{self.bar.n / self.rate:.1f}/{self.duration:.1f} s audio", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
