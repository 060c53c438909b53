"""Copy check: a planted 3 s token copy is found with its time ranges, unrelated tokens give nothing; a
transposed melody is found by chroma, an unrelated one is not."""
import numpy as np
import torch

from tonecraft.data.token_cache import TokenCache, write_token_cache
from tonecraft.eval.similar import NgramIndex, chroma_frames, chroma_match, token_matches

FPS, CARD = 50.0, 1024


def _cache(tmp_path, rng):
    entries = [(f"clip{i}.wav", torch.from_numpy(rng.integers(0, CARD, (4, 500))), {}) for i in range(6)]
    return TokenCache(write_token_cache(tmp_path / "cache", entries, FPS, 32000, CARD)), entries


def test_planted_token_copy_is_found(tmp_path):
    rng = np.random.default_rng(0)
    cache, entries = _cache(tmp_path, rng)
    query = torch.from_numpy(rng.integers(0, CARD, (4, 400)))
    query[:, 100:250] = entries[2][1][:, 200:350]             # 3 s copied from clip2 at 4 s
    query[0, 170] = (query[0, 170] + 1) % CARD                 # with one token changed
    found = token_matches(query, NgramIndex.build(cache))
    assert list(found) == [2]
    s = found[2]
    assert abs(s.query_start - 2.0) < 0.05 and abs(s.query_end - 5.0) < 0.05
    assert abs(s.item_start - 4.0) < 0.05 and s.score > 0.8


def test_unrelated_tokens_match_nothing(tmp_path):
    rng = np.random.default_rng(1)
    cache, _ = _cache(tmp_path, rng)
    found = token_matches(torch.from_numpy(rng.integers(0, CARD, (4, 400))), NgramIndex.build(cache))
    assert all(s.seconds < 0.5 for s in found.values())


def _tune(notes, sr=16000, note=0.25, timbre=1):
    t = np.arange(int(sr * note)) / sr
    parts = [sum(np.sin(2 * np.pi * k * 220 * 2 ** (n / 12) * t) / k ** timbre for k in range(1, 5)) for n in notes]
    return torch.from_numpy(np.concatenate(parts)).float()[None]


def test_transposed_copy_is_found_by_chroma():
    rng = np.random.default_rng(2)
    melody = list(rng.integers(0, 12, 16))
    original = _tune(list(rng.integers(0, 12, 8)) + melody + list(rng.integers(0, 12, 8)))
    copy = _tune([m + 2 for m in melody], timbre=2)               # +2 semitones, another timbre
    unrelated = _tune(list(rng.integers(0, 12, 32)))
    hit = chroma_match(chroma_frames(copy, 16000), chroma_frames(original, 16000))
    miss = chroma_match(chroma_frames(unrelated, 16000), chroma_frames(original, 16000))
    assert hit.score > 0.9 and hit.shift == 2 and abs(hit.item_start - hit.query_start - 2.0) < 0.2
    assert miss.score < 0.9


def test_find_similar_with_a_prebuilt_index_flags_the_planted_copy(tmp_path):
    """Many queries share one `NgramIndex` (bench/memorisation.py); the result equals building it per query."""
    from tonecraft.eval.similar import find_similar

    rng = np.random.default_rng(3)
    cache, entries = _cache(tmp_path, rng)
    query = torch.from_numpy(rng.integers(0, CARD, (4, 400)))
    query[:, 50:200] = entries[4][1][:, 100:250]
    wav = torch.zeros(1, 16000)  # the cache's paths do not exist: chroma is skipped
    index = NgramIndex.build(cache)
    shared = find_similar(wav, 16000, cache=cache, query_codes=query, top=1, index=index)
    fresh = find_similar(wav, 16000, cache=cache, query_codes=query, top=1)
    assert [s.as_dict() for s in shared] == [s.as_dict() for s in fresh]
    assert shared[0].item == 4 and shared[0].near_copy and abs(shared[0].tokens.seconds - 3.0) < 0.15
