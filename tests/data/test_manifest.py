"""Manifests and `tonecraft data index`: JSONL(.gz) round trip, sidecars, bad files skipped and reported."""
import json

import numpy as np
import pytest
import soundfile as sf

from tonecraft.cli.data import add_arguments, run
from tonecraft.data.info import MusicInfo, augment_description, read_info
from tonecraft.data.manifest import (AudioMeta, ManifestError, index_directory, read_manifest,
                                     sidecar_path, write_manifest)


def _tone(path, seconds=0.5, sr=8000, channels=1, freq=440.0):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    sf.write(path, np.stack([x] * channels, 1), sr)


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "audio"
    (d / "sub").mkdir(parents=True)
    _tone(d / "a.wav", 0.5)
    _tone(d / "sub" / "b.flac", 0.25, sr=16000, channels=2)
    (d / "a.wav.json").write_text(json.dumps({"description": "a calm tune", "genre": "Jazz", "bpm": "120",
                                              "key": "C Major", "moods": "calm, soft", "instrument": "Piano"}))
    (d / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    (d / "empty.wav").write_bytes(b"")
    (d / "notes.txt").write_text("not audio")
    return d


def test_index_skips_bad_files_and_reports(folder):
    metas, failures = index_directory(folder, workers=2)
    assert [m.path.split("/")[-1] for m in metas] == ["a.wav", "b.flac"]
    a, b = metas
    assert a.sample_rate == 8000 and a.channels == 1 and a.duration == pytest.approx(0.5)
    assert b.sample_rate == 16000 and b.channels == 2 and b.duration == pytest.approx(0.25)
    assert a.info_path.endswith("a.wav.json") and b.info_path is None
    assert sorted(f.path.split("/")[-1] for f in failures) == ["bad.wav", "empty.wav"]
    assert all(f.reason for f in failures)


@pytest.mark.parametrize("name", ["m.jsonl", "m.jsonl.gz"])
def test_manifest_round_trip(tmp_path, folder, name):
    metas, _ = index_directory(folder, workers=1, relative_to=tmp_path)
    path = write_manifest(tmp_path / name, metas)
    back = read_manifest(path)
    assert [m.path for m in back] == [str(folder / "a.wav"), str(folder / "sub" / "b.flac")]
    assert back[0].info_path == str(folder / "a.wav.json")
    # audiocraft lines (no channels, extra null fields) read fine
    (tmp_path / "ac.jsonl").write_text(json.dumps({"path": "x.wav", "duration": 1.5, "sample_rate": 32000,
                                                   "amplitude": None, "weight": None, "info_path": None}) + "\n")
    (m,) = read_manifest(tmp_path / "ac.jsonl")
    assert m.channels is None and m.path == str(tmp_path / "x.wav")


def test_bad_manifest_errors(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"path": "a.wav"}\n')
    with pytest.raises(ManifestError, match="duration"):
        read_manifest(tmp_path / "x.jsonl")
    (tmp_path / "y.jsonl").write_text("not json\n")
    with pytest.raises(ManifestError, match="y.jsonl:1"):
        read_manifest(tmp_path / "y.jsonl")


def test_sidecar_info_and_augmentation(folder):
    assert sidecar_path(folder / "a.wav") == folder / "a.wav.json"
    info = read_info(AudioMeta(str(folder / "a.wav"), 0.5, 8000))
    assert info.description == "a calm tune" and info.genre == "jazz" and info.bpm == 120.0
    assert info.key == "c major" and info.moods == ["calm", "soft"] and info.instrument == "piano"
    import random

    same = augment_description(info, random.Random(0), merge_text_p=0.0)
    assert same.description == "a calm tune"
    merged = augment_description(info, random.Random(0), merge_text_p=1.0, drop_desc_p=0.0, drop_other_p=1.0)
    assert merged.description.startswith("a calm tune. ")
    for part in ("genre: jazz", "bpm: 120", "key: c major", "moods: calm, soft", "instrument: piano"):
        assert part in merged.description
    only_meta = augment_description(info, random.Random(0), merge_text_p=1.0, drop_desc_p=1.0, drop_other_p=1.0)
    assert "a calm tune" not in only_meta.description and "genre: jazz" in only_meta.description
    nothing = augment_description(MusicInfo(), random.Random(0), 1.0, 1.0, 1.0)
    assert nothing.description is None


def test_cli_index(folder, tmp_path, capsys):
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    out = tmp_path / "manifest.jsonl"
    args = p.parse_args(["index", str(folder), "-o", str(out), "-j", "2", "-q"])
    assert run(args) == 0
    cap = capsys.readouterr()
    assert "2 files" in cap.out and "skipped 2 file(s)" in cap.err and "bad.wav" in cap.err
    assert len(read_manifest(out)) == 2
    args = p.parse_args(["index", str(folder), "-o", str(out), "-q", "--strict"])
    assert run(args) == 1


def test_index_refuses_what_load_audio_refuses(tmp_path):
    """Issue 13.10: indexing read headers only: it accepted 1 Hz / 10 MHz rates, NaN samples, truncated files,
    and took a header's 2^36-sample claim as the duration."""
    import os

    from helpers_hostile import (fifo, good_wav, huge_flac, nan_wav, symlink_loop, truncated_flac, truncated_wav,
                                 wav_with_rate)

    d = tmp_path / "audio"
    d.mkdir()
    good_wav(d / "good.wav", seconds=0.5)
    bad = {"r1.wav": lambda p: wav_with_rate(p, 1), "r10m.wav": lambda p: wav_with_rate(p, 10_000_000),
           "nan.wav": nan_wav, "tr.flac": truncated_flac, "tr.wav": truncated_wav, "huge.flac": huge_flac,
           "fifo.wav": fifo, "loop.wav": symlink_loop}
    for name, make in bad.items():
        make(d / name)
    os.symlink("..", d / "up")  # a directory loop must not be walked forever
    metas, failures = index_directory(d, workers=1)
    assert [os.path.basename(m.path) for m in metas] == ["good.wav"]
    assert metas[0].duration == pytest.approx(0.5)
    assert sorted(os.path.basename(f.path) for f in failures) == sorted(bad)
