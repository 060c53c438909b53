"""models.output: the live stream's watermark lag and the re-cut to the user's chunk size."""
import pytest
import torch

from tonecraft.models.output import STREAM_BLOCK_S, STREAM_FEED_S, Provenance, marked_stream
from tonecraft.models.streaming import rechunk
from tonecraft.provenance import Payload, StreamEmbedder

SR = 32000


def test_rechunk_cuts_exact_sizes_and_keeps_every_sample():
    pieces = [torch.randn(2, n) for n in (5, 0, 13, 7, 1, 30)]
    out = list(rechunk(iter(pieces), 10))
    assert [c.shape[-1] for c in out] == [10] * 5 + [6]
    assert torch.equal(torch.cat(out, dim=-1), torch.cat(pieces, dim=-1))


@pytest.mark.parametrize("sr", [16000, 32000, 44100, 48000])
def test_first_marked_second_needs_only_block_plus_context(sr):
    """Fed in STREAM_FEED_S pieces, the first marked second leaves once one block + context exist (fed 1 s
    at a time, the mark waited for the second chunk: first audio after 2 s of sampling)."""
    fed = []

    def pieces():
        n = int(round(STREAM_FEED_S * sr))
        while True:
            fed.append(n)
            yield 0.1 * torch.randn(1, n)

    embedder = StreamEmbedder(sr, Payload.for_generation("m", "p", 1), block_seconds=STREAM_BLOCK_S)
    assert embedder.block >= sr  # one block holds the first whole second
    marked, tags = marked_stream(pieces(), sr, Provenance(model="m", prompt="p", seed=1), expected_seconds=4)
    first = next(rechunk(marked, sr))
    assert first.shape[-1] == sr
    assert sum(fed) <= embedder.block + embedder.context + STREAM_FEED_S * sr
    assert sum(fed) / sr < 1.5  # 32 kHz: 1.3 s
    assert '"watermark": "on"' in tags["comment"]
