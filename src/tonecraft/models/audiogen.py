"""AudioGen: text-to-sound-effects with audiocraft's user API (audiocraft/models/audiogen.py).

    model = AudioGen.from_pretrained("audiogen-medium")
    model.set_generation_params(duration=5)
    wav = model.generate(["dog barking", "sirens of an emergency vehicle"], seed=0)   # [2, 1, 5 * 16000]

The released `facebook/audiogen-medium` ("AudioGen v2", audiocraft's docs/AUDIOGEN.md) is the MusicGen recipe
over a 16 kHz EnCodec (4 x 2048 codes at 50 Hz, bundled in compression_state_dict.bin) with T5-large text and
10-s training segments. Its defaults differ from MusicGen's (`params.AUDIOGEN_DEFAULTS`): 5 s after loading,
10 s as `set_generation_params`' default, extend_stride 2 s, max_duration 10 s (longer sounds use the sliding
window).
"""
from __future__ import annotations

from .genmodel import GenerativeModel
from .params import AUDIOGEN_DEFAULTS


class AudioGen(GenerativeModel):
    """Text-conditioned sound-effect generation; same API as MusicGen (continuation, streaming, long-form)."""

    family = "audiogen"
    defaults = AUDIOGEN_DEFAULTS

    @classmethod
    def get_pretrained(cls, name: str = "facebook/audiogen-medium", device=None, **overrides) -> "AudioGen":
        return cls.from_pretrained(name, device=device, **overrides)
