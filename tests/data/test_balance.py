"""Balanced sampling weights (`data.balance`): rare groups of a sidecar field are drawn more often."""
import pytest
import torch

from tonecraft.data.balance import balanced_weights, group_of
from tonecraft.data.token_cache import TokenDataset, write_token_cache
from tonecraft.errors import ConfigError


def test_groups_of_text_numbers_and_missing_values():
    assert group_of("Fiddle ") == "fiddle" and group_of("piano, bass, drums") == "several"
    assert group_of(64) == group_of(90.0) == "band12" and group_of(91) == group_of(127) == "band13"
    assert group_of(None) == group_of("") == group_of(float("nan")) == group_of(-3) == "none"


def test_weights_flatten_each_field_by_the_power():
    infos = [{"instrument": "piano", "bpm": 120}] * 3 + [{"instrument": "synth lead", "bpm": 60}]
    assert balanced_weights(infos, ["instrument"]) == pytest.approx([1 / 3] * 3 + [1.0])
    assert balanced_weights(infos, ["instrument"], power=0.5) == pytest.approx([3 ** -0.5] * 3 + [1.0])
    assert balanced_weights(infos, ["instrument", "bpm"]) == pytest.approx([1 / 9] * 3 + [1.0])
    assert balanced_weights(infos, ["instrument"], power=0.0) == [1.0] * 4
    heard = [{"instrument": "fiddle", "bpm": 60}, {"instrument": "viola", "bpm": 100},
             {"instrument": "square-wave synth lead", "bpm": 130}]
    assert balanced_weights(heard, ["family"]) == pytest.approx([0.5, 0.5, 1.0])  # two strings, one synth
    assert balanced_weights(heard, ["tempo"]) == [1.0] * 3  # slow, medium, fast
    with pytest.raises(ConfigError, match="field 'mood'"):
        balanced_weights(infos, ["mood"])
    with pytest.raises(ConfigError, match="within 0..1"):
        balanced_weights(infos, ["instrument"], power=2.0)


def test_token_dataset_draws_a_rare_instrument_as_often_as_a_common_one(tmp_path):
    items = [(f"{i}.wav", torch.zeros(2, 20, dtype=torch.long), {"instrument": "piano" if i < 3 else "synth lead"})
             for i in range(4)]
    cache = write_token_cache(tmp_path / "c", items, frame_rate=10, sample_rate=8000, cardinality=16)

    def synth_share(**kw):
        ds = TokenDataset(cache, segment_duration=1.0, num_samples=2000, **kw)
        return sum(ds[(0, i)][1].path == "3.wav" for i in range(2000)) / 2000

    assert abs(synth_share() - 1 / 4) < 0.04
    assert abs(synth_share(balance_on=["instrument"]) - 1 / 2) < 0.04
    assert abs(synth_share(balance_on=["instrument"], balance_power=0.5) - 1 / (1 + 3 ** 0.5)) < 0.04
