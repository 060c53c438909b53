"""Two processes with torchrun (gloo): ranks stay identical and match one process with the same global batch."""
import subprocess
import sys

import torch

from tonecraft.train.config import from_dict
from tonecraft.train.lm_trainer import LMTrainConfig, LMTrainer

from train_helpers import REPO, assert_states_equal, lm_config, module_states, subprocess_env, token_cache, write_yaml


def _torchrun(kind, cfg_path, out, nproc=2, timeout=240):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(REPO / "tests" / "train" / "ddp_worker.py"), kind, str(cfg_path), str(out)]
    proc = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_lm_two_processes_match_one(tmp_path):
    cache = token_cache(tmp_path / "cache", n_items=3, frames=60)
    # fp32: on a CPU with native bf16, run.precision=auto trains under bf16 autocast, whose rounding differs
    # between one batch of 4 and two of 2 far beyond summation order; this test is about gradient averaging.
    sections = dict(run={"steps": 6, "batch_size": 4, "checkpoint_every": 3, "precision": "fp32"},
                    data={"min_segment_ratio": 1.0},  # no padding: every rank sees the same token count
                    conditioner={"cfg_dropout": 0.5},
                    # Adam divides by sqrt(v)+eps: with the default eps a near-zero gradient whose sign is
                    # summation-order noise becomes a full lr-sized step. A larger eps keeps updates
                    # proportional to the gradient, so the comparison tests gradient averaging, not noise.
                    optim={"ema_decay": 0.9, "eps": 1e-3})
    cfg = lm_config(cache, tmp_path / "ddp", **sections)
    _torchrun("lm", write_yaml(tmp_path / "cfg.yaml", cfg), tmp_path)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert_states_equal(r0, r1)  # bit-identical replicas
    single = LMTrainer(from_dict(LMTrainConfig, lm_config(cache, tmp_path / "single", **sections)))
    single.fit()
    assert_states_equal(module_states(single), r0, atol=1e-4)  # float summation order only
    assert (tmp_path / "ddp" / "checkpoint.pt").exists()


def test_codec_two_processes_stay_in_sync(tmp_path):
    """Discriminator + balancer + RVQ (k-means init, EMA codebooks, dead codes) across 2 ranks."""
    import numpy as np
    import soundfile as sf

    from tonecraft.data.manifest import AudioMeta, write_manifest

    t = np.arange(4000) / 8000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 8000)
    sf.write(tmp_path / "b.wav", (0.2 * np.sin(2 * np.pi * 500 * t)).astype(np.float32), 8000)
    manifest = write_manifest(tmp_path / "m.jsonl", [AudioMeta(str(tmp_path / n), 0.5, 8000, 1)
                                                     for n in ("a.wav", "b.wav")])
    cfg = {
        "model": {"params": {"sample_rate": 8000, "n_filters": 4, "ratios": [4, 4], "dimension": 16, "n_q": 4,
                             "bins": 64, "kmeans_iters": 3, "lstm_layers": 1, "q_dropout": False}},
        "data": {"train": str(manifest), "segment_duration": 0.25, "num_samples": 32},
        "losses": {"msspec_range": [6, 9]},
        "adversarial": {"discriminator": {"filters": 4, "n_ffts": [256, 128], "hop_lengths": [64, 32],
                                          "win_lengths": [256, 128]}},
        "optim": {"ema_decay": 0.9},
        "run": {"out_dir": str(tmp_path / "run"), "steps": 3, "batch_size": 4, "checkpoint_every": 2,
                "progress": False, "tensorboard": False, "device": "cpu"},
    }
    _torchrun("codec", write_yaml(tmp_path / "codec.yaml", cfg), tmp_path)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert_states_equal(r0, r1)
    assert any("_codebook.embed" in k for k in r0)
