"""The pooled text vector (one LM prefix position): masked mean of the encoder states, projected; zero for null."""
import torch

from tonecraft.conditioning.base import TextConditioner
from tonecraft.conditioning.hash_encoder import HashTextEncoder


def test_pooled_is_projected_masked_mean_and_null_is_zero():
    torch.manual_seed(0)
    cond = TextConditioner(HashTextEncoder(dim=16, vocab=64), output_dim=8, pooled=True).eval()
    inputs = cond.tokenize(["slow organ chorale", None, "reel"])
    emb, mask, pooled = cond.encode_all(inputs)
    assert emb.shape[:2] == mask.shape and pooled.shape == (3, 1, 8)
    hidden = cond.encoder.encode(inputs)
    for i in (0, 2):
        n = int(mask[i].sum())
        want = cond.pooled_proj(hidden[i, :n].mean(0))
        torch.testing.assert_close(pooled[i, 0], want)
    assert torch.equal(pooled[1], torch.zeros(1, 8))  # null text: no bias leaks in
    assert not torch.equal(pooled[0], pooled[2])
    # the plain forward is unchanged by the option
    e2, m2 = cond(inputs)
    assert torch.equal(e2, emb) and torch.equal(m2, mask)
    assert {"pooled_proj.weight", "pooled_proj.bias"} <= set(cond.state_dict())


def test_pooled_off_by_default():
    cond = TextConditioner(HashTextEncoder(dim=16, vocab=64), output_dim=8)
    assert not cond.pooled and cond.condition_all(["x"])[2] is None
    assert not any(k.startswith("pooled_proj") for k in cond.state_dict())
