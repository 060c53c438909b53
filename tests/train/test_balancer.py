"""Gradient balancer: losses that are absent on a step (adversarial before its start step)."""
import pytest
import torch

from tonecraft.train.balancer import Balancer


def test_missing_weighted_loss_contributes_nothing():
    y = torch.randn(2, 1, 16, requires_grad=True)
    target = torch.zeros_like(y)
    b = Balancer({"l1": 1.0, "adv": 4.0, "feat": 0.0})
    grad, metrics = b.compute({"l1": (y - target).abs().mean()}, y)
    assert grad.shape == y.shape and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert set(metrics) == {"ratio_l1"} and set(b.ema_total) == {"l1"}


def test_loss_without_weight_is_refused():
    y = torch.randn(2, 1, 16, requires_grad=True)
    with pytest.raises(KeyError, match="advv"):
        Balancer({"l1": 1.0, "adv": 4.0}).compute({"l1": y.abs().mean(), "advv": y.mean()}, y)
