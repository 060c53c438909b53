import math

import pytest
import torch

from helpers_codec import randomize_codebooks_
from tonecraft.codec.quantizer import (ResidualVectorQuantizer, bandwidth_for_n_q, bandwidth_per_codebook, kmeans,
                                       n_q_for_bandwidth)


def _rvq(n_q=4, bins=32, dim=8, **kw):
    torch.manual_seed(0)
    q = ResidualVectorQuantizer(dimension=dim, n_q=n_q, bins=bins, **kw)
    with torch.no_grad():
        randomize_codebooks_((layer._codebook for layer in q.layers), scale=1.0)
    return q.eval()


def test_bandwidth_helpers():
    assert bandwidth_per_codebook(75, 1024) == 0.75
    assert [n_q_for_bandwidth(b, 75, 1024, 32) for b in (1.5, 3, 6, 12, 24)] == [2, 4, 8, 16, 32]
    assert [n_q_for_bandwidth(b, 150, 1024, 16) for b in (3, 6, 12, 24)] == [2, 4, 8, 16]
    assert n_q_for_bandwidth(2.2, 50, 2048, 4) == 4  # 2.2 / 0.55 is 3.9999... in floats
    assert n_q_for_bandwidth(None, 50, 2048, 4) == 4
    assert n_q_for_bandwidth(0.1, 50, 2048, 4) == 1
    assert math.isclose(bandwidth_for_n_q(4, 50, 2048), 2.2)


def test_state_dict_names():
    q = ResidualVectorQuantizer(dimension=8, n_q=2, bins=16)
    assert set(q.state_dict()) == {f"vq.layers.{i}._codebook.{b}" for i in range(2)
                                   for b in ("inited", "cluster_size", "embed", "embed_avg")}


def test_encode_is_residual_nearest_neighbour():
    q = _rvq()
    x = torch.randn(3, 8, 11)
    codes = q.encode(x)
    assert codes.shape == (3, 4, 11) and codes.dtype == torch.int64
    residual = x.transpose(1, 2).reshape(-1, 8)
    for i, layer in enumerate(q.layers):
        e = layer.codebook
        expected = torch.cdist(residual, e).argmin(dim=1)
        assert torch.equal(codes[:, i].reshape(-1), expected)
        residual = residual - e[expected]
    # decode = sum of codewords, for any prefix of codebooks
    assert torch.allclose(q.decode(codes), x - residual.view(3, 11, 8).transpose(1, 2), atol=1e-5)
    assert torch.equal(q.encode(x, n_q=2), codes[:, :2])
    assert q.decode(codes[:, :1]).shape == (3, 8, 11)
    with pytest.raises(ValueError):
        q.encode(x, n_q=5)


def test_encode_matches_encodec_package():
    vq_ref = pytest.importorskip("encodec.quantization.vq")
    torch.manual_seed(0)
    ref = vq_ref.ResidualVectorQuantizer(dimension=16, n_q=6, bins=64)
    with torch.no_grad():
        randomize_codebooks_((layer._codebook for layer in ref.vq.layers), scale=1.0)
    ours = ResidualVectorQuantizer(dimension=16, n_q=6, bins=64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 16, 50)
    ref_codes = ref.encode(x, sample_rate=50, bandwidth=None).transpose(0, 1)
    assert torch.equal(ours.encode(x), ref_codes)
    assert torch.allclose(ours.decode(ref_codes), ref.decode(ref_codes.transpose(0, 1)), atol=1e-6)


def test_kmeans_finds_clusters():
    torch.manual_seed(0)
    centers = torch.randn(4, 3) * 10
    x = (centers[:, None] + 0.01 * torch.randn(4, 50, 3)).reshape(-1, 3)
    means, counts = kmeans(x, 4, 20)
    assert counts.sum() == 200
    assert torch.cdist(centers, means).min(dim=1).values.max() < 0.1


def test_training_updates_codebooks_and_gradients():
    torch.manual_seed(0)
    q = ResidualVectorQuantizer(dimension=8, n_q=3, bins=16, kmeans_iters=5, decay=0.9).train()
    assert not q.layers[0]._codebook.inited.item()
    x = torch.randn(4, 8, 40, requires_grad=True)
    out = q(x)
    assert all(layer._codebook.inited.item() for layer in q.layers)  # k-means on the first batch
    assert out.codes.shape == (4, 3, 40) and out.penalty.item() > 0
    # straight-through: d(sum quantized)/dx = 1, plus the commitment gradient
    (out.quantized.sum()).backward()
    assert torch.allclose(x.grad, torch.ones_like(x))
    x.grad = None
    out = q(x)
    out.penalty.backward()
    assert x.grad.abs().sum() > 0
    # EMA moves the codebook towards the data
    before = q.layers[0].codebook.clone()
    q(x + 5.0)
    assert not torch.equal(before, q.layers[0].codebook)
    # eval mode changes nothing
    q.eval()
    frozen = q.layers[0].codebook.clone()
    q(x)
    assert torch.equal(frozen, q.layers[0].codebook)


def test_dead_codes_are_replaced_by_batch_vectors():
    torch.manual_seed(0)
    q = ResidualVectorQuantizer(dimension=4, n_q=1, bins=8, kmeans_init=False, threshold_ema_dead_code=2).train()
    cb = q.layers[0]._codebook
    cb.embed.fill_(100.0)  # far away from the data: every code is dead
    x = torch.randn(2, 4, 30)
    q(x)
    rows = x.transpose(1, 2).reshape(-1, 4)
    assert cb.embed.abs().max() < 50  # replaced by (EMA of) batch vectors
    assert torch.cdist(cb.embed, rows).min(dim=1).values.max() < 10


def test_quantizer_dropout_draws_n_q():
    torch.manual_seed(0)
    q = ResidualVectorQuantizer(dimension=4, n_q=6, bins=8, q_dropout=True, kmeans_iters=2).train()
    seen = {q(torch.randn(1, 4, 20)).n_q for _ in range(30)}
    assert seen <= set(range(1, 7)) and len(seen) > 2
    assert q.eval()(torch.randn(1, 4, 20)).n_q == 6
