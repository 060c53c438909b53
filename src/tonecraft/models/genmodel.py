"""Shared user API of the token-LM audio generators (MusicGen, AudioGen).

A `GenerativeModel` = codec (audio <-> tokens) + LM (tokens) + text conditioner. Every public call
(`generate`, `generate_unconditional`, `generate_continuation`, `generate_stream`, `generate_request`, and
MusicGen's `generate_with_chroma`) goes through the same steps, so the features combine:

    _inputs(descriptions, prompt)      -> descriptions, prompt tokens     prompts.py (encode_prompt)
    _conditions(descriptions, **extra) -> window offset -> (cond, null)   prompts.py (text); musicgen.py (melody)
    generate_frames(model, conditions, prompt_tokens, ...)                long_form.py (sliding windows)
    generate_audio(tokens)                                                codec decode, stereo de-interleaving

Streaming (streaming.py) runs the same token loop in a thread; settings and defaults are in params.py.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict
from typing import Iterator

import torch

from ..conditioning.base import TextConditioner
from ..errors import CheckpointError, ConfigError
from ..lm.model import LMModel
from .long_form import ConditionsFn, WindowPlan, generate_frames
from .params import MUSICGEN_DEFAULTS, FamilyDefaults, GenerationParams, sampling_defaults
from .prompts import check_descriptions, encode_prompt, text_conditions
from .streaming import stream_audio

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
    """Base class: holds the parts and the generation settings, and runs the generation steps."""

    family = "musicgen"  # checkpoint family this class loads (LoadedModel.family)
    defaults: FamilyDefaults = MUSICGEN_DEFAULTS

    def __init__(self, name: str, codec, lm: LMModel, conditioner: TextConditioner | None,
                 max_duration: float | None = None, cfg_coef: float = GenerationParams.cfg_coef,
                 temperature: float = GenerationParams.temperature, top_k: int = GenerationParams.top_k):
        self.name = name
        self.codec = codec
        self.lm = lm.eval()
        self.conditioner = conditioner.eval() if conditioner is not None else None
        self.max_duration = float(self.defaults.max_duration if max_duration is None else max_duration)
        # the checkpoint's sampling defaults (tonecraft's shipped models carry ones chosen by a probe)
        self.model_params = self.defaults.model_params(cfg_coef, temperature, top_k).validate(float("inf"))
        self.params = self.defaults.initial_params(self.max_duration, self.model_params)
        if hasattr(codec, "eval"):
            codec.eval()

    # -- loading ----------------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, device: str | torch.device | None = None,
                        **overrides):
        """Load an official name (musicgen-small, facebook/musicgen-medium, audiogen-medium, ...) from the
        Hugging Face cache (network unless HF_HUB_OFFLINE=1), or a local directory: audiocraft release files
        (state_dict.bin + compression_state_dict.bin), a transformers MusicgenForConditionalGeneration /
        MusicgenMelodyForConditionalGeneration folder, or a `tonecraft train export` folder ("tonecraft-default"
        is the shipped one). `overrides`: `text_encoder=` / `codec=` to replace the parts the checkpoint refers
        to, `dtype=` ("float32" | "bfloat16") for the LM."""
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
                    **sampling_defaults(loaded))
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

    @property
    def default_extend_stride(self) -> float:
        return self.defaults.params.extend_stride

    def to(self, device) -> "GenerativeModel":
        self.lm.to(device)
        self.codec.to(device)
        if self.conditioner is not None:
            self.conditioner.to(device)
        return self

    # -- settings ---------------------------------------------------------------------------------------------

    def set_generation_params(self, duration: float | None = None, top_k: int | None = None,
                              top_p: float | None = None, temperature: float | None = None,
                              cfg_coef: float | None = None, use_sampling: bool | None = None,
                              extend_stride: float | None = None) -> None:
        """Set all generation parameters at once (audiocraft semantics: omitted ones reset to defaults). The
        defaults are the model's (`model_params`): audiocraft's (top-k 250, temperature 1, guidance 3) unless the
        checkpoint carries its own; duration and extend_stride default to the family's: 30 s / 18 s for MusicGen,
        10 s / 2 s for AudioGen."""
        self.params = self.model_params.with_given(
            duration=duration, top_k=top_k, top_p=top_p, temperature=temperature, cfg_coef=cfg_coef,
            use_sampling=use_sampling, extend_stride=extend_stride).validate(self.max_duration)

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
        return self._run(check_descriptions(descriptions), progress=progress, return_tokens=return_tokens,
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

    def generate_request(self, descriptions: list[str | None] | str | None, *, prompt: torch.Tensor | None = None,
                         prompt_sample_rate: int | None = None, drop_prompt: bool = False, progress: bool = False,
                         return_tokens: bool = False, seed: int | None = None,
                         generator: torch.Generator | None = None, **conditioning):
        """Every feature in one call: a batch of texts, optionally continuing `prompt` audio and with extra
        conditioning (melody models: `melody_wavs=`, `melody_sample_rate=`). The other generate_* methods are
        the common cases of this one; `tonecraft generate` uses it to combine --continue and --melody."""
        if prompt is not None and prompt_sample_rate is None:
            raise ConfigError("pass prompt_sample_rate with prompt")
        return self._run(descriptions, prompt=None if prompt is None else (prompt, prompt_sample_rate),
                         progress=progress, return_tokens=return_tokens, seed=seed, generator=generator,
                         drop_prompt=drop_prompt, **conditioning)

    def generate_stream(self, descriptions: list[str | None] | str | None = None, chunk_seconds: float = 1.0, *,
                        prompt: torch.Tensor | None = None, prompt_sample_rate: int | None = None,
                        drop_prompt: bool = False, progress: bool = False, seed: int | None = None,
                        generator: torch.Generator | None = None, cancelled=None,
                        **conditioning) -> Iterator[torch.Tensor]:
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
        Closing the generator early (break) stops the sampling thread. `cancelled`: a callable polled after every
        decoding step (from the sampling thread); once it returns true the iterator raises
        `frames.GenerationCancelled` (how `tonecraft serve` cancels a running job). Bad arguments raise at call time.
        A codec without a streaming decoder falls back to decoding once at the end.
        """
        single = descriptions is None or isinstance(descriptions, str)
        if not isinstance(chunk_seconds, (int, float)) or isinstance(chunk_seconds, bool) or \
                not math.isfinite(chunk_seconds) or chunk_seconds <= 0:
            raise ConfigError(f"chunk_seconds must be a positive number, got {chunk_seconds!r}")
        if prompt is not None and prompt_sample_rate is None:
            raise ConfigError("pass prompt_sample_rate with prompt")
        descriptions = [descriptions] if single else check_descriptions(descriptions)
        self.params.validate(self.max_duration)
        descriptions, prompt_tokens = self._inputs(
            descriptions, None if prompt is None else (prompt, prompt_sample_rate))
        generator = self.make_generator(seed, generator)
        conditions = self._conditions(descriptions, **conditioning)
        chunk = max(1, int(round(chunk_seconds * self.sample_rate)))
        skip = prompt_tokens.shape[-1] * self.hop_length if drop_prompt and prompt_tokens is not None else 0
        return stream_audio(self, conditions, prompt_tokens, progress, generator, chunk, skip, single, cancelled)

    def generate_audio(self, tokens: torch.Tensor) -> torch.Tensor:
        """Decode codes [B, K, T] into audio [B, C, T * hop] (float32)."""
        with torch.inference_mode():
            if self.stereo_interleaved:
                left, right = self.codec.decode(tokens[:, 0::2]), self.codec.decode(tokens[:, 1::2])
                return torch.cat([left, right], dim=1).float()
            return self.codec.decode(tokens).float()

    def encode_prompt(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Audio [C, T] / [B, C, T] at `sample_rate` -> LM tokens [B, K, ceil(T' / hop)] (see prompts.py)."""
        return encode_prompt(self, wav, sample_rate)

    # -- steps (subclasses override _conditions) --------------------------------------------------------------

    def _run(self, descriptions, *, prompt=None, progress=False, return_tokens=False, seed=None, generator=None,
             drop_prompt=False, **conditioning):
        self.params.validate(self.max_duration)
        descriptions, prompt_tokens = self._inputs(descriptions, prompt)
        generator = self.make_generator(seed, generator)
        conditions = self._conditions(descriptions, **conditioning)
        tokens = generate_frames(self, conditions, prompt_tokens, progress, generator)
        audio = self.generate_audio(tokens)
        if drop_prompt and prompt_tokens is not None:
            tp = prompt_tokens.shape[-1]
            tokens, audio = tokens[..., tp:], audio[..., tp * self.hop_length:]
        return (audio, tokens) if return_tokens else audio

    def _inputs(self, descriptions, prompt) -> tuple[list[str | None], torch.Tensor | None]:
        """Validate descriptions, encode the prompt (wav, sample_rate) and match their batch sizes."""
        if prompt is None:
            return check_descriptions(descriptions), None
        wav, sample_rate = prompt
        tokens = self.encode_prompt(wav, sample_rate)
        if descriptions is None:
            descriptions = [None] * tokens.shape[0]
        descriptions = check_descriptions(descriptions)
        B = len(descriptions)
        if tokens.shape[0] != B:
            if tokens.shape[0] != 1:
                raise ConfigError(f"got {tokens.shape[0]} prompts for {B} descriptions")
            tokens = tokens.expand(B, -1, -1).contiguous()
        WindowPlan.of(self.params, self.frame_rate, self.max_duration).check_prompt(tokens.shape[-1])
        return descriptions, tokens

    def make_generator(self, seed: int | None, generator: torch.Generator | None) -> torch.Generator | None:
        """`generator` if given, else one seeded with `seed` on the model's device (None: torch's global RNG)."""
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
        cond, null = text_conditions(self, descriptions)
        return lambda offset: (cond, null)
