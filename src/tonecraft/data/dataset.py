"""Random-segment audio dataset (audiocraft `AudioDataset` semantics) and sharded step sampling.

Sample `index` of `epoch` is drawn from an RNG seeded with
`index + num_samples * (epoch + shuffle_seed)`, so a sample depends only on (epoch, index): any
number of workers or processes, and any resume point, see exactly the same data.

`StepBatchSampler` turns a training step into dataset indices: step `s` uses the global samples
`s*B .. s*B+B-1` (B = global batch); rank `r` of `W` takes the contiguous slice `r*B/W ..`. The data
position is therefore the step number itself, which makes resuming exact.
"""
from __future__ import annotations

import hashlib
import random
from pathlib import PurePath
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

from ..errors import AudioError, ConfigError
from .info import augment_description, read_info
from .manifest import AudioMeta, ManifestError


@dataclass
class TextAugment:
    """audiocraft music dataset text augmentation (0 disables)."""

    merge_text_p: float = 0.0
    drop_desc_p: float = 0.0
    drop_other_p: float = 0.0


@dataclass
class SegmentInfo:
    path: str
    seek_time: float
    n_frames: int  # valid (non-padded) samples at the output sample rate
    total_frames: int  # samples after padding
    sample_rate: int
    channels: int
    epoch: int = 0
    index: int = 0
    description: str | None = None
    attributes: dict = field(default_factory=dict)


def sample_seed(index: int, epoch: int, num_samples: int, shuffle_seed: int) -> int:
    return index + num_samples * (epoch + shuffle_seed)


def split_train_valid(metas: Sequence[AudioMeta], valid_fraction: float, seed: int = 0
                      ) -> tuple[list[AudioMeta], list[AudioMeta]]:
    """Deterministic split by a hash of each file's last two path components (stable across runs,
    machines, file order and moving the dataset folder). Each side keeps at least one file when
    there are two or more."""
    if not 0 <= valid_fraction < 1:
        raise ConfigError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    if valid_fraction == 0 or len(metas) < 2:
        return list(metas), []

    def score(m: AudioMeta) -> float:
        key = "/".join(PurePath(m.path).parts[-2:])
        h = hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()
        return int(h[:12], 16) / float(1 << 48)

    order = sorted(range(len(metas)), key=lambda i: (score(metas[i]), metas[i].path))
    n_valid = sum(score(m) < valid_fraction for m in metas)
    n_valid = min(max(n_valid, 1), len(metas) - 1)
    held = set(order[:n_valid])
    return ([m for i, m in enumerate(metas) if i not in held], [m for i, m in enumerate(metas) if i in held])


class AudioDataset(torch.utils.data.Dataset):
    """Segments of `segment_duration` seconds at `sample_rate` / `channels`.

    shuffle=True: `num_samples` random segments per epoch (file chosen uniformly, or by weight /
    duration; seek uniform in [0, duration - segment*min_segment_ratio]); short reads zero-padded.
    shuffle=False: item i = the first segment of file i (deterministic validation).
    `segment_duration=None` returns whole files (batch size 1 then, or pad yourself).
    Items are (wav [C, T] float32, SegmentInfo); index with an int (current epoch, see `set_epoch`)
    or an (epoch, index) tuple (what `StepBatchSampler` yields).
    """

    def __init__(self, metas: Sequence[AudioMeta], sample_rate: int, channels: int,
                 segment_duration: float | None = None, num_samples: int | None = None,
                 shuffle: bool = True, shuffle_seed: int = 0, min_segment_ratio: float = 0.5,
                 sample_on_weight: bool = False, sample_on_duration: bool = False, pad: bool = True,
                 max_read_retry: int = 10, min_audio_duration: float | None = None,
                 max_audio_duration: float | None = None, text_augment: TextAugment | None = None,
                 read_info_files: bool = True):
        metas = [m for m in metas
                 if (min_audio_duration is None or m.duration >= min_audio_duration)
                 and (max_audio_duration is None or m.duration <= max_audio_duration)]
        if not metas:
            raise ManifestError("the dataset is empty (no manifest entry passes the duration filters)")
        if segment_duration is not None and segment_duration <= 0:
            raise ConfigError(f"segment_duration must be > 0, got {segment_duration}")
        self.metas = list(metas)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.segment_duration = segment_duration
        self.shuffle = shuffle
        self.num_samples = int(num_samples) if (shuffle and num_samples) else len(self.metas)
        self.shuffle_seed = shuffle_seed
        self.min_segment_ratio = min_segment_ratio
        self.pad = pad
        self.max_read_retry = max(1, max_read_retry)
        self.text_augment = text_augment or TextAugment()
        self.read_info_files = read_info_files
        self.epoch = 0
        self.sample_probs = None
        if sample_on_weight or sample_on_duration:
            w = torch.tensor([(m.weight if (sample_on_weight and m.weight is not None) else 1.0)
                              * (m.duration if sample_on_duration else 1.0) for m in self.metas],
                             dtype=torch.float64)
            self.sample_probs = w / w.sum()

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rng(self, epoch: int, index: int) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(sample_seed(index, epoch, self.num_samples, self.shuffle_seed))
        return g

    def _pick_file(self, rng: torch.Generator) -> int:
        if self.sample_probs is not None:
            return int(torch.multinomial(self.sample_probs, 1, generator=rng).item())
        return int(torch.randint(len(self.metas), (1,), generator=rng).item())

    def _read(self, meta: AudioMeta, seek: float) -> tuple[torch.Tensor, int]:
        from ..audio import load_audio

        wav, _ = load_audio(meta.path, sample_rate=self.sample_rate, channels=self.channels,
                            offset=seek, duration=self.segment_duration)
        n = wav.shape[-1]
        if self.segment_duration is not None:
            target = int(round(self.segment_duration * self.sample_rate))
            wav = wav[..., :target]
            n = wav.shape[-1]
            if self.pad and n < target:
                wav = F.pad(wav, (0, target - n))
        return wav.contiguous(), n

    def __getitem__(self, item) -> tuple[torch.Tensor, SegmentInfo]:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        epoch, index = int(epoch), int(index)
        rng = self._rng(epoch, index)
        last_exc: Exception | None = None
        for attempt in range(self.max_read_retry):
            if self.shuffle:
                file_idx = self._pick_file(rng)
                meta = self.metas[file_idx]
                seg = self.segment_duration or 0.0
                max_seek = max(0.0, meta.duration - seg * self.min_segment_ratio)
                seek = float(torch.rand(1, generator=rng, dtype=torch.float64).item()) * max_seek
            else:
                meta = self.metas[(index + attempt) % len(self.metas)]
                seek = 0.0
            try:
                wav, n = self._read(meta, seek)
            except AudioError as exc:
                last_exc = exc
                continue
            info = SegmentInfo(path=meta.path, seek_time=seek, n_frames=n, total_frames=wav.shape[-1],
                               sample_rate=self.sample_rate, channels=self.channels, epoch=epoch, index=index)
            self._add_text(info, meta, epoch, index)
            return wav, info
        raise AudioError(f"could not read a segment after {self.max_read_retry} attempts: {last_exc}")

    def _add_text(self, info: SegmentInfo, meta: AudioMeta, epoch: int, index: int) -> None:
        if not self.read_info_files:
            return
        music = read_info(meta)
        aug = self.text_augment
        if aug.merge_text_p > 0:
            rng = random.Random(sample_seed(index, epoch, self.num_samples, self.shuffle_seed) * 7919 + 17)
            music = augment_description(music, rng, aug.merge_text_p, aug.drop_desc_p, aug.drop_other_p)
        info.description = music.description
        info.attributes = music.text_attributes()


def collate_audio(batch: list[tuple[torch.Tensor, SegmentInfo]]) -> tuple[torch.Tensor, list[SegmentInfo]]:
    """Stack equal-length segments into [B, C, T] (pads to the longest when lengths differ)."""
    wavs = [w for w, _ in batch]
    T = max(w.shape[-1] for w in wavs)
    wavs = [F.pad(w, (0, T - w.shape[-1])) for w in wavs]
    return torch.stack(wavs), [i for _, i in batch]


class StepBatchSampler(torch.utils.data.Sampler):
    """Per-rank batches of (epoch, index) for steps `start_step, start_step+1, ...`.

    `global_batch_size` must be divisible by `world_size`. Infinite unless `num_steps` is given."""

    def __init__(self, num_samples: int, global_batch_size: int, rank: int = 0, world_size: int = 1,
                 start_step: int = 0, num_steps: int | None = None):
        if global_batch_size % world_size:
            raise ConfigError(f"batch size {global_batch_size} is not divisible by {world_size} processes")
        self.num_samples = num_samples
        self.global_batch_size = global_batch_size
        self.local = global_batch_size // world_size
        self.rank = rank
        self.start_step = start_step
        self.num_steps = num_steps

    def batch(self, step: int) -> list[tuple[int, int]]:
        first = step * self.global_batch_size + self.rank * self.local
        return [divmod(g, self.num_samples) for g in range(first, first + self.local)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while self.num_steps is None or step < self.start_step + self.num_steps:
            yield self.batch(step)
            step += 1

    def __len__(self) -> int:
        if self.num_steps is None:
            raise TypeError("infinite sampler has no length")
        return self.num_steps


def shard_indices(n: int, rank: int, world_size: int) -> list[int]:
    """Deterministic evaluation sharding: rank r gets r, r+W, r+2W, ..."""
    return list(range(rank, n, world_size))
