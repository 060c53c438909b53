"""Whole recipe on a toy scale: index audio -> train codec -> export -> token cache -> train LM."""
import json

import numpy as np
import soundfile as sf

from tonecraft.cli import main
from tonecraft.data.token_cache import TokenCache
from tonecraft.train.metrics import read_metrics

from train_helpers import write_yaml


def test_index_codec_cache_lm(tmp_path, capsys):
    audio = tmp_path / "audio"
    audio.mkdir()
    t = np.arange(8000) / 8000
    for i, f in enumerate((220, 330, 440)):
        sf.write(audio / f"t{i}.wav", (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32), 8000)
        (audio / f"t{i}.wav.json").write_text(json.dumps({"description": f"tone {f}", "genre": "test"}))
    assert main(["data", "index", str(audio), "-o", str(tmp_path / "m.jsonl"), "-q", "-j", "1"]) == 0

    codec_cfg = write_yaml(tmp_path / "codec.yaml", {
        "model": {"params": {"sample_rate": 8000, "n_filters": 4, "ratios": [4, 4], "dimension": 16, "n_q": 2,
                             "bins": 32, "kmeans_iters": 2, "lstm_layers": 1}},
        "data": {"train": str(tmp_path / "m.jsonl"), "segment_duration": 0.25, "num_samples": 16},
        "losses": {"adv": 0.0, "feat": 0.0, "msspec_range": [6, 9]},
        "run": {"out_dir": str(tmp_path / "codec_run"), "steps": 2, "batch_size": 2, "progress": False,
                "tensorboard": False, "device": "cpu"}})
    assert main(["train", "codec", "-c", str(codec_cfg)]) == 0
    codec_dir = tmp_path / "codec_run" / "export"

    lm_cfg = write_yaml(tmp_path / "lm.yaml", {
        "model": {"preset": "xsmall", "params": {"card": 32, "n_q": 2, "dim": 32, "num_heads": 2, "num_layers": 1}},
        "conditioner": {"kind": "hash", "dim": 8, "vocab": 32},
        "data": {"cache": str(tmp_path / "cache"), "manifest": str(tmp_path / "m.jsonl"), "codec": str(codec_dir),
                 "segment_duration": 0.5, "num_samples": 16, "valid_fraction": 0.3},
        "run": {"out_dir": str(tmp_path / "lm_run"), "steps": 2, "batch_size": 2, "progress": False,
                "tensorboard": False, "device": "cpu"}})
    assert main(["train", "lm", "-c", str(lm_cfg)]) == 0  # builds the token cache first
    cache = TokenCache(tmp_path / "cache")
    assert cache.num_codebooks == 2 and cache.frame_rate == 500 and len(cache) == 3
    assert cache.codec == str(codec_dir) and cache.items[0]["info"]["description"] == "tone 220"
    exported = json.loads((tmp_path / "lm_run" / "export" / "config.json").read_text())
    assert exported["codec"] == str(codec_dir) and exported["frame_rate"] == 500
    assert any(r["split"] == "valid" for r in read_metrics(tmp_path / "lm_run"))

    # the same cache through the CLI, from a codec training checkpoint
    assert main(["data", "cache", str(tmp_path / "m.jsonl"), "-o", str(tmp_path / "cache2"), "-q",
                 "--codec", str(tmp_path / "codec_run" / "checkpoint.pt")]) == 0
    assert "3 files" in capsys.readouterr().out
