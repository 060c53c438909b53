"""Beat grid: the asked tempo as a per-step input of the LM (tonecraft's default model, not audiocraft).

A tempo told once, in a prefix, barely helps a token LM under teacher forcing: after the first beats the audio
context already shows the tempo, so the prefix is worth almost nothing to the loss and the LM learns to ignore
it (measured: the default LM scored the test split equally well with the true bpm and a 1.6x wrong one). The
grid instead adds, at every sequence step, where that step falls in the beat: sin/cos of 2*pi*phase and of
4*pi*phase (beat and half beat), phase = seconds since the start of the clip x bpm / 60. Notes start on the
grid all through the clip, so the grid pays off at every step, and at generation time it sets the tempo.

The corpus crops every clip on a downbeat, so phase 0 is the clip start; a training segment that starts
`first_frame` frames into its clip continues that phase. No tempo (NaN bpm, the null condition) -> zero input.
"""
from __future__ import annotations

import math

import torch
from torch import nn

N_FEATURES = 4


class BeatGrid(nn.Module):
    def __init__(self, dim: int, frame_rate: float):
        super().__init__()
        self.frame_rate = float(frame_rate)
        self.proj = nn.Linear(N_FEATURES, dim, bias=True)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Zero: a grid added to a trained LM leaves it unchanged until fine-tuning moves it."""
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def features(self, bpm: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """bpm [B] (NaN = none), frames [B, S] frame index of each step since the clip start -> [B, S, 4]."""
        present = ~torch.isnan(bpm)
        beats_per_frame = bpm.nan_to_num(0.0).double() / 60.0 / self.frame_rate
        phase = torch.remainder(frames.double() * beats_per_frame[:, None], 1.0)  # exact over long clips
        angle = 2 * math.pi * phase
        feats = torch.stack([angle.sin(), angle.cos(), (2 * angle).sin(), (2 * angle).cos()], dim=-1)
        return (feats * present[:, None, None]).float()

    def forward(self, bpm: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """-> [B, S, dim] added to the token embeddings; exactly zero where there is no tempo."""
        present = (~torch.isnan(bpm)).to(self.proj.weight.dtype)[:, None, None]
        return self.proj(self.features(bpm, frames).to(self.proj.weight.dtype)) * present


def step_frames(first_frame: int | torch.Tensor, start: int, length: int, batch: int,
                device: torch.device) -> torch.Tensor:
    """[B, length] frame index of sequence steps start..start+length-1 for segments that begin `first_frame`
    (an int or [B]) frames into their clip."""
    first = torch.as_tensor(first_frame, device=device).reshape(-1, 1).expand(batch, 1)
    return first + start + torch.arange(length, device=device)[None]


__all__ = ["BeatGrid", "N_FEATURES", "step_frames"]
