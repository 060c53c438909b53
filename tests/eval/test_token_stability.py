"""Shift agreement: tokens of a clip vs the same clip delayed by a millisecond."""
import numpy as np
import pytest
import torch

from helpers_generation import tiny_codec
from tonecraft.eval.token_stability import active_frames, shift_agreement


class StandInCodec:
    """hop 100; `phase=False`: code = frame energy bucket (phase-free); True: code = the frame's first sample bucket."""
    sample_rate, frame_rate, channels = 8000, 80.0, 1

    def __init__(self, phase: bool):
        self.phase = phase

    def encode(self, x):
        n = x.shape[-1] // 100
        f = x[0, 0, : n * 100].reshape(n, 100)
        v = f[:, 0] if self.phase else f.pow(2).mean(1).sqrt()
        codes = torch.stack([((v + 1) * 50).long(), ((v + 1) * 500).long()])
        return codes[None], None


def _tone(hz=437.0, seconds=0.5, sr=8000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_a_phase_free_code_agrees_and_a_phase_code_does_not():
    tone = _tone()
    free = shift_agreement(StandInCodec(phase=False), [tone], shift=16)
    phase = shift_agreement(StandInCodec(phase=True), [tone], shift=16)
    assert free["n_clips"] == 1 and free["n_frames"] >= 38
    assert free["per_codebook"][0] > 0.9
    assert phase["per_codebook"][0] < 0.3


def test_silence_is_not_counted_and_the_shift_must_be_positive():
    x = np.zeros(4000, np.float32)
    x[1000:1400] = _tone(seconds=0.05)
    assert active_frames(x, 100, 40).sum() == 4
    assert shift_agreement(StandInCodec(False), [np.zeros(4000, np.float32)])["n_clips"] == 0
    with pytest.raises(ValueError, match="positive"):
        shift_agreement(StandInCodec(False), [x], shift=0)


def test_runs_on_a_real_codec():
    codec = tiny_codec()
    r = shift_agreement(codec, [np.random.default_rng(0).uniform(-0.5, 0.5, 1600).astype(np.float32)], shift=2)
    assert len(r["per_codebook"]) == codec.n_q and all(0 <= v <= 1 for v in r["per_codebook"])
