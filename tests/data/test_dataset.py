"""Random-segment dataset: seeded determinism, resample/remix/pad, retries, split and sharding."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from tonecraft.data.dataset import (AudioDataset, StepBatchSampler, TextAugment, collate_audio,
                                    sample_seed, split_train_valid)
from tonecraft.data.manifest import AudioMeta
from tonecraft.errors import AudioError


def _write(path, seconds, sr, channels=1, seed=0):
    x = np.random.default_rng(seed).uniform(-0.5, 0.5, (int(seconds * sr), channels)).astype(np.float32)
    sf.write(path, x, sr, subtype="FLOAT")
    return AudioMeta(str(path), seconds, sr, channels)


@pytest.fixture
def metas(tmp_path):
    m = [_write(tmp_path / "a.wav", 1.0, 8000, 2, 1), _write(tmp_path / "b.wav", 0.3, 16000, 1, 2),
         _write(tmp_path / "c.wav", 2.0, 8000, 1, 3)]
    (tmp_path / "a.wav.json").write_text(json.dumps({"description": "noise a", "genre": "rock"}))
    return m


def test_seeded_and_deterministic(metas):
    ds = AudioDataset(metas, sample_rate=8000, channels=1, segment_duration=0.5, num_samples=20, shuffle_seed=3)
    w1, i1 = ds[(0, 5)]
    w2, i2 = ds[(0, 5)]
    assert torch.equal(w1, w2) and i1 == i2
    assert w1.shape == (1, 4000) and w1.dtype == torch.float32
    # other epochs / indices give other segments; epoch e index i == seed rule
    assert sample_seed(5, 1, 20, 3) == 5 + 20 * 4
    different = [ds[(e, 5)][1] for e in range(1, 6)]
    assert any((d.path, d.seek_time) != (i1.path, i1.seek_time) for d in different)
    ds.set_epoch(2)
    assert torch.equal(ds[5][0], ds[(2, 5)][0])


def test_resample_remix_pad(metas):
    ds = AudioDataset(metas[1:2], sample_rate=8000, channels=2, segment_duration=0.5, num_samples=4)
    wav, info = ds[(0, 0)]
    assert wav.shape == (2, 4000)
    assert info.n_frames <= 2400 and info.total_frames == 4000  # 0.3 s file, resampled 16k -> 8k
    assert torch.all(wav[:, info.n_frames:] == 0) and torch.equal(wav[0], wav[1])
    assert info.seek_time <= 0.3 - 0.5 * 0.5 + 1e-9  # seek <= duration - segment * min_segment_ratio


def test_retry_on_bad_read(metas, tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFFjunk")
    bad = AudioMeta(str(tmp_path / "broken.wav"), 1.0, 8000, 1)
    gone = AudioMeta(str(tmp_path / "missing.wav"), 1.0, 8000, 1)
    ds = AudioDataset([bad, gone, metas[2]], 8000, 1, segment_duration=0.25, num_samples=8, max_read_retry=50)
    for i in range(8):
        wav, info = ds[(0, i)]
        assert info.path == metas[2].path
    only_bad = AudioDataset([bad], 8000, 1, segment_duration=0.25, num_samples=2, max_read_retry=3)
    with pytest.raises(AudioError, match="3 attempts"):
        only_bad[0]


def test_validation_mode_and_text(metas):
    ds = AudioDataset(metas, 8000, 1, segment_duration=0.5, shuffle=False)
    assert len(ds) == 3
    wav, info = ds[0]
    assert info.seek_time == 0 and info.path == metas[0].path and info.description == "noise a"
    assert info.attributes["genre"] == "rock"
    aug = AudioDataset(metas[:1], 8000, 1, segment_duration=0.5, num_samples=50,
                       text_augment=TextAugment(merge_text_p=1.0, drop_desc_p=0.5, drop_other_p=1.0))
    descs = {aug[(0, i)][1].description for i in range(50)}
    assert descs == {"noise a. genre: rock", "genre: rock"}
    assert aug[(0, 7)][1].description == aug[(0, 7)][1].description
    batch, infos = collate_audio([ds[0], ds[1]])
    assert batch.shape == (2, 1, 4000) and len(infos) == 2


def test_split_is_deterministic(tmp_path):
    metas = [AudioMeta(f"/d/{i}.wav", 1.0, 8000) for i in range(200)]
    tr, va = split_train_valid(metas, 0.1, seed=0)
    tr2, va2 = split_train_valid(list(reversed(metas)), 0.1, seed=0)
    assert {m.path for m in va} == {m.path for m in va2}
    assert 5 < len(va) < 40 and len(tr) + len(va) == 200
    assert not {m.path for m in va} & {m.path for m in tr}
    assert split_train_valid(metas[:2], 0.01)[1]  # tiny sets still hold one file out


def test_step_sampler_shards_global_batch():
    single = StepBatchSampler(10, 4, start_step=0, num_steps=5)
    r0 = StepBatchSampler(10, 4, rank=0, world_size=2, start_step=0, num_steps=5)
    r1 = StepBatchSampler(10, 4, rank=1, world_size=2, start_step=0, num_steps=5)
    for s, a, b, c in zip(range(5), single, r0, r1):
        assert a == b + c
    assert list(single)[2] == [(0, 8), (0, 9), (1, 0), (1, 1)]  # (epoch, index) wraps into epoch 1
    resumed = StepBatchSampler(10, 4, start_step=3, num_steps=2)
    assert list(resumed) == list(single)[3:]
    with pytest.raises(Exception, match="divisible"):
        StepBatchSampler(10, 3, world_size=2)
