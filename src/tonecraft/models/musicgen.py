"""MusicGen: text-to-music (and melody-to-music) with audiocraft's user API.

    model = MusicGen.from_pretrained("musicgen-small")        # or a local checkpoint directory
    model.set_generation_params(duration=8)
    wav = model.generate(["lofi hip hop beat", "epic orchestral"], seed=0)   # [2, 1, 8 * 32000]

    melody = MusicGen.from_pretrained("musicgen-melody")
    tune, sr = tonecraft.audio.load_audio("bach.mp3")
    wav = melody.generate_with_chroma(["80s pop"], tune, sr)

Melody models (audiocraft/modules/conditioners.py `ChromaStemConditioner`; MusicGen paper, Copet et al. 2023,
section 2.3, model conditioning) have no cross-attention: the projected chroma of the reference (235 frames
for 30 s) and the projected T5 text are prepended to the token sequence as `[chroma, text]`. Stem
separation: the released models took the chroma of demucs' vocals + other stems; no demucs weights ship
with tonecraft, so by default the chroma comes from the **full mix** (drums and bass then weigh on it).
Plug a separator in with `model.stem_separator = fn` (32 kHz mono [B, 1, T] in and out).
"""
from __future__ import annotations

import torch

from ..conditioning.chroma import melody_prefix, melody_window
from ..errors import ConfigError
from ..lm.generate import ConditionTensors
from .genmodel import GenerativeModel
from .long_form import ConditionsFn
from .params import MUSICGEN_DEFAULTS, GenerationParams, sampling_defaults
from .prompts import check_descriptions


class MusicGen(GenerativeModel):
    """Text-conditioned music generation; melody (chroma) and stereo checkpoints included."""

    family = "musicgen"
    defaults = MUSICGEN_DEFAULTS

    def __init__(self, name: str, codec, lm, conditioner, max_duration: float | None = None,
                 cfg_coef: float = GenerationParams.cfg_coef, temperature: float = GenerationParams.temperature,
                 top_k: int = GenerationParams.top_k, chroma=None):
        super().__init__(name, codec, lm, conditioner, max_duration=max_duration, cfg_coef=cfg_coef,
                         temperature=temperature, top_k=top_k)
        if chroma is not None and (lm.cfg.cross_attention or conditioner is None):
            raise ConfigError("a melody model needs an LM without cross-attention and a text conditioner")
        self.chroma = chroma.eval() if chroma is not None else None

    @classmethod
    def from_loaded(cls, loaded, device=None) -> "MusicGen":
        model = cls(loaded.name, loaded.codec, loaded.lm, loaded.conditioner, max_duration=loaded.max_duration,
                    chroma=getattr(loaded, "chroma", None), **sampling_defaults(loaded))
        return model.to(device) if device is not None else model

    # audiocraft's name for the loader
    @classmethod
    def get_pretrained(cls, name: str, device=None, **overrides) -> "MusicGen":
        return cls.from_pretrained(name, device=device, **overrides)

    @property
    def is_melody(self) -> bool:
        return self.chroma is not None

    @property
    def stem_separator(self):
        """Optional `fn(wav [B, 1, T] at 32 kHz) -> wav` applied before chroma extraction (None: full mix)."""
        return None if self.chroma is None else self.chroma.stem_separator

    @stem_separator.setter
    def stem_separator(self, fn) -> None:
        if self.chroma is None:
            raise ConfigError(f"{self.name} is not a melody model")
        self.chroma.stem_separator = fn

    def generate(self, descriptions: list[str | None] | str, progress: bool = False, return_tokens: bool = False,
                 seed: int | None = None, generator: torch.Generator | None = None, *, loop: bool = False,
                 bars: int | None = None, bpm: float | None = None, meter: str = "4/4"):
        """Audio [B, C, T] for a batch of text descriptions. `loop=True`: each item is a seamless loop of `bars`
        bars at `bpm` (else the prompt's tempo, else estimated) in `meter`, exactly round(bars x bar x rate)
        samples (`models.loops`; `loops.generate_loops` also gives the metadata and chained variations)."""
        if not loop:
            if bars is not None or bpm is not None:
                raise ConfigError("bars / bpm are loop settings: pass loop=True")
            return super().generate(descriptions, progress=progress, return_tokens=return_tokens, seed=seed,
                                    generator=generator)
        from .loops import generate_loops

        if bars is None:
            raise ConfigError("loop=True needs bars=N")
        generator = self.make_generator(seed, generator)
        made = [generate_loops(self, d, bars, bpm, meter, generator=generator, progress=progress)[0]
                for d in check_descriptions(descriptions)]
        audio = torch.stack([m.audio for m in made]).to(self.device)
        return (audio, torch.stack([m.tokens for m in made])) if return_tokens else audio

    def generate_stream(self, descriptions: list[str | None] | str | None = None, chunk_seconds: float = 1.0, *,
                        loop: bool = False, bars: int | None = None, bpm: float | None = None, meter: str = "4/4",
                        **kwargs):
        """`GenerativeModel.generate_stream`; with `loop=True` (one description), the chunks of one seamless loop
        (`loops.stream_loop`: the tempo must be known up front, the last bar arrives at the end)."""
        if not loop:
            if bars is not None or bpm is not None:
                raise ConfigError("bars / bpm are loop settings: pass loop=True")
            return super().generate_stream(descriptions, chunk_seconds, **kwargs)
        from .loops import stream_loop

        if bars is None:
            raise ConfigError("loop=True needs bars=N")
        if not (descriptions is None or isinstance(descriptions, str)):
            raise ConfigError("a streamed loop takes one description (a string or None)")
        unknown = set(kwargs) - {"seed", "generator", "cancelled", "progress"}
        if unknown:
            raise ConfigError(f"a streamed loop does not take {', '.join(sorted(unknown))}")
        kwargs.pop("progress", None)
        return stream_loop(self, descriptions, bars, bpm, meter, chunk_seconds=chunk_seconds, **kwargs)

    def to(self, device) -> "MusicGen":
        super().to(device)
        if self.chroma is not None:
            self.chroma.to(device)
        return self

    def generate_with_chroma(self, descriptions: list[str | None] | str | None, melody_wavs, melody_sample_rate: int,
                             progress: bool = False, return_tokens: bool = False, seed: int | None = None,
                             generator: torch.Generator | None = None):
        """Audio [B, C, T] following the melody (chroma) of reference audio, for melody checkpoints.

        `melody_wavs`: a tensor [C, T] or [B, C, T], or a list of [C, T] tensors / None (None = no melody for that
        item), at `melody_sample_rate`, any channel count (mixed to mono at 32 kHz). One melody is shared by all
        descriptions. `descriptions` may be None (melody only). A batch of melodies is zero-padded to the longest
        before chroma extraction, like audiocraft; the chroma is tiled / cut to 30 s. Beyond max_duration each
        window takes its own slice of the melody (wrapping around), as audiocraft does.
        The chroma comes from the full mix unless `stem_separator` is set (no demucs weights ship here).
        """
        if self.chroma is None:
            raise ConfigError(f"{self.name} is not a melody model: use a musicgen-melody checkpoint")
        melodies = _melody_list(melody_wavs)
        if descriptions is None:
            descriptions = [None] * len(melodies)
        descriptions = check_descriptions(descriptions)
        return self._run(descriptions, progress=progress, return_tokens=return_tokens, seed=seed, generator=generator,
                         melody_wavs=melodies, melody_sample_rate=melody_sample_rate)

    # -- conditions -------------------------------------------------------------------------------------------

    def _conditions(self, descriptions: list[str | None], melody_wavs=None, melody_sample_rate: int | None = None,
                    **conditioning) -> ConditionsFn:
        if self.chroma is None:
            if melody_wavs is not None:
                raise ConfigError(f"{self.name} is not a melody model: use a musicgen-melody checkpoint")
            return super()._conditions(descriptions, **conditioning)
        if conditioning:
            raise ConfigError(f"{self.name} takes no {', '.join(sorted(conditioning))} conditioning")
        B = len(descriptions)
        with torch.inference_mode():
            # Text is always encoded, even when all None: T5's EOS of "" is a (zeroed) prefix position.
            t_emb, _ = self.conditioner.condition(descriptions)
            null_chroma, _ = self.chroma.null_condition(B)
            null = ConditionTensors(prefix=melody_prefix(null_chroma, torch.zeros_like(t_emb)))
        wavs = None
        if melody_wavs is not None:
            melodies = _melody_list(melody_wavs)
            if len(melodies) == 1 and B > 1:
                melodies = melodies * B
            if len(melodies) != B:
                raise ConfigError(f"got {len(melodies)} melodies for {B} descriptions")
            if melody_sample_rate is None:
                raise ConfigError("pass melody_sample_rate with melody_wavs")
            # 32 kHz mono [1, 1, T_i] per item, unpadded (None -> None)
            wavs = [None if m is None else self.chroma.prepare_wavs([m], melody_sample_rate) for m in melodies]
            if all(w is None for w in wavs):
                wavs = None
        if wavs is None:
            cond = ConditionTensors(prefix=melody_prefix(null_chroma, t_emb))
            return lambda offset: (cond, null)

        def at(offset: float | None):
            with torch.inference_mode():
                if offset is None:  # one window: the whole melody, batch zero-padded to the longest
                    items = [torch.zeros(1, 1, 1, device=self.chroma.device) if w is None else w for w in wavs]
                else:  # long-form window: max_duration seconds from `offset`, wrapping around (audiocraft)
                    items = [torch.zeros(1, 1, 1, device=self.chroma.device) if w is None
                             else melody_window(w, offset, self.max_duration, self.chroma.sample_rate) for w in wavs]
                length = max(w.shape[-1] for w in items)
                batch = torch.zeros(B, 1, length, device=self.chroma.device)
                for i, w in enumerate(items):
                    batch[i, :, : w.shape[-1]] = w[0]
                c_emb, _ = self.chroma(self.chroma.chroma_from_wav(batch))
                return ConditionTensors(prefix=melody_prefix(c_emb, t_emb)), null

        return at


def _melody_list(melody_wavs) -> list:
    if isinstance(melody_wavs, torch.Tensor):
        if melody_wavs.dim() == 1:
            melody_wavs = melody_wavs[None]
        if melody_wavs.dim() == 2:
            melody_wavs = melody_wavs[None]
        if melody_wavs.dim() != 3:
            raise ConfigError(f"melody_wavs must be shaped [C, T] or [B, C, T], got {tuple(melody_wavs.shape)}")
        return list(melody_wavs)
    if melody_wavs is None:
        raise ConfigError("melody_wavs is None: pass reference audio (or use generate)")
    items = list(melody_wavs)
    if not items:
        raise ConfigError("melody_wavs is empty")
    return items
