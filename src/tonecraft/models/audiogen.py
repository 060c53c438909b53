"""AudioGen: text-to-sound-effects with audiocraft's user API (facts §1.7, §2.5).

    model = AudioGen.from_pretrained("audiogen-medium")
    model.set_generation_params(duration=5)
    wav = model.generate(["dog barking", "sirens of an emergency vehicle"], seed=0)   # [2, 1, 5 * 16000]

The released `facebook/audiogen-medium` ("AudioGen v2") is the MusicGen recipe over a 16 kHz EnCodec
(4 x 2048 codes at 50 Hz, bundled in compression_state_dict.bin) with T5-large text and 10-s training
segments. Its defaults differ from MusicGen's: 5 s after loading, 10 s as `set_generation_params`'
default, extend_stride 2 s, max_duration 10 s (longer sounds use the sliding window).
"""
from __future__ import annotations

from .genmodel import GenerativeModel


class AudioGen(GenerativeModel):
    """Text-conditioned sound-effect generation; same API as MusicGen (continuation, streaming, long-form)."""

    family = "audiogen"
    default_duration = 5.0  # audiocraft's AudioGen.__init__
    default_params_duration = 10.0  # set_generation_params default
    default_extend_stride = 2.0

    def __init__(self, name: str, codec, lm, conditioner, max_duration: float = 10.0, cfg_coef: float = 3.0):
        super().__init__(name, codec, lm, conditioner, max_duration=max_duration, cfg_coef=cfg_coef)

    def set_generation_params(self, duration: float = 10.0, top_k: int = 250, top_p: float = 0.0,
                              temperature: float = 1.0, cfg_coef: float = 3.0, use_sampling: bool = True,
                              extend_stride: float = 2.0) -> None:
        """Set all generation parameters at once (audiocraft semantics: omitted ones reset to defaults)."""
        super().set_generation_params(duration=duration, top_k=top_k, top_p=top_p, temperature=temperature,
                                      cfg_coef=cfg_coef, use_sampling=use_sampling, extend_stride=extend_stride)

    @classmethod
    def get_pretrained(cls, name: str = "facebook/audiogen-medium", device=None, **overrides) -> "AudioGen":
        return cls.from_pretrained(name, device=device, **overrides)
