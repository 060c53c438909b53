"""Caption variants (tonecraft.data.caption_variants): other words for the same sidecar facts, never a tempo the
clip does not have (the tempo conditioner and the beat grid read the bpm from the caption)."""
import json
import random

import pytest

from tonecraft.conditioning.tempo import parse_bpm
from tonecraft.data.caption_variants import NICKNAMES, caption_variant, pace, tempo_phrase

PIANO = {"description": "A calm four-part Bach chorale played on acoustic grand piano in A minor, 57 bpm, 4/4 time",
         "instrument": "acoustic grand piano", "bpm": 57.0, "key": "a minor", "moods": ["calm", "serene"],
         "keywords": ["four-part bach chorale", "classical", "acoustic grand piano", "slow", "4/4 time", "reverb"]}
BAND = {"instrument": "bass, jazz guitar, drums", "bpm": 75.0, "key": "ab major", "moods": ["relaxed"],
        "keywords": ["rock ballad", "rock", "bass", "jazz guitar", "drums"]}


def _variants(info, n=300, seed=0):
    rng = random.Random(seed)
    return [caption_variant(info, rng) for _ in range(n)]


def test_variants_differ_and_keep_the_facts():
    out = _variants(PIANO)
    assert len(set(out)) > 100
    names = NICKNAMES["acoustic grand piano"]
    for v in out:
        assert any(n.lower() in v.lower() for n in names), v
        assert parse_bpm(v) in (None, 57.0), v  # never another tempo
        assert "minor" not in v or "A minor" in v
    with_tempo = sum(parse_bpm(v) == 57.0 for v in out) / len(out)
    assert 0.6 < with_tempo < 0.9  # a quarter or so say no tempo at all
    assert any("slow" in v for v in out) and not any("fast" in v for v in out)  # speed words agree with 57 bpm


def test_a_style_that_reads_as_a_tempo_word_gets_the_number():
    air = {"instrument": "harp", "bpm": 95.0, "moods": [], "keywords": ["slow air", "folk", "harp"]}
    for v in _variants(air, 200):
        assert parse_bpm(v) == 95.0 if "slow" in v else parse_bpm(v) in (None, 95.0), v


def test_a_band_keeps_its_instruments():
    for v in _variants(BAND, 50):
        assert "bass, jazz guitar, drums" in v.lower(), v


def test_deterministic_and_no_instrument_means_no_variant():
    assert _variants(PIANO, 20, seed=3) == _variants(PIANO, 20, seed=3)
    assert caption_variant({"description": "x", "bpm": 90}, random.Random(0)) is None


@pytest.mark.parametrize("bpm, word", [(50, "slow"), (66, "slow"), (80, "moderate"), (110, "upbeat"), (150, "fast")])
def test_pace_edges(bpm, word):
    assert pace(bpm) == word


def test_tempo_phrase_is_empty_without_a_bpm():
    assert tempo_phrase(None, random.Random(0)) == ""


def test_the_token_dataset_rewrites_the_share_asked(tmp_path):
    import torch

    from tonecraft.data.token_cache import FORMAT, TokenDataset

    cache = tmp_path / "cache"
    cache.mkdir()
    codes = torch.zeros(2, 100, dtype=torch.int16).numpy()
    codes.tofile(cache / "codes.bin")
    index = {"format": FORMAT, "version": 1, "num_codebooks": 2, "cardinality": 16, "frame_rate": 50.0, "sample_rate": 32000,
             "codec": "x", "total_frames": 100, "items": [{"path": "a.wav", "offset": 0, "frames": 100,
                                                           "duration": 2.0, "info": PIANO}]}
    (cache / "index.json").write_text(json.dumps(index))
    plain = TokenDataset(cache, 1.0, num_samples=50)
    always = TokenDataset(cache, 1.0, num_samples=50, caption_variant_p=1.0)
    half = TokenDataset(cache, 1.0, num_samples=200, caption_variant_p=0.5)
    assert {plain[i][1].description for i in range(50)} == {PIANO["description"]}
    rewritten = [always[i][1].description for i in range(50)]
    assert PIANO["description"] not in rewritten and len(set(rewritten)) > 20
    assert rewritten == [always[i][1].description for i in range(50)]  # the same sample, the same caption
    share = sum(half[i][1].description != PIANO["description"] for i in range(200)) / 200
    assert 0.35 < share < 0.65


LASER = {"description": "a short falling laser zap", "keywords": ["weapon"]}


def test_sfx_variants_say_it_in_everyday_words():
    from tonecraft.data.caption_variants import sfx_caption_variant

    rng = random.Random(0)
    out = [sfx_caption_variant(LASER, rng) for _ in range(300)]
    assert any("laser shot" in v for v in out) and any("laser blast" in v for v in out)
    assert any(v.endswith(", weapon sound") for v in out) and any(v.startswith("sound effect of ") for v in out)
    assert any(v.startswith(("a quick ", "a brief ")) for v in out) and LASER["description"] in out
    # the sweep's direction is a fact: kept, unless the variant is the everyday name alone, as users type it
    bare = {"a laser zap", "a laser shot", "a laser blast", "a zap", "a blaster shot", "a laser"}
    assert all("falling" in v or v in bare for v in out)
    assert {"a laser shot", "a laser"} <= set(out) and 0.1 < sum(v in bare for v in out) / len(out) < 0.3
    assert not any(" a explosion" in v or v.startswith("a explosion") for v in
                   [sfx_caption_variant({"description": "a deep rumbling explosion"}, rng) for _ in range(50)])
    assert sfx_caption_variant({"description": ""}, rng) is None


def test_the_token_dataset_takes_a_variant_style(tmp_path):
    import torch

    from tonecraft.data.token_cache import FORMAT, TokenDataset
    from tonecraft.errors import ConfigError

    cache = tmp_path / "cache"
    cache.mkdir()
    torch.zeros(20, 2, dtype=torch.int16).numpy().tofile(cache / "codes.bin")
    (cache / "index.json").write_text(json.dumps(
        {"format": FORMAT, "version": 1, "num_codebooks": 2, "cardinality": 16, "frame_rate": 50.0,
         "sample_rate": 16000, "codec": "x", "total_frames": 20,
         "items": [{"path": "a.wav", "offset": 0, "frames": 20, "duration": 0.4, "info": LASER}]}))
    ds = TokenDataset(cache, 0.2, num_samples=40, caption_variant_p=1.0, caption_variant_style="sfx")
    assert len({ds[i][1].description for i in range(40)}) > 5
    with pytest.raises(ConfigError, match="caption_variant_style"):
        TokenDataset(cache, 0.2, caption_variant_style="poetry")


def test_blaster_captions_get_everyday_names_and_other_captions_keep_their_draws(monkeypatch):
    """The "laser blast" rule (the blaster kind) comes first, so the zap captions of the shipped model's corpora
    get the same variants with or without it."""
    from tonecraft.data import caption_variants as cv

    rng = random.Random(1)
    out = [cv.sfx_caption_variant({"description": "a deep falling laser blast"}, rng) for _ in range(200)]
    assert {"a laser shot", "a blaster shot", "a ray gun shot"} <= set(out)
    assert any(v.endswith("deep falling laser gun shot") for v in out)
    with_rule = [cv.sfx_caption_variant(LASER, random.Random(s)) for s in range(100)]
    monkeypatch.setattr(cv, "SFX_SYNONYMS", tuple(r for r in cv.SFX_SYNONYMS if r[0] != "laser blast"))
    assert with_rule == [cv.sfx_caption_variant(LASER, random.Random(s)) for s in range(100)]
