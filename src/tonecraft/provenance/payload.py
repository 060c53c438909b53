"""The 32-bit watermark payload: a tonecraft marker byte, a model id byte and a 16-bit hash of prompt + seed.

The marker says "made by tonecraft" (and, with the CRC, that a decoded payload is real); the model id and the
hash cannot be inverted, only checked: `model_name(id)` names the official / shipped model with that id, and
`prompt_hash(prompt, seed)` recomputes the hash for a claimed prompt and seed.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

MARKER = 0x7C
N_BITS = 32
# Names whose id the detector can turn back into a name (others are shown as the raw id).
KNOWN_MODELS = ("tonecraft-default", "tonecraft-sfx-default", "musicgen-small", "musicgen-medium", "musicgen-large",
                "musicgen-melody", "musicgen-melody-large", "musicgen-stereo-small", "musicgen-stereo-medium",
                "musicgen-stereo-large", "musicgen-stereo-melody", "musicgen-stereo-melody-large", "audiogen-medium")


def model_id(name: str | None) -> int:
    """One byte for a model name (0 for no name); a folder path counts by its last part."""
    if not name:
        return 0
    key = str(name).rstrip("/").rsplit("/", 1)[-1].lower()
    return 1 + zlib.crc32(key.encode("utf-8")) % 255


def model_name(mid: int) -> str | None:
    return next((n for n in KNOWN_MODELS if model_id(n) == mid), None)


def prompt_hash(prompt: str | None, seed: int | None) -> int:
    """16 bits of CRC-32 over the prompt and the seed (so a claimed prompt/seed can be checked)."""
    text = f"{prompt or ''}\x00{'' if seed is None else int(seed)}"
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) & 0xFFFF


@dataclass(frozen=True)
class Payload:
    marker: int
    model_id: int
    prompt_hash: int

    @classmethod
    def for_generation(cls, model: str | None, prompt: str | None, seed: int | None) -> "Payload":
        return cls(MARKER, model_id(model), prompt_hash(prompt, seed))

    @property
    def value(self) -> int:
        return (self.marker << 24) | (self.model_id << 16) | self.prompt_hash

    @classmethod
    def from_value(cls, value: int) -> "Payload":
        return cls((value >> 24) & 0xFF, (value >> 16) & 0xFF, value & 0xFFFF)

    def bits(self) -> np.ndarray:
        return np.array([(self.value >> (N_BITS - 1 - i)) & 1 for i in range(N_BITS)], dtype=np.uint8)

    @classmethod
    def from_bits(cls, bits) -> "Payload":
        return cls.from_value(int("".join(str(int(b)) for b in bits), 2))

    @property
    def is_tonecraft(self) -> bool:
        return self.marker == MARKER

    def describe(self) -> dict:
        return {"hex": f"{self.value:08x}", "marker": f"0x{self.marker:02x}", "model_id": self.model_id,
                "model": model_name(self.model_id), "prompt_hash": f"{self.prompt_hash:04x}"}
