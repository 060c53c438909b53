"""music21 -> MIDI conversion on corpus pieces that trip music21's exporter (needs music21 only)."""
import warnings

import pytest

music21 = pytest.importorskip("music21", reason="music21 is not installed (pip install music21)")

from tonecraft.data.corpus.cache import CachedFailure, PieceCache  # noqa: E402
from tonecraft.data.corpus.convert import convert_work  # noqa: E402
from tonecraft.data.corpus.events import parse_midi  # noqa: E402
from tonecraft.data.corpus.sources import EXCLUDED_NOTE, Work, corpus_root, tune_key  # noqa: E402


def _work(path, number):
    pid = f"{path.rsplit('.', 1)[0]}#{number}"
    col = path.split("/")[0]
    return Work(pid, col, path, number, None, tune_key(col, pid, None))


@pytest.mark.parametrize("path,number,workaround", [
    ("oneills1850/0001-0050.abc", 6, "dedupe"),  # one TimeSignature object shared by several measures
    ("oneills1850/0701-0720.abc", 701, "no-repeats"),  # music21 expands its repeats 12x: play through once
])
def test_known_music21_export_problems_are_worked_around(path, number, workaround):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, facts = convert_work(_work(path, number), corpus_root())
    assert facts["workaround"] == workaround
    piece = parse_midi(data)
    assert len(piece.notes) > 20 and piece.voices == [0]
    assert facts["meter"] and facts["key"]["mode"] in ("major", "minor")
    assert 0 < facts["length_ql"] < 400


def test_pickup_is_measured_from_the_score():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, facts = convert_work(_work("oneills1850/0001-0050.abc", 6), corpus_root())
    assert facts["pickup_ql"] == 1.0  # 3/4 tune starting on beat 3


def test_failures_are_cached(tmp_path):
    cache = PieceCache(tmp_path)
    cache.put_failure("x/y#1", "boom")
    with pytest.raises(CachedFailure):
        cache.get("x/y#1")
    assert cache.get("x/y#2") is None
    cache.put("x/y#3", b"MThd", {"a": 1})
    assert cache.get("x/y#3") == (b"MThd", {"a": 1, "cache_version": 1})


def test_restricted_collections_are_not_offered():
    from tonecraft.data.corpus.sources import COLLECTIONS, list_works
    from tonecraft.errors import ConfigError

    for name in ("essenFolksong", "palestrina", "beethoven"):
        assert name not in COLLECTIONS
        with pytest.raises(ConfigError):
            list_works((name,))
    assert "essenFolksong" in EXCLUDED_NOTE
