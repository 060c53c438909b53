"""End to end: a few 2 s clips rendered with FluidSynth (skipped when it or the soundfont is absent)."""
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tonecraft.data.corpus import deps


def _require_renderer():
    try:
        deps.load_fluidsynth()
        deps.find_soundfont()
        deps.load_music21()
    except deps.CorpusDependencyError as exc:
        pytest.skip(f"corpus rendering needs FluidSynth, a GM soundfont and music21: {exc}")


def _has_mma() -> bool:
    try:
        deps.find_mma()
        return True
    except deps.CorpusDependencyError:
        return False


def _config(out, **kw):
    from tonecraft.data.corpus.build import CorpusConfig

    base = dict(out=out, hours=9.9 / 3600, seed=11, clip_seconds=(2.0, 2.0), collections=("bach",),
                mma_fraction=0.4 if _has_mma() else 0.0, drums_p=1.0, valid_fraction=0.25, test_fraction=0.25,
                progress=False)
    base.update(kw)
    return CorpusConfig(**base)


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted((root / "audio").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    _require_renderer()
    from tonecraft.data.corpus.build import build_corpus

    out = tmp_path_factory.mktemp("corpus") / "a"
    report = build_corpus(_config(out))
    return out, report


def test_clips_manifests_and_sidecars(corpus):
    out, report = corpus
    assert report.planned == 5 and not report.failed, report.failed
    rows = {s: [json.loads(line) for line in (out / f"{s}.jsonl").read_text().splitlines()]
            for s in ("train", "valid", "test")}
    assert sum(len(r) for r in rows.values()) == 5
    import soundfile as sf

    for split, lines in rows.items():
        for row in lines:
            assert row["sample_rate"] == 32000 and row["duration"] == 2.0
            audio = out / row["path"]
            info = sf.info(str(audio))
            assert (info.samplerate, info.channels, info.frames, info.subtype) == (32000, 1, 64000, "PCM_16")
            meta = json.loads(audio.with_suffix(".json").read_text())
            assert meta["split"] == split
            text = meta["description"].lower()
            assert f"{meta['bpm']} bpm" in text
            assert meta["key"].lower() in text
            assert meta["moods"][0] in text
            for part in meta["instrument"].split(", "):
                assert part in text
            assert meta["genre"] and meta["licence"] and meta["piece_id"] and meta["keywords"]
            if meta["source"]["kind"] == "music21":
                assert meta["source"]["collection"] == "bach" and "public-domain" in meta["licence"]
            else:
                assert meta["piece_id"].startswith("mma/") and "MMA" in meta["licence"]
            if meta["render"].get("drums"):
                assert "drum" in text or "beat" in text or "groove" in text


def test_split_by_piece(corpus):
    out, _ = corpus
    seen = {}
    for p in (out / "audio").rglob("*.json"):
        meta = json.loads(p.read_text())
        assert seen.setdefault(meta["piece_id"], meta["split"]) == meta["split"]
        assert p.parts[-3] == meta["split"]


def test_same_seed_same_bytes(corpus, tmp_path):
    from tonecraft.data.corpus.build import build_corpus

    out, _ = corpus
    build_corpus(_config(tmp_path / "b"))
    assert _digests(out) == _digests(tmp_path / "b")


def test_resume_renders_only_what_is_missing(corpus, tmp_path):
    from tonecraft.data.corpus.build import build_corpus

    out, _ = corpus
    copy = tmp_path / "c"
    shutil.copytree(out, copy)
    clips = sorted((copy / "audio").rglob("*.json"))
    clips[0].unlink()  # audio written, sidecar missing: incomplete
    for p in (clips[1], clips[1].with_suffix(".flac")):
        p.unlink()
    report = build_corpus(_config(copy))
    assert (report.already_done, report.rendered) == (3, 2)
    assert _digests(copy) == _digests(out)
    with pytest.raises(Exception, match="other settings"):
        build_corpus(_config(copy, seed=12))


def test_missing_soundfont_is_a_clear_error(tmp_path):
    import argparse

    from tonecraft.cli import corpus as cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["music", "--out", str(tmp_path / "x"), "--hours", "0.001",
                              "--soundfont", str(tmp_path / "nope.sf2")])
    with pytest.raises(deps.CorpusDependencyError, match="fluid-soundfont-gm"):
        cli.run(args)
    assert not (tmp_path / "x").exists()


def test_missing_mma_names_the_package(monkeypatch):
    monkeypatch.setattr(deps.shutil, "which", lambda name: None)
    with pytest.raises(deps.CorpusDependencyError, match="apt-get install mma"):
        deps.find_mma()
