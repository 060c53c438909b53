"""Plan, render, resume, workers and splits of the SFX corpus on a fake package + a few procedural clips."""
import hashlib
import json
from pathlib import Path

import pytest

from helpers_sfx import fake_package
from tonecraft.data.sfx.build import SfxCorpusConfig, build_sfx_corpus, source_group, split_of
from tonecraft.errors import ConfigError

N_SYNTH = 10


def _cfg(out: Path, cache: Path, **kw) -> SfxCorpusConfig:
    base = dict(out=out, seed=5, packages=("fake-sfx-data",), synth_hours=N_SYNTH * 3.0 / 3600, cache=cache,
                valid_fraction=0.3, test_fraction=0.3, progress=False)
    base.update(kw)
    return SfxCorpusConfig(**base)


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted((root / "audio").rglob("*")) if p.is_file()} | \
        {n: hashlib.md5((root / n).read_bytes()).hexdigest() for n in ("train.jsonl", "valid.jsonl", "test.jsonl")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("sfx")
    fake_package(base / "cache")
    report = build_sfx_corpus(_cfg(base / "one", base / "cache"), log=lambda m: None)
    return base, report


def test_clips_sidecars_and_manifests(built):
    base, r = built
    out = base / "one"
    assert not r.failed, r.failed
    assert r.planned_units == 5 + N_SYNTH  # rain x2, dog, wind, door captioned; pcv643 skipped by caption
    assert r.skipped == {"no caption rule matched": 1, "silent or shorter than 0.08 s after trimming": 1}, r.skipped
    rows = [json.loads(line) for s in ("train", "valid", "test") for line in (out / f"{s}.jsonl").read_text().splitlines()]
    assert len(rows) == r.clips == 3 + 3 + N_SYNTH  # the 25 s wind is cut into 3 clips of <= 10 s
    import soundfile as sf

    for row in rows:
        info = sf.info(out / row["path"])
        assert info.samplerate == 16000 and info.channels == 1 and abs(info.duration - row["duration"]) < 1e-3
        assert row["duration"] <= 10.0 + 1e-6
        side = json.loads((out / row["path"]).with_suffix(".json").read_text())
        assert side["description"] and side["category"] and side["licence"]
        if side["source"]["kind"] == "debian":
            assert side["source"]["package"] == "fake-sfx-data" and side["attribution"] == "Test Author"
            assert side["licence"] == "CC0-1.0"
        else:
            assert side["source"]["kind"] == "procedural" and "params" in side
    st = json.loads((out / "status.json").read_text())
    assert st["clips"] == r.clips and st["packages"] == {"fake-sfx-data": 6}
    assert (out / "failures.jsonl").read_text() == ""
    assert "pcv643" in (out / "skipped.jsonl").read_text()


def test_split_by_source_never_mixes_takes(built):
    base, _ = built
    out = base / "one"
    split_by_source = {}
    for s in ("train", "valid", "test"):
        for line in (out / f"{s}.jsonl").read_text().splitlines():
            side = json.loads((out / json.loads(line)["path"]).with_suffix(".json").read_text())
            if side["source"]["kind"] == "debian":
                key = source_group(side["source"]["package"], side["source"]["path"])
                assert split_by_source.setdefault(key, s) == s
    assert source_group("p", "a/rain_01.wav") == source_group("p", "a/rain_02.wav") != source_group("p", "a/rainb.wav")
    assert split_of("x", 0.0, 0.0) == "train"


def test_same_bytes_with_two_workers_and_after_resume(built, tmp_path):
    base, _ = built
    ref = _digests(base / "one")
    two = tmp_path / "two"
    build_sfx_corpus(_cfg(two, base / "cache", workers=2), log=lambda m: None)
    assert _digests(two) == ref
    # interrupt: drop a recorded unit's marker and clips, and two procedural clips
    marker = next((two / "units" / "real").rglob("*.json"))
    for clip in json.loads(marker.read_text())["clips"]:
        (two / clip[2]).unlink()
        (two / clip[2]).with_suffix(".json").unlink()
    marker.unlink()
    synth = sorted((two / "audio").rglob("synth/*/*.json"))[:2]
    for side in synth:
        side.unlink()
        side.with_suffix(".flac").unlink()
    r = build_sfx_corpus(_cfg(two, base / "cache"), log=lambda m: None)
    assert r.rendered_units == 3 and r.already_done == r.planned_units - 3
    assert r.skipped == built[1].skipped  # the silent source is still listed, with its reason
    assert _digests(two) == ref


def test_resume_with_other_settings_is_refused(built):
    base, _ = built
    with pytest.raises(ConfigError, match="seed was 5, now 6"):
        build_sfx_corpus(_cfg(base / "one", base / "cache", seed=6), log=lambda m: None)


def test_more_synth_hours_only_adds_clips(built, tmp_path):
    base, _ = built
    small = _cfg(tmp_path / "c", base / "cache", packages=(), synth_hours=4 * 3.0 / 3600)
    build_sfx_corpus(small, log=lambda m: None)
    before = _digests(tmp_path / "c")
    r = build_sfx_corpus(_cfg(tmp_path / "c", base / "cache", packages=(), synth_hours=6 * 3.0 / 3600),
                         log=lambda m: None)
    assert r.already_done == 4 and r.rendered_units == 2
    after = _digests(tmp_path / "c")
    assert all(after[k] == v for k, v in before.items() if k.startswith("audio/"))


def test_cli(tmp_path, capsys):
    from tonecraft.cli import main

    rc = main(["corpus", "sfx", "--out", str(tmp_path / "cli"), "--seed", "1", "--packages", "",
               "--synth-hours", "0.003", "--no-progress"])
    assert rc in (0, None)
    out = capsys.readouterr().out
    assert "4 clips" in out and "procedural" in out


def test_synth_kinds_draws_only_those_kinds(built, tmp_path):
    """A focused extra corpus (issue 15): every procedural clip is one of the kinds asked for, both appear, the
    setting is part of the corpus identity, and an unknown kind is a clear error."""
    base, _ = built
    cfg = _cfg(tmp_path / "k", base / "cache", packages=(), synth_hours=12 * 3.0 / 3600, synth_kinds=("laser", "jump"))
    build_sfx_corpus(cfg, log=lambda m: None)
    kinds = [json.loads(p.read_text())["source"]["generator"] for p in (tmp_path / "k" / "audio").rglob("*.json")]
    assert len(kinds) == 12 and set(kinds) == {"laser", "jump"}
    with pytest.raises(ConfigError, match="synth_kinds was"):
        build_sfx_corpus(_cfg(tmp_path / "k", base / "cache", packages=(), synth_hours=12 * 3.0 / 3600),
                         log=lambda m: None)
    with pytest.raises(ConfigError, match="unknown kind.*lazer"):
        _cfg(tmp_path / "x", base / "cache", synth_kinds=("lazer",)).validate()
