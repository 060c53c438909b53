"""Pure-Python parts of the corpus renderer: no FluidSynth needed."""
import random

import pytest

from tonecraft.data.corpus import drums
from tonecraft.data.corpus.caption import ClipAttributes, describe, key_name, pitch_class, sidecar
from tonecraft.data.corpus.mma import GROOVES, make_chart
from tonecraft.data.corpus.plan import ClipPlan, make_plan, split_of, work_units
from tonecraft.data.corpus.sources import Work, tune_key
from tonecraft.data.corpus.styles import felt_tempo


def test_drum_grids_are_whole_and_tile_the_bar():
    for p in drums.PATTERNS.values():
        for grid in p.rows.values():
            assert len(grid) == p.beats * p.steps, p.name
    assert {p.name for p in drums.compatible_patterns(3, False)} >= {"waltz"}
    assert all(p.compound for p in drums.compatible_patterns(2, True))
    assert "waltz" not in {p.name for p in drums.compatible_patterns(4, False)}


def test_drum_notes_start_on_the_downbeat_and_are_reproducible():
    pat = drums.PATTERNS["rock"]
    a = drums.drum_notes(pat, 240, 480 * 4 * 8, 480, 4, random.Random(1))
    b = drums.drum_notes(pat, 240, 480 * 4 * 8, 480, 4, random.Random(1))
    assert (a == b).all()
    assert a[:, 0].min() == 240  # the first downbeat after a pickup is not jittered
    assert (a[:, 0] < 480 * 4 * 8 + 480).all()
    assert drums.CRASH in a[a[:, 0] == 240, 3]


@pytest.mark.parametrize("meter,beat_ql,bar_ql,quarter,want_bpm,want_beat", [
    ("6/8", 1.5, 3.0, 180.0, 120, 1.5),  # compound: dotted quarter
    ("2/2", 2.0, 4.0, 210.0, 105, 2.0),  # cut time: half note
    ("4/4", 1.0, 4.0, 220.0, 110, 2.0),  # too fast to count in quarters -> halves
    ("3/4", 1.0, 3.0, 100.0, 100, 1.0),
    ("3/4", 1.0, 3.0, 200.0, 67, 3.0),  # fast waltz: one in a bar
])
def test_felt_beat(meter, beat_ql, bar_ql, quarter, want_bpm, want_beat):
    t = felt_tempo(quarter, {"meter": meter, "beat_ql": beat_ql, "bar_ql": bar_ql})
    assert (t.bpm, t.beat_ql) == (want_bpm, want_beat)
    assert t.quarter_bpm == pytest.approx(t.bpm * t.beat_ql)


def test_key_spelling():
    assert key_name(pitch_class("B-"), "major") == "Bb major"
    assert key_name(pitch_class("F#") + 12, "minor") == "F# minor"
    assert key_name(pitch_class("G") + 6, "minor") == "C# minor"
    assert key_name(pitch_class("E-"), "minor") == "Eb minor"


def test_caption_states_the_true_attributes():
    a = ClipAttributes(style="Irish reel", genre="folk", instrument="fiddle", instrument_group=False, bpm=104,
                       key="A minor", mode="minor", meter="2/2", drums="a rock drum beat", room="hall",
                       moods=["driving", "spirited"], pace="upbeat")
    for seed in range(6):
        text = describe(a, random.Random(seed))
        for word in ("Irish reel", "fiddle", "A minor", "104 bpm", "driving", "rock drum beat", "concert hall"):
            assert word.lower() in text.lower(), (word, text)
    meta = sidecar(a, "x", split="train")
    assert meta["bpm"] == 104 and meta["key"] == "A minor" and meta["instrument"] == "fiddle"
    assert "irish reel" in meta["keywords"] and "drums" in meta["keywords"]


def test_tune_key_groups_settings_of_one_tune():
    a = tune_key("oneills1850", "oneills1850/x#7", "The Little Fair Child")
    b = tune_key("oneills1850", "oneills1850/x#8", "The little fair child.")
    assert a == b
    assert tune_key("bach", "bach/bwv112.5-sc", None) == tune_key("bach", "bach/bwv112.5", None)
    assert tune_key("oneills1850", "oneills1850/x#9", "Reel") == "oneills1850/x#9"  # generic title


def _works(n):
    return [Work(f"col/book{i // 10}#{i}", "oneills1850", f"col/book{i // 10}.abc", i, f"Tune number {i % 37}",
                 tune_key("oneills1850", f"col/book{i // 10}#{i}", f"Tune number {i % 37}")) for i in range(n)]


def test_plan_is_prefix_stable_and_splits_by_tune():
    works = _works(200)
    small = make_plan(works, ["Swing", "Waltz"], 0.5, 7, (10, 30), 0.25, 0.1, 0.1)
    big = make_plan(works, ["Swing", "Waltz"], 2.0, 7, (10, 30), 0.25, 0.1, 0.1)
    assert big[: len(small)] == small
    assert sum(c.seconds for c in big) >= 7200
    by_key = {w.piece_id: w.tune_key for w in works}
    split_of_tune = {}
    for c in big:
        key = by_key.get(c.source, c.piece_id)
        assert split_of_tune.setdefault(key, c.split) == c.split
    assert {c.split for c in big} == {"train", "valid", "test"}
    assert make_plan(works, ["Swing"], 0.5, 8, (10, 30), 0.25, 0.1, 0.1) != small


def test_work_units_keep_a_book_together():
    works = _works(60)
    plan = make_plan(works, [], 0.3, 0, (10, 10), 0.0, 0.0, 0.0)
    units = work_units(plan, {w.piece_id: i for i, w in enumerate(works)})
    books = [u[0].book for u in units]
    assert len(books) == len(set(books))
    assert all(len({c.book for c in u}) == 1 for u in units)
    assert sum(len(u) for u in units) == len(plan)


def test_split_hash_is_seed_free_and_stable():
    assert split_of("tune/foo", 0.02, 0.02) == split_of("tune/foo", 0.02, 0.02)
    n = 4000
    test = sum(split_of(f"k{i}", 0.05, 0.05) == "test" for i in range(n)) / n
    assert 0.03 < test < 0.07


def test_mma_chart_is_diatonic_and_seeded():
    g = GROOVES["BossaNova"]
    a = make_chart(g, "BossaNova", 8, 120, random.Random(3))
    b = make_chart(g, "BossaNova", 8, 120, random.Random(3))
    assert a == b and len(a.chords) == 8
    assert a.to_mma().splitlines()[:3] == [f"RndSeed {a.seed}", "Tempo 120", "Groove BossaNova"]


def test_clip_paths_are_sharded_by_split():
    c = ClipPlan(12345, "music21", "x", "b", 10.0, "x", "valid")
    assert c.rel_path(".flac") == "audio/valid/0012/0012345.flac"
