"""The SFX category probe (tonecraft.eval.sfx_probe): labels and groups from sidecars, stratified subsets,
features that ignore gain and padding, and a probe that separates two kinds of sound."""
import numpy as np
import pytest

from helpers_sfx_eval import SR, sfx_clip, write_sfx_corpus
from tonecraft.eval.labels import Clip
from tonecraft.eval.sfx_probe import (category, clip_features, laser_recognition, load_sfx_clips, source_group,
                                      stratified, train_category_probe)


def _clip(name, cat, source=None) -> Clip:
    return Clip(path=f"{name}.flac", description="x", bpm=None, family=None, tempo=None, piece=name,
                info={"category": cat, "name": name, **({"source": source} if source else {})})


def test_category_and_source_group():
    deb = {"kind": "debian", "package": "wesnoth-data", "path": "sounds/rain.ogg", "part": 1}
    a, b = _clip("r_00", "weather", deb), _clip("r_01", "weather", {**deb, "part": 2})
    assert category(a) == "weather" and source_group(a) == source_group(b) == "wesnoth-data:sounds/rain.ogg"
    assert source_group(_clip("0007", "game", {"kind": "procedural"})) == "0007"


def test_stratified_gives_every_category_its_share_first():
    clips = [_clip(f"i{k}", "impact") for k in range(10)] + [_clip(f"w{k}", "weather") for k in range(2)] + \
        [_clip("a0", "animal")]
    pick = stratified(clips, 5, seed=3)
    cats = [category(c) for c in pick]
    assert len(pick) == 5 and cats.count("animal") == 1 and cats.count("weather") == 2 and cats.count("impact") == 2
    assert [c.path for c in stratified(clips, 5, seed=3)] == [c.path for c in pick]
    assert stratified(clips, None) == clips and len(stratified(clips, 100)) == 13


def test_load_sfx_clips_reads_categories(tmp_path):
    root = write_sfx_corpus(tmp_path, {"valid": 2, "test": 4})
    clips = load_sfx_clips(root, "valid,test")
    assert len(clips) == 6 and {category(c) for c in clips} == {"impact", "weather"}


def test_features_ignore_gain_and_padding():
    x = sfx_clip("impact", 0)
    f, env = clip_features(x, SR, 2.0)
    g, _ = clip_features(x * 0.05, SR, 2.0)
    h, _ = clip_features(np.concatenate([x, np.zeros(SR, np.float32)]), SR, 2.0)
    assert f.shape == g.shape and np.allclose(f, g, atol=1e-3) and np.allclose(f, h, atol=1e-3)
    assert env["active_s"] < 0.3
    f32, _ = clip_features(np.repeat(x, 2), 2 * SR, 2.0)  # other rates are resampled to 16 kHz first
    assert f32.shape == f.shape and np.isfinite(f32).all()


def test_probe_ceiling_separates_two_kinds_and_drops_rare_classes():
    kinds = ["impact", "weather"] * 6 + ["animal"]
    X = np.stack([clip_features(sfx_clip(k if k != "animal" else "impact", i), SR, 3.0)[0]
                  for i, k in enumerate(kinds)])
    probe, info = train_category_probe(X, kinds, [f"rec{i}" for i in range(len(kinds))], min_class_count=3, k=3)
    assert info["left_out_classes"] == {"animal": 1} and info["n"] == 12
    ceiling = info["ceiling"]
    assert ceiling["accuracy"] == 1.0 and ceiling["chance_uniform"] == 0.5 and ceiling["recall"]["weather"] == 1.0
    assert probe.predict(clip_features(sfx_clip("weather", 99), SR, 3.0)[0][None]) == ["weather"]
    cv = info["cv_predictions"]  # one per input clip, in order; None for the left-out class
    assert len(cv) == len(kinds) and cv[-1] is None and cv[:12] == kinds[:12]
    none, why = train_category_probe(X[:3], kinds[:3], ["a", "b", "c"], min_class_count=3)
    assert none is None and "fewer than 2 categories" in why["skipped"]


def test_score_reports_recall_and_top_confusions():
    from tonecraft.eval import classifier as clf

    probe = clf.LinearProbe().fit(np.array([[0.0], [1.0], [2.0]]), ["a", "b", "c"])
    s = clf.score(["a", "b", "b", "b", "c"], ["a", "a", "c", "b", "c"], probe)
    assert s["recall"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert s["top_confusions"] == [["a", "b", 1], ["c", "b", 1]]
    assert s["balanced_accuracy"] == pytest.approx(2 / 3)


def test_laser_recognition_counts_recorded_lasers_only():
    deb = {"kind": "debian", "package": "teeworlds-data", "path": "audio/wp_laser_fire-01.wv"}
    clips = [_clip("a", "weapon", deb), _clip("b", "weapon", deb), _clip("c", "weapon", deb),
             _clip("d", "weapon", {"kind": "procedural"}), _clip("e", "weapon", deb)]
    for c, text in zip(clips, ["a laser gun firing", "a plasma pistol shot", "a sci-fi energy weapon shot",
                               "a short falling laser zap", "a sword clash"]):
        c.description = text
    got = laser_recognition(clips, ["weapon", "game", None, "weapon", "weapon"])
    # the procedural zap and the sword are not recorded lasers; the left-out clip has no prediction
    assert got == {"n": 2, "weapon": 1, "filed_as": {"weapon": 1, "game": 1}}
