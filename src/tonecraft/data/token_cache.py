"""Token cache: encode a dataset once with a codec, then train the LM on memory-mapped int16 codes.

On-disk layout of a cache folder:

    codes.bin    int16, frame-major [total_frames, K] (one row per codec frame)
    index.json   {"format": "tonecraft-token-cache", "version": 1, "num_codebooks": K,
                  "cardinality": card, "frame_rate": fps, "sample_rate": sr, "channels": C,
                  "total_frames": N, "items": [{"path", "offset", "frames", "duration", "info"[, "weight"]}]}

Both files are written to temporaries and moved into place (index last), so a cache either exists
complete or not at all. `TokenDataset` samples random crops with the same seeding rule as
`AudioDataset` and returns (codes [K, T] int64, TokenInfo).
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from ..errors import AudioError, ConfigError
from ..fileio import AtomicFile, atomic_write_json
from .balance import balanced_weights
from .caption_variants import CAPTION_VARIANTS
from .dataset import TextAugment, sample_seed
from .info import MusicInfo, augment_description, read_info
from .manifest import AudioMeta, IndexFailure, ManifestError

FORMAT = "tonecraft-token-cache"
VERSION = 1
INT16_MAX = 32767


@dataclass
class TokenInfo:
    path: str
    offset_frames: int
    n_frames: int  # valid frames; the rest of the crop is padding
    total_frames: int
    frame_rate: float
    epoch: int = 0
    index: int = 0
    description: str | None = None
    attributes: dict = field(default_factory=dict)


# -- codec adapter (the codec module names; kept in one place) ----------------------------------------------------

def codec_properties(codec) -> dict:
    """sample_rate, channels, frame_rate, num_codebooks, cardinality of a codec model."""
    def get(*names):
        for n in names:
            for obj in (codec, getattr(codec, "config", None), getattr(codec, "quantizer", None)):
                if obj is not None and getattr(obj, n, None) is not None:
                    return getattr(obj, n)
        raise ConfigError(f"codec {type(codec).__name__} has none of the attributes {names}")

    return {
        "sample_rate": int(get("sample_rate")),
        "channels": int(get("channels", "audio_channels")),
        "frame_rate": float(get("frame_rate")),
        "num_codebooks": int(get("num_codebooks", "n_q")),
        "cardinality": int(get("cardinality", "bins", "codebook_size", "card")),
    }


@torch.no_grad()
def encode_codes(codec, wav: torch.Tensor) -> torch.Tensor:
    """wav [B, C, T] -> codes [B, K, frames] (int64)."""
    out = codec.encode(wav)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor) and hasattr(out, "codes"):
        out = out.codes
    return out.long()


# -- building ------------------------------------------------------------------------------------------------------

def build_token_cache(metas: Sequence[AudioMeta], codec, out_dir: str | os.PathLike,
                      chunk_duration: float = 30.0, device: str | torch.device = "cpu",
                      progress: bool = False, codec_name: str | None = None, tail_silence: float = 0.0
                      ) -> tuple[Path, list[IndexFailure]]:
    """Encode every file (in `chunk_duration`-second chunks, hop-aligned) and write the cache.

    `tail_silence` (seconds) of zeros are encoded after every file, so that the codes show how the sound
    decays into silence. The codes of silence itself (`silence_codes`, recorded in every index) let a
    `TokenDataset(pad_with_silence=True)` continue a short sound with silence up to the segment length without
    encoding it: an LM trained on short sounds (a 0.3 s laser shot) then learns that the sound ends, as
    AudioGen's zero-padded training segments teach it, instead of never seeing the end of a masked segment.
    `codec_name` (name or folder the codec was loaded from) is recorded so that trained LMs can
    name their decoder. Unreadable files are skipped and returned as failures (files whose sidecar
    is unreadable are kept, without metadata, and also reported). Returns (out_dir, failures)."""
    props = codec_properties(codec)
    if props["cardinality"] - 1 > INT16_MAX:
        raise ConfigError(f"codebook size {props['cardinality']} does not fit int16 tokens")
    from ..audio import load_audio

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sr, fps = props["sample_rate"], props["frame_rate"]
    hop = sr / fps
    # whole frames per chunk so concatenated chunk codes line up with the audio timeline
    chunk_frames = max(1, int(chunk_duration * fps))
    chunk_samples = int(round(chunk_frames * hop))
    codec = codec.to(device).eval()
    silence = encode_codes(codec, torch.zeros(1, props["channels"], chunk_samples, device=device))[0].cpu()
    silence_codes = [int(c) for c in silence[:, silence.shape[-1] // 2]]  # away from the edges' padding
    tail = int(round(tail_silence * sr))
    items, failures, offset = [], [], 0
    it: Iterator = iter(metas)
    if progress:
        from tqdm import tqdm

        it = iter(tqdm(metas, desc="encoding", unit="file"))
    with AtomicFile(out / "codes.bin") as f:  # committed only when every file is encoded
        for meta in it:
            try:
                wav, _ = load_audio(meta.path, sample_rate=sr, channels=props["channels"])
            except AudioError as exc:
                failures.append(IndexFailure(meta.path, str(exc)))
                continue
            duration = wav.shape[-1] / sr
            if tail:
                wav = torch.nn.functional.pad(wav, (0, tail))
            expected = int(math.ceil(wav.shape[-1] / hop))
            parts = []
            for start in range(0, wav.shape[-1], chunk_samples):
                piece = wav[:, start:start + chunk_samples]
                codes = encode_codes(codec, piece[None].to(device))[0].cpu()
                parts.append(codes[:, : int(math.ceil(piece.shape[-1] / hop))])
            codes = torch.cat(parts, dim=-1)[:, :expected]
            if codes.min() < 0 or codes.max() > INT16_MAX:
                raise ConfigError(f"{meta.path}: codec produced tokens outside the int16 range")
            f.write(codes.t().contiguous().to(torch.int16).numpy().tobytes())
            try:
                info = read_info(meta).to_dict()
            except ManifestError as exc:
                failures.append(IndexFailure(meta.path, f"metadata ignored: {exc}"))
                info = {}
            item = {"path": meta.path, "offset": offset, "frames": int(codes.shape[-1]),
                    "duration": duration, "info": info}
            if meta.weight is not None:  # the manifest's sampling weight, for TokenDataset(sample_on_weight)
                item["weight"] = float(meta.weight)
            items.append(item)
            offset += int(codes.shape[-1])
    index = {"format": FORMAT, "version": VERSION, **props, "codec": codec_name, "total_frames": offset,
             "silence_codes": silence_codes, "tail_silence": tail_silence, "items": items}
    atomic_write_json(out / "index.json", index, indent=None)
    return out, failures


def merge_token_caches(out_dir: str | os.PathLike, caches: Sequence[str | os.PathLike]) -> Path:
    """Concatenate caches written with the same codec (e.g. shards encoded side by side with
    `tonecraft data cache --shard K/N`) into one, items in the order given. Atomic like a build."""
    if not caches:
        raise ConfigError("merge needs at least one token cache")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    first, items, offset = None, [], 0
    with AtomicFile(out / "codes.bin") as f:
        for c in caches:
            cache = TokenCache(c)
            idx = cache.index
            if first is None:
                first = idx
            for key in ("num_codebooks", "cardinality", "frame_rate", "sample_rate", "codec"):
                if idx.get(key) != first.get(key):
                    raise ConfigError(f"{c}: {key} {idx.get(key)!r} differs from {first.get(key)!r} "
                                      f"of {caches[0]}; only caches of the same codec can be merged")
            items += [{**it, "offset": it["offset"] + offset} for it in idx["items"]]
            with open(Path(c) / "codes.bin", "rb") as src:
                shutil.copyfileobj(src, f)
            offset += int(idx["total_frames"])
    atomic_write_json(out / "index.json", {**first, "total_frames": offset, "items": items}, indent=None)
    return out


def shard(seq: Sequence, spec: str) -> Sequence:
    """The K-th of N contiguous slices of `seq` for `spec` = "K/N" (K from 0): shards merged in order K=0..N-1
    give back the whole sequence in its order."""
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ConfigError(f"shard must look like K/N (e.g. 0/2), got {spec!r}") from None
    if n < 1 or not 0 <= k < n:
        raise ConfigError(f"shard {spec!r}: need 0 <= K < N")
    return seq[k * len(seq) // n:(k + 1) * len(seq) // n]


# -- reading -------------------------------------------------------------------------------------------------------

class TokenCache:
    """Read-only view of a cache folder; the memmap opens lazily (safe to pickle into workers)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        index_path = self.path / "index.json"
        if not index_path.exists():
            raise ManifestError(f"{self.path}: not a token cache (no index.json)")
        with open(index_path, encoding="utf-8") as f:
            self.index = json.load(f)
        if self.index.get("format") != FORMAT:
            raise ManifestError(f"{self.path}: index.json is not a {FORMAT} index")
        if self.index.get("version", 0) > VERSION:
            raise ManifestError(f"{self.path}: cache version {self.index['version']} is newer than supported")
        self.num_codebooks = int(self.index["num_codebooks"])
        self.cardinality = int(self.index["cardinality"])
        self.frame_rate = float(self.index["frame_rate"])
        self.sample_rate = int(self.index["sample_rate"])
        self.total_frames = int(self.index["total_frames"])
        self.items = self.index["items"]
        self.codec = self.index.get("codec")
        codes = self.index.get("silence_codes")  # absent in caches written before it was recorded
        self.silence_codes = None if codes is None else torch.tensor(codes, dtype=torch.int64)
        expected = self.total_frames * self.num_codebooks * 2
        size = (self.path / "codes.bin").stat().st_size if (self.path / "codes.bin").exists() else -1
        if size != expected:
            raise ManifestError(f"{self.path}: codes.bin has {size} bytes, index expects {expected}")
        self._codes: np.ndarray | None = None

    @property
    def codes(self) -> np.ndarray:
        if self._codes is None:
            self._codes = np.memmap(self.path / "codes.bin", dtype=np.int16, mode="r",
                                    shape=(max(self.total_frames, 1), self.num_codebooks))
        return self._codes

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_codes"] = None
        return state

    def __len__(self) -> int:
        return len(self.items)

    def item_codes(self, i: int, start: int = 0, frames: int | None = None) -> torch.Tensor:
        """Codes [K, n] of item i from frame `start` (int64)."""
        it = self.items[i]
        n = it["frames"] - start if frames is None else min(frames, it["frames"] - start)
        rows = self.codes[it["offset"] + start: it["offset"] + start + max(n, 0)]
        return torch.from_numpy(np.array(rows, dtype=np.int64)).t().contiguous()


class TokenDataset(torch.utils.data.Dataset):
    """Random crops of `segment_duration` seconds from a TokenCache (AudioDataset sampling rules).

    Items: (codes [K, T] int64 padded with `pad_token`, TokenInfo). shuffle=False: the first crop
    of item i (deterministic validation). `pad_with_silence`: a crop shorter than T continues with the cache's
    codes of silence, counted as real frames (the LM learns where a short sound ends), not with masked padding.
    `caption_variant_p`: the share of training captions rewritten from the sidecar fields in other words
    (`caption_variants`, `caption_variant_style` music or sfx), so that the LM learns the sentence encoder's
    neighbourhood, not one template. `balance_on`: fields (family, tempo, or any sidecar field) whose rare values
    are drawn more often, `count ** -balance_power` (`data.balance`)."""

    def __init__(self, cache: TokenCache | str | os.PathLike, segment_duration: float,
                 num_samples: int | None = None, shuffle: bool = True, shuffle_seed: int = 0,
                 min_segment_ratio: float = 0.5, sample_on_duration: bool = False,
                 sample_on_weight: bool = False, pad_token: int = 0,
                 text_augment: TextAugment | None = None, items: Sequence[int] | None = None,
                 pad_with_silence: bool = False, caption_variant_p: float = 0.0,
                 caption_variant_style: str = "music", balance_on: Sequence[str] = (), balance_power: float = 1.0):
        self.cache = cache if isinstance(cache, TokenCache) else TokenCache(cache)
        if pad_with_silence and self.cache.silence_codes is None:
            raise ManifestError(f"{self.cache.path}: this token cache has no silence codes (rebuild it with "
                                "`tonecraft data cache`) for pad_with_silence")
        self.pad_with_silence = pad_with_silence
        self.item_ids = [i for i in (range(len(self.cache)) if items is None else items)
                         if self.cache.items[i]["frames"] > 0]
        if not self.item_ids:
            raise ManifestError(f"{self.cache.path}: token cache holds no usable items")
        self.segment_frames = max(1, int(round(segment_duration * self.cache.frame_rate)))
        self.shuffle = shuffle
        self.num_samples = int(num_samples) if (shuffle and num_samples) else len(self.item_ids)
        self.shuffle_seed = shuffle_seed
        self.min_segment_ratio = min_segment_ratio
        self.pad_token = pad_token
        self.text_augment = text_augment or TextAugment()
        if caption_variant_style not in CAPTION_VARIANTS:
            raise ConfigError(f"caption_variant_style {caption_variant_style!r}: choose from "
                              f"{', '.join(CAPTION_VARIANTS)}")
        self.caption_variant_p = caption_variant_p
        self.caption_variant = CAPTION_VARIANTS[caption_variant_style]
        self.epoch = 0
        self.sample_probs = None
        if sample_on_duration or sample_on_weight or balance_on:
            w = torch.tensor([self._sampling_weight(i, sample_on_duration, sample_on_weight) for i in self.item_ids],
                             dtype=torch.float64)
            if balance_on:
                infos = [self.cache.items[i].get("info") for i in self.item_ids]
                w *= torch.tensor(balanced_weights(infos, balance_on, balance_power), dtype=torch.float64)
            if not (w > 0).any():
                raise ManifestError(f"{self.cache.path}: every item has sampling weight 0")
            self.sample_probs = w / w.sum()

    def __len__(self) -> int:
        return self.num_samples

    def _sampling_weight(self, i: int, on_duration: bool, on_weight: bool) -> float:
        """An item's draw weight: its frames and/or the manifest's `weight` it was cached with (1 when none),
        the same rule as AudioDataset's; a weight lets a rare kind of sound be seen more often (issue 15)."""
        item = self.cache.items[i]
        w = float(item["frames"]) if on_duration else 1.0
        if on_weight and item.get("weight") is not None:
            w *= float(item["weight"])
        return w

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def split(self, valid_fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
        """Deterministic (train item ids, valid item ids) split by path hash (see split_train_valid)."""
        from .dataset import split_train_valid

        metas = [AudioMeta(self.cache.items[i]["path"], 1.0, 1) for i in self.item_ids]
        train, valid = split_train_valid(metas, valid_fraction, seed)
        ids = {id(m): i for m, i in zip(metas, self.item_ids)}
        return [ids[id(m)] for m in train], [ids[id(m)] for m in valid]

    def __getitem__(self, item) -> tuple[torch.Tensor, TokenInfo]:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        epoch, index = int(epoch), int(index)
        seed = sample_seed(index, epoch, self.num_samples, self.shuffle_seed)
        T = self.segment_frames
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(seed)
            if self.sample_probs is not None:
                pos = int(torch.multinomial(self.sample_probs, 1, generator=g).item())
            else:
                pos = int(torch.randint(len(self.item_ids), (1,), generator=g).item())
            i = self.item_ids[pos]
            frames = self.cache.items[i]["frames"]
            max_start = max(0, frames - int(T * self.min_segment_ratio))
            start = int(torch.randint(max_start + 1, (1,), generator=g).item()) if max_start > 0 else 0
        else:
            i = self.item_ids[index % len(self.item_ids)]
            start = 0
        codes = self.cache.item_codes(i, start, T)
        n = codes.shape[-1]
        if n < T and self.pad_with_silence:
            codes = torch.cat([codes, self.cache.silence_codes[:, None].expand(-1, T - n)], dim=-1)
            n = T
        elif n < T:
            codes = torch.cat([codes, codes.new_full((codes.shape[0], T - n), self.pad_token)], dim=-1)
        entry = self.cache.items[i]
        music = MusicInfo.from_dict(entry.get("info") or {})
        aug = self.text_augment
        if aug.merge_text_p > 0:
            music = augment_description(music, random.Random(seed * 7919 + 17),
                                        aug.merge_text_p, aug.drop_desc_p, aug.drop_other_p)
        if self.caption_variant_p > 0:
            rng = random.Random(seed * 104729 + 31)
            if rng.random() < self.caption_variant_p:
                variant = self.caption_variant(entry.get("info") or {}, rng)
                music = replace(music, description=variant) if variant else music
        info = TokenInfo(path=entry["path"], offset_frames=start, n_frames=n, total_frames=T,
                         frame_rate=self.cache.frame_rate, epoch=epoch, index=index,
                         description=music.description, attributes=music.text_attributes())
        return codes, info


def collate_tokens(batch: list[tuple[torch.Tensor, TokenInfo]]) -> tuple[torch.Tensor, torch.Tensor, list[TokenInfo]]:
    """-> (codes [B, K, T], valid frame mask [B, T] bool, infos)."""
    codes = torch.stack([c for c, _ in batch])
    mask = torch.zeros(codes.shape[0], codes.shape[-1], dtype=torch.bool)
    for b, (_, info) in enumerate(batch):
        mask[b, : info.n_frames] = True
    return codes, mask, [i for _, i in batch]


def write_token_cache(out_dir: str | os.PathLike, entries: Sequence[tuple[str, torch.Tensor, dict]],
                      frame_rate: float, sample_rate: int, cardinality: int, channels: int = 1,
                      codec_name: str | None = None) -> Path:
    """Write a cache directly from (path, codes [K, T], info dict) entries (tests, synthetic data)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    K = int(entries[0][1].shape[0])
    items, offset = [], 0
    with AtomicFile(out / "codes.bin") as f:
        for path, codes, info in entries:
            if codes.shape[0] != K:
                raise ConfigError("all entries of a token cache need the same number of codebooks")
            f.write(codes.t().contiguous().to(torch.int16).numpy().tobytes())
            items.append({"path": path, "offset": offset, "frames": int(codes.shape[1]),
                          "duration": codes.shape[1] / frame_rate, "info": info})
            offset += int(codes.shape[1])
    index = {"format": FORMAT, "version": VERSION, "sample_rate": sample_rate, "channels": channels,
             "frame_rate": frame_rate, "num_codebooks": K, "cardinality": cardinality, "codec": codec_name,
             "total_frames": offset, "items": items}
    atomic_write_json(out / "index.json", index, indent=None)
    return out
