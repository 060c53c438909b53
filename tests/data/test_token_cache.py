"""Token cache: encode once, memory-mapped int16 round trip, crops, metadata, failures."""
import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from tonecraft.data.manifest import AudioMeta, ManifestError
from tonecraft.data.token_cache import (TokenCache, TokenDataset, build_token_cache, collate_tokens,
                                        merge_token_caches, shard, write_token_cache)
from tonecraft.errors import ConfigError


class FrameCodec(torch.nn.Module):
    """Deterministic stand-in codec: hop 100 samples, code = f(frame energy, codebook)."""
    sample_rate, channels, frame_rate, num_codebooks, cardinality = 8000, 1, 80.0, 3, 2048
    calls = 0

    def encode(self, wav):
        FrameCodec.calls += 1
        B, C, T = wav.shape
        n = math.ceil(T / 100)
        x = torch.nn.functional.pad(wav, (0, n * 100 - T)).reshape(B, C, n, 100).abs().mean((1, 3))
        base = (x * 5000).long()
        return torch.stack([(base + 7 * k) % self.cardinality for k in range(3)], 1)


def _write(path, seconds, sr=8000, seed=0):
    x = np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * sr)).astype(np.float32)
    sf.write(path, x, sr, subtype="FLOAT")
    return AudioMeta(str(path), seconds, sr, 1)


def test_build_and_read_back(tmp_path):
    metas = [_write(tmp_path / "a.wav", 1.0, seed=1), _write(tmp_path / "b.wav", 0.37, sr=16000, seed=2)]
    (tmp_path / "a.wav.json").write_text(json.dumps({"description": "first", "bpm": 90}))
    (tmp_path / "bad.wav").write_bytes(b"RIFFnope")
    metas.append(AudioMeta(str(tmp_path / "bad.wav"), 1.0, 8000))
    codec = FrameCodec()
    out, failures = build_token_cache(metas, codec, tmp_path / "cache", chunk_duration=0.25)
    assert [f.path for f in failures] == [str(tmp_path / "bad.wav")]
    cache = TokenCache(out)
    assert (cache.num_codebooks, cache.cardinality, cache.frame_rate) == (3, 2048, 80.0)
    assert [it["frames"] for it in cache.items] == [80, 30]
    assert np.dtype(cache.codes.dtype) == np.int16
    # chunked encoding (hop-aligned chunks) equals one-shot encoding for this frame-local codec
    from tonecraft.audio import load_audio

    wav, _ = load_audio(metas[0].path, sample_rate=8000, channels=1)
    assert torch.equal(cache.item_codes(0), codec.encode(wav[None])[0])
    assert cache.items[0]["info"]["description"] == "first"
    # truncated codes file is detected
    (out / "codes.bin").write_bytes((out / "codes.bin").read_bytes()[:-2])
    with pytest.raises(ManifestError, match="bytes"):
        TokenCache(out)


def test_tail_silence_and_padding_with_the_codes_of_silence(tmp_path):
    """Sound effects: each file is encoded with a silent tail, and a short item continues with the codes of
    silence (valid frames, so the LM learns that the sound ends) instead of masked padding."""
    metas = [_write(tmp_path / "short.wav", 0.37, seed=2), _write(tmp_path / "long.wav", 1.5, seed=3)]
    plain, _ = build_token_cache(metas, FrameCodec(), tmp_path / "plain")
    tailed, _ = build_token_cache(metas, FrameCodec(), tmp_path / "tailed", tail_silence=0.25)
    a, b = TokenCache(plain), TokenCache(tailed)
    silence = FrameCodec().encode(torch.zeros(1, 1, 100))[0, :, 0]
    assert torch.equal(a.silence_codes, silence) and torch.equal(b.silence_codes, silence)
    assert [it["frames"] for it in a.items] == [30, 120]
    assert [it["frames"] for it in b.items] == [50, 140]
    assert [it["duration"] for it in b.items] == pytest.approx([0.37, 1.5])  # the sound's real length
    assert torch.equal(b.item_codes(0, 0, 29), a.item_codes(0, 0, 29))
    assert (b.item_codes(0, 30, 20) == silence[:, None]).all()
    # a 1 s segment (80 frames) of the short item: 50 encoded frames + 30 frames of silence codes, all valid
    padded = TokenDataset(b, 1.0, shuffle=False, pad_with_silence=True)
    codes, info = padded[0]
    assert codes.shape == (3, 80) and info.n_frames == 80
    assert torch.equal(codes[:, :50], b.item_codes(0)) and (codes[:, 50:] == silence[:, None]).all()
    masked_codes, masked_info = TokenDataset(b, 1.0, shuffle=False)[0]
    assert masked_info.n_frames == 50 and (masked_codes[:, 50:] == 0).all()
    # caches written before silence codes were recorded: a clear error, not silent zeros
    index = json.loads((tailed / "index.json").read_text())
    del index["silence_codes"]
    (tailed / "index.json").write_text(json.dumps(index))
    with pytest.raises(ManifestError, match="no silence codes"):
        TokenDataset(tailed, 1.0, pad_with_silence=True)


def test_dataset_over_cache(tmp_path):
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 2048, (4, 50), generator=g)
    b = torch.randint(0, 2048, (4, 7), generator=g)
    write_token_cache(tmp_path / "c", [("a.wav", a, {"description": "song a", "genre": "rock"}),
                                       ("b.wav", b, {})], frame_rate=50, sample_rate=32000, cardinality=2048)
    ds = TokenDataset(tmp_path / "c", segment_duration=0.2, num_samples=30, shuffle_seed=1)
    for i in range(30):
        codes, info = ds[(0, i)]
        assert codes.shape == (4, 10) and codes.dtype == torch.int64
        src = a if info.path == "a.wav" else b
        n = info.n_frames
        assert torch.equal(codes[:, :n], src[:, info.offset_frames:info.offset_frames + n])
        assert torch.all(codes[:, n:] == 0)
    c1, i1 = ds[(2, 3)]
    c2, i2 = ds[(2, 3)]
    assert torch.equal(c1, c2) and i1 == i2
    codes, mask, infos = collate_tokens([ds[(0, i)] for i in range(4)])
    assert codes.shape == (4, 4, 10) and mask.shape == (4, 10)
    assert mask.sum(1).tolist() == [i.n_frames for i in infos]
    valid = TokenDataset(tmp_path / "c", segment_duration=0.2, shuffle=False)
    codes, info = valid[0]
    assert torch.equal(codes, a[:, :10]) and info.description == "song a" and info.attributes["genre"] == "rock"
    # pickles without the memmap (DataLoader workers)
    import pickle

    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[(0, 1)][0], ds[(0, 1)][0])


def test_manifest_weights_are_cached_and_drawn_on(tmp_path):
    """A weight-4 clip among three of weight 1 (none) is drawn ~4/7 of the time with sample_on_weight, 1/4 without,
    and the weight survives a shard merge."""
    metas = [_write(tmp_path / f"{i}.wav", 0.3, seed=i) for i in range(4)]
    metas[2] = AudioMeta(metas[2].path, 0.3, 8000, 1, weight=4.0)
    parts = [build_token_cache(shard(metas, f"{k}/2"), FrameCodec(), tmp_path / f"s{k}")[0] for k in range(2)]
    cache = TokenCache(merge_token_caches(tmp_path / "merged", parts))
    assert [it.get("weight") for it in cache.items] == [None, None, 4.0, None]
    heavy = metas[2].path

    def share(**kw):
        ds = TokenDataset(cache, segment_duration=0.1, num_samples=2000, **kw)
        return sum(ds[(0, i)][1].path == heavy for i in range(2000)) / 2000

    assert abs(share(sample_on_weight=True) - 4 / 7) < 0.04
    assert abs(share() - 1 / 4) < 0.04
    zero = [AudioMeta(m.path, 0.3, 8000, 1, weight=0.0) for m in metas[:2]]
    with pytest.raises(ManifestError, match="weight 0"):
        TokenDataset(build_token_cache(zero, FrameCodec(), tmp_path / "z")[0], 0.1, sample_on_weight=True)


def test_shards_merged_in_order_equal_one_cache(tmp_path):
    metas = [_write(tmp_path / f"{i}.wav", 0.2 + 0.1 * i, seed=i) for i in range(5)]
    whole, _ = build_token_cache(metas, FrameCodec(), tmp_path / "whole")
    parts = [build_token_cache(shard(metas, f"{k}/3"), FrameCodec(), tmp_path / f"s{k}")[0] for k in range(3)]
    assert sum(len(TokenCache(p)) for p in parts) == 5
    merged = TokenCache(merge_token_caches(tmp_path / "merged", parts))
    ref = TokenCache(whole)
    assert merged.items == ref.items and merged.total_frames == ref.total_frames
    assert np.array_equal(np.asarray(merged.codes), np.asarray(ref.codes))
    with pytest.raises(ConfigError, match="K/N"):
        shard(metas, "1-3")
    with pytest.raises(ConfigError, match="0 <= K < N"):
        shard(metas, "3/3")


def test_merge_refuses_caches_of_different_codecs(tmp_path):
    a = write_token_cache(tmp_path / "a", [("x.wav", torch.zeros(2, 5, dtype=torch.long), {})], frame_rate=10,
                          sample_rate=8000, cardinality=16)
    b = write_token_cache(tmp_path / "b", [("y.wav", torch.zeros(3, 5, dtype=torch.long), {})], frame_rate=10,
                          sample_rate=8000, cardinality=16)
    with pytest.raises(ConfigError, match="num_codebooks"):
        merge_token_caches(tmp_path / "m", [a, b])
    assert not (tmp_path / "m" / "index.json").exists()


def test_cli_cache_reports_when_nothing_could_be_encoded(tmp_path, capsys):
    from tonecraft.cli import main
    from tonecraft.data.manifest import write_manifest

    missing = [AudioMeta(str(tmp_path / f"gone{i}.wav"), 1.0, 8000, 1) for i in range(30)]
    write_manifest(tmp_path / "m.jsonl", missing)
    from tonecraft.codec.configs import CodecConfig
    from tonecraft.codec.model import Codec

    Codec(CodecConfig(sample_rate=8000, channels=1, dimension=8, n_filters=4, ratios=[4, 4], n_q=2, bins=16,
                      lstm_layers=1, kmeans_init=False)).save_pretrained(tmp_path / "codec")
    code = main(["data", "cache", str(tmp_path / "m.jsonl"), "--codec", str(tmp_path / "codec"),
                 "-o", str(tmp_path / "c"), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and "none of its 30 files could be encoded" in err
    listed = [line for line in err.splitlines() if line.startswith("  ") and "gone" in line]
    assert len(listed) == 20 and "... and 10 more" in err
