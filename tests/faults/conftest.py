"""Fixtures of the fault-injection suite (helpers in tests/helpers_faults.py): tiny trained models, a long
input, a full disk."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers_faults import SR, is_root, tone_wav


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict:
    """A tiny codec and a tiny text-to-audio LM over it, trained for two steps each through the CLI (the
    same files `tonecraft train` writes), plus the training configs for the signal tests. ~10 s."""
    from tonecraft.cli import main

    d = tmp_path_factory.mktemp("fault_models")
    audio = d / "audio"
    audio.mkdir()
    for i, f in enumerate((220, 330, 440)):
        tone_wav(audio / f"t{i}.wav")
        (audio / f"t{i}.wav.json").write_text(json.dumps({"description": f"tone {f}"}))
    assert main(["data", "index", str(audio), "-o", str(d / "m.jsonl"), "-q", "-j", "1"]) == 0
    codec_cfg = {
        "model": {"params": {"sample_rate": SR, "n_filters": 4, "ratios": [4, 4], "dimension": 16, "n_q": 2,
                             "bins": 32, "kmeans_iters": 2, "lstm_layers": 1}},
        "data": {"train": str(d / "m.jsonl"), "segment_duration": 0.25, "num_samples": 16},
        "losses": {"adv": 0.0, "feat": 0.0, "msspec_range": [6, 9]},
        "run": {"out_dir": str(d / "codec_run"), "steps": 2, "batch_size": 2, "progress": False,
                "tensorboard": False, "device": "cpu"}}
    (d / "codec.yaml").write_text(yaml.safe_dump(codec_cfg))
    assert main(["train", "codec", "-c", str(d / "codec.yaml")]) == 0
    lm_cfg = {
        "model": {"preset": "xsmall", "params": {"card": 32, "n_q": 2, "dim": 32, "num_heads": 2, "num_layers": 1}},
        "conditioner": {"kind": "hash", "dim": 8, "vocab": 32},
        "data": {"cache": str(d / "cache"), "manifest": str(d / "m.jsonl"), "codec": str(d / "codec_run" / "export"),
                 "segment_duration": 0.5, "num_samples": 16},
        "run": {"out_dir": str(d / "lm_run"), "steps": 2, "batch_size": 2, "progress": False,
                "tensorboard": False, "device": "cpu"}}
    (d / "lm.yaml").write_text(yaml.safe_dump(lm_cfg))
    assert main(["train", "lm", "-c", str(d / "lm.yaml")]) == 0
    return {"codec": d / "codec_run" / "export", "lm": d / "lm_run" / "export", "dir": d,
            "codec_cfg": codec_cfg, "lm_cfg": lm_cfg}


@pytest.fixture(scope="session")
def long_wav(tmp_path_factory) -> Path:
    """Ten minutes at 8 kHz: compressing it takes ~2.5 s of CPU after ~3 s of imports: long enough to be interrupted."""
    return tone_wav(tmp_path_factory.mktemp("long") / "long.wav", seconds=600)


@pytest.fixture
def small_fs(tmp_path):
    """Factory of fresh 64 kB tmpfs mounts (root only) where real outputs hit ENOSPC; None when mounting is not
    possible. (A fresh mount per scenario: the kernel may report a just-emptied tiny tmpfs as still full.)"""
    mounts = []

    def make():
        mnt = tmp_path / f"full{len(mounts)}"
        mnt.mkdir()
        if not is_root() or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
            return None
        mounts.append(mnt)
        return mnt

    yield make
    for mnt in mounts:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
