"""Shift consistency: the delay drawn per step, the loss on a shift-invariant and a real encoder, and training."""
import numpy as np
import pytest
import torch

from helpers_generation import tiny_codec
from tonecraft.train.codec_trainer import CodecTrainer
from tonecraft.train.metrics import read_metrics
from tonecraft.train.shift_consistency import delay, shift_consistency_loss, shift_for_step

from test_codec_trainer import codec_config, manifest  # noqa: F401  (fixture)


def test_shift_per_step_is_below_a_frame_and_reproducible():
    shifts = [shift_for_step(s, 320, seed=0) for s in range(200)]
    assert min(shifts) >= 1 and max(shifts) <= 319 and len(set(shifts)) > 50
    assert shifts == [shift_for_step(s, 320, seed=0) for s in range(200)]
    assert shifts != [shift_for_step(s, 320, seed=1) for s in range(200)]
    with pytest.raises(ValueError, match="hop"):
        shift_for_step(0, 1)
    x = torch.arange(6.0).view(1, 1, 6)
    assert delay(x, 2).tolist() == [[[0, 0, 0, 1, 2, 3]]]


class FrameEnergy(torch.nn.Module):
    """A shift-invariant encoder for a steady tone: the RMS of each 100-sample frame."""

    def forward(self, x):
        return x[..., : x.shape[-1] // 100 * 100].unflatten(-1, (-1, 100)).pow(2).mean(-1).sqrt()


def test_zero_for_an_invariant_encoder_positive_with_gradient_for_a_real_one():
    t = torch.arange(8000) / 8000
    tone = (0.5 * torch.sin(2 * np.pi * 440 * t)).view(1, 1, -1)
    stand_in = type("C", (), {"encoder": FrameEnergy()})()
    assert float(shift_consistency_loss(stand_in, tone, 37)) < 1e-3
    codec = tiny_codec(sample_rate=8000, ratios=(4, 4))
    codec.train()
    loss = shift_consistency_loss(codec, tone.expand(2, 1, -1).contiguous(), 7)
    loss.backward()
    assert float(loss.detach()) > 0.01
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in codec.encoder.parameters())


def test_training_with_it_makes_the_latents_follow_the_sound(manifest, tmp_path):  # noqa: F811
    """The same 40 steps with and without the loss: the trained encoder's latents of the clip and of the clip
    delayed by 13 samples are much closer with it."""
    import soundfile as sf

    x = torch.from_numpy(sf.read(manifest.parent / "clip.wav", dtype="float32")[0])[None, None]
    scores = {}
    for weight in (0.0, 1.0):
        cfg = codec_config(manifest, tmp_path / f"run{weight}", steps=40)
        cfg.losses.shift_consistency = weight
        tr = CodecTrainer(cfg)
        tr.fit()
        with torch.no_grad():
            scores[weight] = float(shift_consistency_loss(tr.codec.eval(), x, 13))
    logged = [m for m in read_metrics(tmp_path / "run1.0") if "shift_consistency" in m]
    assert len(logged) == 4
    assert scores[1.0] < 0.5 * scores[0.0], scores
