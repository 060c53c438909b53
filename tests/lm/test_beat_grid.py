"""Beat grid: per-step beat phase from the asked bpm, in training, full forward and incremental decoding."""
import math

import pytest
import torch

from tonecraft.lm.beat_grid import BeatGrid
from tonecraft.lm.config import LMConfig
from tonecraft.lm.model import LMModel

NAN = float("nan")


def test_features_follow_the_beat():
    grid = BeatGrid(dim=8, frame_rate=50.0)
    bpm = torch.tensor([120.0, NAN])  # 120 bpm at 50 Hz: a beat every 25 frames
    f = grid.features(bpm, torch.tensor([[0, 25, 250, 12.5], [0, 1, 2, 3]]))
    torch.testing.assert_close(f[0, 0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    torch.testing.assert_close(f[0, 1], f[0, 0], atol=1e-6, rtol=0)  # one beat later: same phase
    torch.testing.assert_close(f[0, 2], f[0, 0], atol=1e-6, rtol=0)  # ten beats later
    torch.testing.assert_close(f[0, 3], torch.tensor([0.0, -1.0, 0.0, 1.0]), atol=1e-6, rtol=0)  # half a beat
    assert f[1].abs().sum() == 0  # no tempo, no grid


def _lm(grid: bool, seed: int = 0) -> LMModel:
    torch.manual_seed(seed)
    return LMModel(LMConfig(dim=32, num_heads=2, num_layers=2, n_q=2, card=16,
                            beat_grid_rate=50.0 if grid else 0.0)).eval()


def test_zero_grid_is_the_plain_lm_and_a_trained_one_hears_the_bpm():
    plain, gridded = _lm(False), _lm(True)
    assert gridded.beat_grid.proj.weight.abs().sum() == 0  # reset_parameters keeps it at zero
    gridded.load_state_dict({**plain.state_dict(), **{f"beat_grid.{k}": v for k, v in
                                                      gridded.beat_grid.state_dict().items()}})
    codes = torch.randint(0, 16, (2, 2, 20))
    bpm = torch.tensor([90.0, 150.0])
    with torch.no_grad():
        assert torch.equal(plain(codes), gridded(codes, bpm=bpm))
        torch.nn.init.normal_(gridded.beat_grid.proj.weight)
        a = gridded(codes, bpm=bpm)
        b = gridded(codes, bpm=torch.tensor([150.0, 90.0]))
        c = gridded(codes, bpm=torch.tensor([NAN, NAN]))
    assert not torch.allclose(a, b)
    assert torch.equal(c, plain(codes))  # NaN bpm: exactly the LM without a grid


@pytest.mark.parametrize("first_frame", [0, 37])
def test_incremental_decoding_equals_full_forward(first_frame):
    lm = _lm(True)
    with torch.no_grad():
        torch.nn.init.normal_(lm.beat_grid.proj.weight)
        codes = torch.randint(0, 16, (2, 2, 12))
        bpm = torch.tensor([75.0, NAN])
        prefix = torch.randn(2, 1, 32)
        full = lm(codes, prefix=prefix, bpm=bpm, first_frame=first_frame)
        state = lm.init_state(2, 13)
        first = lm.step(codes[..., :5], state, prefix=prefix, last_only=False, bpm=bpm, first_frame=first_frame)
        rest = [lm.step(codes[..., t:t + 1], state, bpm=bpm, first_frame=first_frame) for t in range(5, 12)]
    torch.testing.assert_close(first, full[..., :5, :], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.stack(rest, 2), full[..., 5:, :], atol=1e-5, rtol=1e-5)


def test_first_frame_shifts_the_phase():
    lm = _lm(True)
    with torch.no_grad():
        torch.nn.init.normal_(lm.beat_grid.proj.weight)
        codes = torch.randint(0, 16, (1, 2, 10))
        bpm = torch.tensor([120.0])  # 25 frames per beat
        same = lm(codes, bpm=bpm, first_frame=25)
        other = lm(codes, bpm=bpm, first_frame=10)
        torch.testing.assert_close(same, lm(codes, bpm=bpm), atol=1e-5, rtol=0)
    assert not torch.allclose(other, same)


def test_add_beat_grid_to_a_trained_lm():
    lm = _lm(False)
    codes = torch.randint(0, 16, (1, 2, 8))
    with torch.no_grad():
        before = lm(codes)
        lm.add_beat_grid(50.0)
        assert lm.cfg.beat_grid_rate == 50.0
        assert torch.equal(lm(codes, bpm=torch.tensor([100.0])), before)
    assert math.isclose(lm.beat_grid.frame_rate, 50.0)
