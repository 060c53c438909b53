"""MusicGen / AudioGen language model: config, codebook patterns, transformer, sampling, generation loop."""
from .config import PRESETS, LMConfig, preset
from .generate import ConditionTensors, generate_tokens
from .model import DecodeState, LMModel
from .patterns import Pattern, get_pattern
from .sampling import sample

__all__ = ["LMConfig", "PRESETS", "preset", "LMModel", "DecodeState", "ConditionTensors", "generate_tokens",
           "Pattern", "get_pattern", "sample"]
