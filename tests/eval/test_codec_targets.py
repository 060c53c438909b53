"""Issue 18's codec targets (`eval.codec_targets`): a transparent codec keeps everything, a muffling one loses
the attacks and the probe's timbre cues, and the report says so."""
from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from tonecraft.eval.codec_targets import format_table, measure, onset_comparison
from tonecraft.eval.labels import load_split

from helpers_music_corpus import write_corpus


class _FakeCodec:
    """Encode/decode as `codec_roundtrip` calls them; decode is the identity or a 40-sample moving average."""
    sample_rate, channels, segment_length = 32_000, 1, None

    def __init__(self, smear: int = 1):
        self.smear = smear

    def encode(self, x):
        return x, None

    def decode(self, codes, scale):
        if self.smear == 1:
            return codes
        kernel = torch.ones(1, 1, self.smear) / self.smear
        return torch.nn.functional.conv1d(codes, kernel, padding=self.smear // 2)


def test_onset_comparison_counts_clips_within_the_tolerance():
    raw = np.array([4.0, 4.0, 2.0, 0.5])
    coded = np.array([4.4, 6.0, 2.0, 3.0])
    r = onset_comparison(raw, coded)
    assert r["n"] == 3 and r["share_within"] == pytest.approx(2 / 3) and r["median_ratio"] == pytest.approx(1.1)


def test_transparent_codec_keeps_all_and_a_muffled_one_does_not(tmp_path):
    pytest.importorskip("librosa")
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "c", n_train=12, n_test=8, seconds=2.0)
    train, held = load_split(corpus, "train"), load_split(corpus, "test")
    report = measure({"identity": _FakeCodec(), "muffled": _FakeCodec(smear=40)}, train, held, 2.0,
                     min_class_count=2)
    same, muffled = report["codecs"]["identity"], report["codecs"]["muffled"]
    assert report["raw"]["n"] == 8 and report["raw"]["accuracy"] > 0.7
    assert same["probe_keep"] == pytest.approx(1.0) and same["onsets"]["share_within"] == 1.0
    assert same["sisnr"] > 60 and same["codec_trained_keep"] == pytest.approx(1.0)
    assert muffled["sisnr"] < same["sisnr"] - 30 and muffled["mel"] > same["mel"]
    table = format_table(report)
    assert "| identity | " in table and "| muffled | " in table and "keeps (target >= 0.90)" in table and "trained through" in table


def test_bench_script_runs_on_a_tiny_model(tmp_path, capsys):
    pytest.importorskip("librosa")
    from tonecraft.eval.tiny import save_tiny_random_model

    corpus = write_corpus(tmp_path / "c", n_train=8, n_test=4, seconds=1.0)
    model = save_tiny_random_model(tmp_path / "m")
    main = runpy.run_path(str(Path(__file__).resolve().parents[2] / "bench" / "codec_targets.py"))["main"]
    assert main(["--codec", str(model), "--corpus", str(corpus), "--seconds", "1", "--n-train", "8",
                 "--n-heldout", "4", "--min-class-count", "2", "--json", str(tmp_path / "r.json")]) == 0
    assert f"| {model} | " in capsys.readouterr().out and (tmp_path / "r.json").is_file()
