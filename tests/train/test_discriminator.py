"""The MS-STFT discriminator and its hinge losses: shapes, loss values, and that it can learn at all.

The last one exists because a codec run's discriminator loss sat at 2.00 for 280 steps: trained alone on an easy
real-vs-noisy task with the codec trainer's optimizer settings, the same module must leave 2.00 quickly.
"""
import torch

from tonecraft.train.discriminator import (DiscriminatorConfig, MultiScaleSTFTDiscriminator,
                                           discriminator_hinge_loss, feature_matching_loss,
                                           generator_hinge_loss)

SR = 16000
TINY = DiscriminatorConfig(filters=8, n_ffts=[512, 256], hop_lengths=[128, 64], win_lengths=[512, 256])


def _tones(batch: int, seconds: float, generator: torch.Generator) -> torch.Tensor:
    t = torch.arange(int(SR * seconds)) / SR
    freqs = 200 + 400 * torch.rand(batch, 1, 1, generator=generator)
    return 0.3 * torch.sin(2 * torch.pi * freqs * t)


def test_one_logit_map_and_feature_maps_per_scale():
    disc = MultiScaleSTFTDiscriminator(TINY)
    logits, fmaps = disc(torch.randn(2, 1, SR // 2))
    assert len(logits) == len(fmaps) == 2
    assert all(lg.shape[0] == 2 and lg.shape[1] == 1 for lg in logits)
    assert all(len(fm) == len(TINY.dilations) + 2 for fm in fmaps)


def test_hinge_losses_at_known_logits():
    zero = [torch.zeros(2, 1, 4, 4)]
    assert discriminator_hinge_loss(zero, zero).item() == 2.0  # an untrained discriminator sits here
    confident_real, confident_fake = [torch.full((2, 1, 4, 4), 1.5)], [torch.full((2, 1, 4, 4), -1.5)]
    assert discriminator_hinge_loss(confident_real, confident_fake).item() == 0.0
    assert generator_hinge_loss(confident_fake).item() == 1.5
    same = [[torch.ones(2, 3, 4, 4)]]
    assert feature_matching_loss(same, same).item() == 0.0


def test_discriminator_learns_to_tell_clean_from_noisy():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    disc = MultiScaleSTFTDiscriminator(TINY)
    opt = torch.optim.Adam(disc.parameters(), lr=5e-4, betas=(0.5, 0.9))  # the codec trainer's defaults
    losses = []
    for _ in range(40):
        real = _tones(4, 0.5, g)
        fake = real + 0.05 * torch.randn(real.shape, generator=g)
        logits, _ = disc(torch.cat([real, fake]))
        loss = discriminator_hinge_loss([lg[:4] for lg in logits], [lg[4:] for lg in logits])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert abs(losses[0] - 2.0) < 0.05
    assert sum(losses[-5:]) / 5 < 1.8, losses[-5:]
    with torch.no_grad():
        real = _tones(4, 0.5, g)
        logits, _ = disc(torch.cat([real, real + 0.05 * torch.randn(real.shape, generator=g)]))
    assert all(lg[:4].mean() > lg[4:].mean() for lg in logits)
