"""Measured-quality evaluation (tonecraft.eval) on tiny synthetic data: labels, metrics, Opus, probe, tempo,
and one end-to-end run with a tiny random model."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tonecraft.eval import classifier as clf
from tonecraft.eval.codec_metrics import (ReconstructionMetrics, align, codec_roundtrip, opus_available,
                                          opus_roundtrip)
from tonecraft.eval.labels import instrument_family, load_split, tempo_bucket
from tonecraft.eval.tempo import tempo_summary

from helpers_music_corpus import SR, notes as _notes, write_corpus as _write_corpus

def test_labels():
    assert instrument_family("fiddle") == "strings"
    assert instrument_family("string quartet") == "strings"
    assert instrument_family("soprano saxophone") == "winds"
    assert instrument_family("trumpet") == "winds"
    assert instrument_family("accordion") == "reed"
    assert instrument_family("church organ") == "keyboard"
    assert instrument_family("nylon-string guitar") == "plucked"
    assert instrument_family("marimba") == "mallet"
    assert instrument_family("piano, acoustic bass, drums") == "band"
    assert instrument_family("piano") == "keyboard"
    assert instrument_family("theremin") is None and instrument_family(None) is None
    assert [tempo_bucket(b) for b in (60, 89.9, 90, 119, 120, 200)] == ["slow", "slow", "medium", "medium",
                                                                         "fast", "fast"]
    assert tempo_bucket(None) is None


def test_load_split_is_seeded(tmp_path):
    root = _write_corpus(tmp_path, n_train=6, n_test=2, seconds=0.5)
    (root / "audio/train/0000.json").unlink()  # a clip without sidecar (still rendering) is skipped
    all_train = load_split(root, "train")
    assert len(all_train) == 5
    a, b = load_split(root, "train", 3, seed=1), load_split(root, "train", 3, seed=1)
    assert [c.path for c in a] == [c.path for c in b] and len(a) == 3
    assert load_split(root, "test,valid,missing")[0].family in ("winds", "plucked")


def test_align_and_reconstruction_metrics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SR).astype(np.float32) * 0.1
    y = np.concatenate([np.zeros(37, np.float32), x])[: len(x)]
    r, e, d = align(x, y, 100)
    assert d == 37 and np.allclose(r, e)
    m = ReconstructionMetrics(SR)
    same = m(x, y)
    assert same["delay_samples"] == 37 and same["sisnr"] > 60 and same["mel"] < 1e-3
    noisy = m(x, x + rng.standard_normal(len(x)).astype(np.float32) * 0.1)
    assert -3 < noisy["sisnr"] < 3 and noisy["mel"] > same["mel"]


def test_codec_roundtrip_tiny():
    from tonecraft.codec.model import Codec
    from tonecraft.eval.tiny import tiny_codec_config

    codec = Codec(tiny_codec_config(16_000)).eval()
    x = _notes("flute", 120, 0.5, 0)
    y = codec_roundtrip(codec, x, SR)
    assert y.shape == x.shape and np.isfinite(y).all()


def test_opus_roundtrip():
    ok, why = opus_available()
    if not ok:
        print(f"skipping the Opus round trip: {why}")
        pytest.skip(why)
    x = _notes("flute", 100, 1.0, 3)
    y, kbps = opus_roundtrip(x, SR, 6.0)
    assert abs(len(y) - len(x)) < SR // 100
    assert 3.0 < kbps < 15.0
    m = ReconstructionMetrics(SR)(x, y)
    assert abs(m["delay_samples"]) < SR // 100 and np.isfinite(m["sisnr"]) and m["mel"] < 3


def test_probe_and_chance():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (30, 5)), rng.normal(3, 1, (10, 5))])
    y = ["a"] * 30 + ["b"] * 10
    groups = [f"g{i // 2}" for i in range(40)]
    l2, cv = clf.select_l2(X, y, groups, k=3, grid=(1e-2, 1.0))
    assert l2 in (1e-2, 1.0) and cv[l2] > 0.9
    probe = clf.LinearProbe(l2).fit(X, y)
    s = clf.score(probe.predict(X), y, probe)
    assert s["accuracy"] > 0.95 and s["majority_class"] == "a"
    assert s["chance_majority"] == pytest.approx(0.75) and s["chance_uniform"] == 0.5
    wrong = clf.score(["b"] * 40, y, probe)
    assert wrong["accuracy"] == 0.25 and wrong["balanced_accuracy"] == 0.5


def test_tempo_summary_and_estimate():
    s = tempo_summary([100, 205, 150, 60, 0], [100, 100, 100, 100, 100])
    assert s["n"] == 5 and s["median_abs_error_bpm"] == 50
    assert s["within_8pct"] == 0.2 and s["within_8pct_octave"] == 0.4 and s["within_8pct_metrical"] == 0.6
    assert s["no_beat"] == 1 and "spearman_r" not in s  # constant reference: no correlation
    ranks = tempo_summary([70, 0, 100, 140, 190], [60, 90, 120, 80, 200])
    assert ranks["spearman_r"] == pytest.approx(0.8)  # rank order of the four clips with a beat: one swap
    pytest.importorskip("librosa")
    from tonecraft.eval.tempo import estimate_bpm

    bpm = estimate_bpm(_notes("banjo", 120, 6.0, 1), SR)
    assert any(abs(bpm * f - 120) < 0.08 * 120 for f in (1, 2, 0.5)), bpm
    assert estimate_bpm(np.zeros(SR, np.float32), SR) == 0.0


@pytest.mark.parametrize("description, word, prompt", [
    ("A fast lively reel in D major played on fiddle, 113 bpm, in a small room", "slow",
     "A slow lively reel in D major played on fiddle, in a small room"),
    ("Accordion plays softly an upbeat Irish hornpipe in G major at 76 bpm in 2/4 time", "fast",
     "Fast accordion plays softly an Irish hornpipe in G major in 2/4 time"),
    ("Moderate pensive soul groove with choir in Bb minor, 90 bpm", "slow", "Slow pensive soul groove with choir in Bb minor"),
])
def test_tempo_word_prompt_replaces_the_tempo(description, word, prompt):
    from tonecraft.conditioning.tempo import parse_bpm
    from tonecraft.eval.tempo import tempo_word_prompt

    assert tempo_word_prompt(description, word) == prompt
    assert parse_bpm(prompt) == parse_bpm(word)  # only the new word tells the tempo


def test_tempo_word_prompt_removes_every_tempo_word_parse_bpm_reads():
    from tonecraft.conditioning.tempo import TEMPO_WORDS, parse_bpm
    from tonecraft.eval.tempo import tempo_word_prompt

    for word, _ in TEMPO_WORDS:
        prompt = tempo_word_prompt(f"A {word} tune on piano", "slow")
        assert prompt == "A slow tune on piano", word
        assert parse_bpm(prompt) == parse_bpm("slow")


def _run_tiny(tmp_path, **overrides) -> dict:
    """`eval.runner.run` with a tiny random model on the synthetic corpus (2 generated clips)."""
    pytest.importorskip("librosa")
    from tonecraft.eval.runner import EvalConfig, run
    from tonecraft.eval.tiny import save_tiny_random_model

    torch.set_num_threads(1)
    corpus = _write_corpus(tmp_path / "corpus")
    model = save_tiny_random_model(tmp_path / "model")
    settings = dict(n_clips=2, n_train=8, n_heldout=4, batch_size=2, seed=0, min_class_count=2)
    return run(EvalConfig(corpus=str(corpus), model=str(model), **{**settings, **overrides}))


def test_end_to_end_tiny_random(tmp_path):
    from tonecraft.eval.report import format_report, write_json

    res = _run_tiny(tmp_path, n_codec_clips=1, duration=1.0, n_word_pairs=2)
    assert res["probe"]["real_heldout"]["family"]["n"] == 4
    assert set(res["probe"]["train"]["family"]["train_counts"]) == {"winds", "plucked"}
    assert res["probe"]["generated"]["tempo"]["n"] == 2 and res["generation"]["n"] == 2
    assert res["codec"]["codec"]["n"] == 1 and res["tempo"]["generated"]["n"] == 2
    slow = res["tempo"]["real_heldout"]["slow_captions"]  # the slow test on real clips: its ceiling
    assert slow["n"] == 2 and slow["prompt_max_bpm"] == 70 and 0 <= slow["share_measured_slow"] <= 1
    words = res["tempo_words"]
    assert words["n_pairs"] == 2 and len(words["fast"]["estimated_bpm"]) == 2
    assert all(p.startswith(("A slow", "Slow")) for p in words["slow"]["prompts"])
    text = format_report(res)
    assert "Codec reconstruction" in text and "generated" in text and "Tempo words" in text
    assert "the slow test's ceiling" in text
    out = write_json(tmp_path / "r.json", res)
    assert json.loads(out.read_text())["generation"]["n"] == 2


def test_int8_decoding_is_measured_where_the_cpu_has_it(tmp_path):
    """decoding="int8" (bench/eval_default.py --decoding int8) generates through the LM's int8 path, or says it
    fell back to float32; an unknown decoding is a clear error."""
    from tonecraft import cpu_features
    from tonecraft.errors import ConfigError

    res = _run_tiny(tmp_path, n_codec_clips=0, duration=1.0, decoding="int8")
    assert res["model"]["decoding"] == ("int8" if cpu_features.supports("int8") else "eager")
    assert res["generation"]["n"] == 2
    with pytest.raises(ConfigError, match="use float32 or int8"):
        _run_tiny(tmp_path / "b", n_codec_clips=0, duration=1.0, decoding="bf16")


def test_watermark_check_scores_the_marked_clips(tmp_path):
    """The mark's effect on the probe: the same generated clips scored again after `provenance.embed`."""
    from tonecraft.eval.report import format_report

    res = _run_tiny(tmp_path, n_codec_clips=0, duration=2.0, watermark_check=True)
    check = res["watermark_check"]
    assert 29.0 < check["snr_db_min"] <= check["snr_db_median"] < 40.0
    assert set(check["prediction_changed"]) == set(res["probe"]["generated"])
    assert all(0.0 <= v <= 1.0 for v in check["prediction_changed"].values())
    assert res["probe"]["generated_watermarked"]["tempo"]["n"] == 2 and res["tempo"]["generated_watermarked"]["n"] == 2
    assert "Watermark on the generated clips" in format_report(res)


def test_load_lm_training_checkpoint(tmp_path):
    from dataclasses import asdict

    from tonecraft.eval.runner import load_generator
    from tonecraft.eval.tiny import save_tiny_random_model
    from tonecraft.lm.config import LMConfig
    from tonecraft.lm.model import LMModel
    from tonecraft.train.checkpoint import save_checkpoint
    from tonecraft.train.lm_trainer import LMTrainModule
    from tonecraft.conditioning.factory import ConditionerConfig, build_conditioner

    model_dir = save_tiny_random_model(tmp_path / "m")
    lm_cfg = LMConfig(dim=32, num_heads=2, num_layers=1, n_q=2, card=32)
    cond_cfg = ConditionerConfig(kind="hash", dim=16, vocab=256)
    lm = LMModel(lm_cfg)
    module = LMTrainModule(lm, build_conditioner(cond_cfg, lm_cfg.dim))
    ckpt = save_checkpoint(tmp_path / "checkpoint.pt", {
        "kind": "lm", "step": 7, "modules": {"model": module.state_dict()},
        "extra": {"lm_config": lm_cfg.to_dict(), "conditioner": asdict(cond_cfg), "ema": None}})
    with pytest.raises(ValueError, match="--codec"):
        load_generator(ckpt)
    model = load_generator(ckpt, str(model_dir / "codec"))
    assert torch.equal(model.lm.state_dict()["emb.0.weight"], lm.state_dict()["emb.0.weight"])
    model.set_generation_params(duration=0.2)
    assert model.generate(["a tune"], seed=0).shape[-1] == int(0.2 * 32_000)
