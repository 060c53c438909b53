"""Codec trainer: overfits a short clip, adversarial step mechanics, exact resume, export loads."""
import numpy as np
import pytest
import soundfile as sf
import torch

from tonecraft.codec import Codec
from tonecraft.data.manifest import AudioMeta, write_manifest
from tonecraft.train.codec_trainer import CodecTrainConfig, CodecTrainer, codec_from_checkpoint
from tonecraft.train.config import from_dict
from tonecraft.train.metrics import read_metrics

from train_helpers import assert_states_equal, module_states

SR = 8000


@pytest.fixture
def manifest(tmp_path):
    t = np.arange(int(0.5 * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t + 1) * np.exp(-3 * t)
    sf.write(tmp_path / "clip.wav", x.astype(np.float32), SR, subtype="FLOAT")
    return write_manifest(tmp_path / "m.jsonl", [AudioMeta(str(tmp_path / "clip.wav"), 0.5, SR, 1)])


def codec_config(manifest, out, adv=0.0, **run):
    return from_dict(CodecTrainConfig, {
        "model": {"params": {"sample_rate": SR, "n_filters": 4, "ratios": [4, 4], "dimension": 16, "n_q": 4,
                             "bins": 64, "kmeans_iters": 5, "lstm_layers": 1}},
        "data": {"train": str(manifest), "valid": str(manifest), "segment_duration": 0.25, "num_samples": 64},
        "losses": {"adv": adv, "feat": adv, "msspec_range": [6, 10]},
        "adversarial": {"discriminator": {"filters": 4, "n_ffts": [256, 128], "hop_lengths": [64, 32],
                                          "win_lengths": [256, 128]}},
        "optim": {"lr": 3e-3},
        "run": {"out_dir": str(out), "steps": 120, "batch_size": 4, "log_every": 10, "checkpoint_every": 1000,
                "progress": False, "tensorboard": False, "device": "cpu", **run},
    })


def test_codec_overfits_short_clip(manifest, tmp_path):
    tr = CodecTrainer(codec_config(manifest, tmp_path / "run"))
    before = tr.validate()["sisnr"]
    after = tr.fit()
    assert after["sisnr"] > 8.0 and after["sisnr"] > before + 10.0, (before, after)
    assert after["mel"] > 0 and after["l1"] < 0.1
    # the export is the codec package's save_pretrained folder and round-trips
    from tonecraft.codec.model import Codec

    codec = Codec.from_pretrained(tmp_path / "run" / "export")
    x = torch.from_numpy(sf.read(manifest.parent / "clip.wav", dtype="float32")[0])[None, None, :2000]
    codes, _ = codec.encode(x)
    assert codes.shape == (1, 4, 125)


def test_adversarial_resume_is_exact(manifest, tmp_path):
    kw = dict(steps=6, checkpoint_every=3, log_every=1)
    ref = CodecTrainer(codec_config(manifest, tmp_path / "ref", adv=4.0, **kw))
    ref.fit()
    logs = [r for r in read_metrics(tmp_path / "ref") if r["split"] == "train"]
    assert all("d_loss" in r and "adv" in r and "feat" in r and "ratio_adv" in r for r in logs)
    crashed = CodecTrainer(codec_config(manifest, tmp_path / "run", adv=4.0, **kw))
    crashed.fit(max_steps=5)
    resumed = CodecTrainer(codec_config(manifest, tmp_path / "run", adv=4.0, **kw), resume=True)
    assert resumed.step == 3
    resumed.fit()
    assert_states_equal(module_states(ref), module_states(resumed))
    assert ref.balancer.state_dict() == resumed.balancer.state_dict()
    codec = codec_from_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert_states_equal(codec.state_dict(), ref.codec.state_dict())


def test_adversarial_start_step_after_zero(manifest, tmp_path):
    """Issue 13.1: adversarial.start_step > 0 crashed at step 0 (KeyError 'adv' in the balancer)."""
    cfg = codec_config(manifest, tmp_path / "run", adv=4.0, steps=3, log_every=1)
    cfg.adversarial.start_step = 2
    CodecTrainer(cfg).fit()
    logs = [r for r in read_metrics(tmp_path / "run") if r["split"] == "train"]
    assert [("adv" in r, "d_loss" in r) for r in logs] == [(False, False), (False, False), (True, True)]


def test_the_discriminator_can_start_before_the_adversarial_losses(manifest, tmp_path):
    """adversarial.discriminator_head_start: the discriminator trains alone first, and it really steps."""
    cfg = codec_config(manifest, tmp_path / "run", adv=4.0, steps=4, log_every=1)
    cfg.adversarial.start_step, cfg.adversarial.discriminator_head_start = 3, 2
    trainer = CodecTrainer(cfg)
    d_before = {k: v.clone() for k, v in trainer.disc.state_dict().items()}
    trainer.fit(max_steps=3)
    logs = [r for r in read_metrics(tmp_path / "run") if r["split"] == "train"]
    assert [("adv" in r, "d_loss" in r) for r in logs] == [(False, False), (False, True), (False, True)]
    assert any(not torch.equal(v, d_before[k]) for k, v in trainer.disc.state_dict().items())
    trainer.fit()
    logs = [r for r in read_metrics(tmp_path / "run") if r["split"] == "train"]
    assert ("adv" in logs[-1], "d_loss" in logs[-1]) == (True, True)


def test_fine_tune_from_a_saved_codec_folder(manifest, tmp_path):
    """model.init_from=<export folder> (how a committed weights-only snapshot restarts a run) trains: the loaded
    codec came frozen for inference and had no trainable parameter ('optimizer got an empty parameter list')."""
    base = CodecTrainer(codec_config(manifest, tmp_path / "base", steps=2))
    base.fit()
    cfg = codec_config(manifest, tmp_path / "ft", steps=2)
    cfg.model.params, cfg.model.init_from = {}, str(tmp_path / "base" / "export")
    ft = CodecTrainer(cfg)
    before = {k: v.clone() for k, v in ft.codec.state_dict().items()}
    ft.fit()
    changed = [k for k, v in ft.codec.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert changed
    # its checkpoint holds plain (folded) weights: readers of the checkpoint (eval --codec RUN/checkpoint.pt) load it
    loaded = codec_from_checkpoint(tmp_path / "ft" / "checkpoint.pt")
    exported = Codec.from_pretrained(tmp_path / "ft" / "export")
    assert all(torch.equal(v, exported.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_decoder_only_fine_tune_keeps_the_tokens(manifest, tmp_path):
    """model.train_only=decoder: encoder weights and codebooks are unchanged (an LM's tokens keep their meaning),
    the decoder trains."""
    base = CodecTrainer(codec_config(manifest, tmp_path / "base", steps=2))
    base.fit()
    cfg = codec_config(manifest, tmp_path / "ft", steps=3)
    cfg.model.params, cfg.model.init_from, cfg.model.train_only = {}, str(tmp_path / "base" / "export"), "decoder"
    ft = CodecTrainer(cfg)
    before = {k: v.clone() for k, v in ft.codec.state_dict().items()}
    ft.fit()
    after = ft.codec.state_dict()
    changed = {k for k, v in after.items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("decoder.") for k in changed), sorted(changed)
    assert any(k.startswith("decoder.") and after[k].is_floating_point() for k in changed)
    cfg.model.train_only = "everything"
    with pytest.raises(Exception, match="train_only"):
        CodecTrainer(cfg)
