"""`tonecraft similar`: a clip that contains 3 s of a training clip is flagged (token cache and manifest);
a clip of other audio is not."""
import json

import numpy as np
import soundfile as sf

from helpers_generation import tiny_codec
from tonecraft.cli import main
from tonecraft.data.manifest import AudioMeta, write_manifest
from tonecraft.data.token_cache import build_token_cache

SR = 16000


def _tune(rng, seconds):
    notes = rng.integers(0, 12, int(seconds * 4))
    t = np.arange(SR // 4) / SR
    return np.concatenate([sum(np.sin(2 * np.pi * k * 110 * 2 ** (n / 12) * t) / k for k in range(1, 4))
                           for n in notes]) * 0.3


def _corpus(tmp_path):
    rng = np.random.default_rng(0)
    metas, clips = [], []
    for i in range(3):
        clip = _tune(rng, 8.0)
        path = tmp_path / f"train{i}.wav"
        sf.write(path, clip, SR)
        metas.append(AudioMeta(str(path), 8.0, SR, 1))
        clips.append(clip)
    copy = np.concatenate([_tune(rng, 2.0), clips[1][2 * SR:5 * SR], _tune(rng, 2.0)])  # 3 s of train1 at 2 s
    sf.write(tmp_path / "copy.wav", copy, SR)
    sf.write(tmp_path / "other.wav", _tune(rng, 7.0), SR)
    return metas


def test_token_cache_and_manifest(tmp_path, capsys):
    metas = _corpus(tmp_path)
    codec = tiny_codec()
    codec.save_pretrained(tmp_path / "codec")
    build_token_cache(metas, codec, tmp_path / "cache", codec_name=str(tmp_path / "codec"))
    manifest = write_manifest(tmp_path / "train.jsonl", metas)
    for against in (tmp_path / "cache", manifest):
        assert main(["similar", str(tmp_path / "copy.wav"), "--against", str(against), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["near_copy"] and out["matches"][0]["path"].endswith("train1.wav")
        best = out["matches"][0]
        if against == manifest:
            c = best["chroma"]
            assert c["score"] > 0.9 and abs(c["item_start"] - c["query_start"]) < 0.2 and 1.9 < c["query_start"] < 3.1
        else:
            t = best["tokens"]
            assert t["query_end"] - t["query_start"] > 2.5 and abs(t["item_start"] - t["query_start"]) < 0.1
        assert main(["similar", str(tmp_path / "other.wav"), "--against", str(against)]) == 0
        assert "no near copy" in capsys.readouterr().out
