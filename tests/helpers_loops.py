"""A tiny MusicGen for the loop tests (models/test_loops.py, cli/test_loop.py), without transformers."""
from __future__ import annotations

import torch

from helpers_generation import tiny_codec, tiny_lm
from tonecraft.conditioning.base import TextConditioner
from tonecraft.conditioning.hash_encoder import HashTextEncoder
from tonecraft.models.musicgen import MusicGen


def tiny_loop_model(grid: bool) -> MusicGen:
    """Like the default model when `grid` (pooled prefix + tempo + beat grid: bars from frame 0), else a plain
    cross-attention MusicGen (the downbeat is estimated from the audio). 1600 Hz, 50 frames/s."""
    torch.manual_seed(0)
    cond = TextConditioner(HashTextEncoder(dim=16, vocab=64), output_dim=32, pooled=grid, tempo=grid)
    codec, lm = tiny_codec(), tiny_lm()
    if grid:
        lm.add_beat_grid(codec.frame_rate)
        with torch.no_grad():
            torch.nn.init.normal_(lm.beat_grid.proj.weight, std=5.0)
    return MusicGen("tiny-grid" if grid else "tiny", codec, lm, cond.eval(), max_duration=3.0)
