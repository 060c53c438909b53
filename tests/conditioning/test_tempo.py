"""Tempo read from the prompt and embedded into the pooled prefix (the default model's tempo conditioning)."""
import math

import pytest
import torch

from tonecraft.conditioning.base import TextConditioner
from tonecraft.conditioning.factory import ConditionerConfig
from tonecraft.conditioning.hash_encoder import HashTextEncoder
from tonecraft.conditioning.tempo import TempoEmbedding, bpm_tensor, parse_bpm
from tonecraft.errors import ConfigError


@pytest.mark.parametrize("text, bpm", [
    ("A fast lively reel in D major, 113 bpm, in a small room", 113.0),  # the number wins over the word
    ("house groove at 124BPM", 124.0),
    ("waltz, 96.5 bpm", 96.5),
    ("a march at 140 beats per minute", 140.0),  # free-language phrasings (bench/paraphrases.jsonl)
    ("slow blues, 60 beats a minute", 60.0),
    ("one beat per minute", None),
    ("slow church organ chorale in G minor", 66.0),
    ("a very slow air on cello", 50.0),  # "very slow" before "slow"
    ("Fast bright jazz", 144.0),
    ("a 900 bpm mistake, played slow", 66.0),  # an impossible number is not a tempo
    ("breakfast music in 3/4", None),  # words, not substrings
    ("solo piano", None),
    ("", None),
    (None, None),
])
def test_parse_bpm(text, bpm):
    assert parse_bpm(text) == bpm


def test_features_are_tents_in_log_tempo():
    emb = TempoEmbedding(dim=4, bins=20)
    feats = emb.features(torch.tensor([40.0, 240.0, 10.0, 1000.0, math.nan, 98.0]))
    assert feats[0, 0] == pytest.approx(1) and feats[1, -1] == pytest.approx(1, abs=1e-5)  # ends of the range
    assert torch.allclose(feats[[2, 3]], feats[[0, 1]], atol=1e-5)  # outside: clamped
    assert feats[4].abs().sum() == 0  # no tempo: no features
    assert torch.allclose(feats[[0, 1, 5]].sum(1), torch.ones(3))
    assert (feats[5] > 0).sum() == 2  # in between: two neighbouring bins share it


def test_embedding_starts_at_zero_and_none_stays_zero():
    emb = TempoEmbedding(dim=8)
    assert emb(torch.tensor([120.0, math.nan])).abs().sum() == 0
    torch.nn.init.normal_(emb.proj.weight)
    torch.nn.init.normal_(emb.proj.bias)
    out = emb(torch.tensor([60.0, 150.0, math.nan]))
    assert out.shape == (3, 1, 8)
    assert not torch.allclose(out[0], out[1])
    assert out[2].abs().sum() == 0  # the bias does not leak into "no tempo"


def _conditioner(tempo=True, word_dropout=0.0):
    torch.manual_seed(0)
    cond = TextConditioner(HashTextEncoder(dim=16, vocab=64), output_dim=12, pooled=True, tempo=tempo,
                           word_dropout=word_dropout)
    if tempo:
        torch.nn.init.normal_(cond.tempo_proj.proj.weight)
    return cond


def test_conditioner_adds_tempo_to_pooled_only():
    cond = _conditioner().eval()
    plain = _conditioner(tempo=False).eval()
    texts = ["organ chorale, 60 bpm", "organ chorale, 150 bpm", "organ chorale", None]
    emb, mask, pooled = cond.condition_all(texts)
    emb0, mask0, pooled0 = plain.condition_all(texts)
    assert torch.equal(emb, emb0) and torch.equal(mask, mask0)  # cross-attention tokens untouched
    delta = (pooled - pooled0).abs().sum((1, 2))
    assert delta[0] > 0 and delta[1] > 0 and not torch.allclose(pooled[0], pooled[1])
    assert delta[2] == 0  # no tempo in the text
    assert pooled[3].abs().sum() == 0  # null condition stays exactly zero


def test_bpm_is_read_before_word_dropout():
    cond = _conditioner(word_dropout=0.99).train()
    inputs = cond.tokenize(["reel on fiddle 113 bpm", None])
    assert inputs["bpm"][0] == 113.0 and math.isnan(inputs["bpm"][1])
    assert torch.equal(bpm_tensor(["x 90 bpm", "y"]).isnan(), torch.tensor([False, True]))


def test_tempo_needs_pooled_prefix():
    with pytest.raises(ValueError, match="needs pooled"):
        TextConditioner(HashTextEncoder(dim=16, vocab=64), output_dim=12, tempo=True)
    with pytest.raises(ConfigError, match="needs conditioner.pooled_prefix"):
        ConditionerConfig(kind="hash", tempo=True)


def test_add_tempo_keeps_outputs_until_trained():
    cond = _conditioner(tempo=False).eval()
    before = cond.condition_all(["reel, 113 bpm"])[2]
    cond.add_tempo()
    assert cond.tempo and cond.condition_all(["reel, 113 bpm"])[2].equal(before)


@pytest.mark.parametrize("text, bpm", [
    ("fast reel with a laid-back hip-hop beat", 144.0),  # the earliest word, not the first in TEMPO_WORDS
    ("laid-back groove with fast hi-hats", 80.0),
    ("slow intro that turns very fast", 66.0),
    ("very slow waltz", 50.0),  # "very slow" and "slow" overlap: the longer one starting first wins
    ("Allegro string quartet with a slow ending", 132.0),
    ("upbeat pop, fast drums, 90 bpm", 90.0),  # an explicit number still wins over words
])
def test_parse_bpm_reads_the_earliest_tempo_word(text, bpm):
    assert parse_bpm(text) == bpm


def test_parse_bpm_knows_every_tempo_word():
    from tonecraft.conditioning.tempo import TEMPO_WORDS

    for word, bpm in TEMPO_WORDS:
        assert parse_bpm(f"a {word.upper()} tune") == bpm, word
