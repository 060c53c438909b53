"""`tonecraft loop` and `tonecraft generate --loop`: exact lengths, loop points in the file (WAV smpl read back
with our reader and libsndfile's; Ogg Vorbis comments), the JSON sidecar, variations, and one-line errors."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers_loops import tiny_loop_model
from tonecraft import riff, vorbis_comments
from tonecraft.cli import main

SR = 8000


def _click_wav(path, bpm=120, seconds=11.0, sr=SR):
    x = np.zeros(int(seconds * sr))
    for i, t in enumerate(np.arange(0.25, seconds - 0.05, 60 / bpm)):
        s, n = int(t * sr), int(0.02 * sr)
        n = min(n, x.size - s)
        x[s:s + n] += 0.8 * np.sin(2 * np.pi * (60 if i % 4 == 0 else 900) * np.arange(n) / sr) * np.exp(
            -np.arange(n) / (0.004 * sr))
    x += 0.05 * np.sin(2 * np.pi * 220 * np.arange(x.size) / sr)
    sf.write(path, x.astype(np.float32), sr)
    return path


def test_loop_a_clip_to_wav_with_smpl_and_sidecar(tmp_path, capsys):
    src = _click_wav(tmp_path / "clicks.wav")
    out = tmp_path / "loop.wav"
    assert main(["loop", str(src), "-o", str(out), "--bars", "4", "--bpm", "120"]) == 0
    assert "4 bars at 120.00 bpm 4/4 (given)" in capsys.readouterr().out
    audio, sr = sf.read(out)
    assert sr == SR and len(audio) == 4 * 2 * SR  # exact to the sample
    (loop,) = riff.read_loop_points(out)
    assert (loop.start, loop.end, loop.play_count) == (0, len(audio), 0)
    raw = riff.read_chunk(out, "smpl")
    assert int.from_bytes(raw[48:52], "little") == len(audio) - 1  # the file stores the last frame played
    side = json.loads((tmp_path / "loop.json").read_text())
    assert side["bpm"] == 120 and side["bars"] == 4 and side["meter"] == "4/4" and side["length_samples"] == len(audio)
    assert side["loops"][0]["file"] == "loop.wav" and side["loops"][0]["loop_end"] == len(audio)
    assert side["loops"][0]["key"]


def test_loop_to_ogg_writes_vorbis_loop_tags(tmp_path):
    src = _click_wav(tmp_path / "clicks.wav")
    out = tmp_path / "loop.ogg"
    assert main(["loop", str(src), "-o", str(out), "--bars", "2"]) == 0  # tempo estimated
    side = json.loads(out.with_suffix(".json").read_text())
    tags = dict(vorbis_comments.read_comments(out))
    assert tags["LOOPSTART"] == "0" and int(tags["LOOPLENGTH"]) == side["length_samples"]
    assert int(tags["LOOPEND"]) == side["length_samples"] and abs(side["bpm"] - 120) < 1.5
    assert sf.info(out).frames == side["length_samples"]


def test_mp3_gets_only_the_sidecar(tmp_path, capsys):
    src = _click_wav(tmp_path / "clicks.wav")
    out = tmp_path / "loop.mp3"
    assert main(["loop", str(src), "-o", str(out), "--bars", "2", "--bpm", "120"]) == 0
    assert "only in the .json sidecar" in capsys.readouterr().err
    assert out.with_suffix(".json").exists()


@pytest.mark.parametrize("args,message", [
    (["--bars", "16", "--bpm", "120"], "shorter than 16 bars"),
    (["--meter", "7"], "meter must look like"),
    (["--bpm", "0"], "bpm must be"),
    (["--prompt", "x"], "need --model"),
])
def test_loop_errors_are_one_line(tmp_path, capsys, args, message):
    src = _click_wav(tmp_path / "clicks.wav")
    assert main(["loop", str(src), "-o", str(tmp_path / "o.wav"), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_loop_of_a_missing_file(tmp_path, capsys):
    assert main(["loop", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "o.wav")]) == 1
    assert "no such file" in capsys.readouterr().err


@pytest.fixture
def tiny_model(monkeypatch):
    import tonecraft.models

    model = tiny_loop_model(True)
    monkeypatch.setattr(tonecraft.models, "load_model", lambda *a, **k: model)
    return model


def test_generate_loop_variations(tmp_path, capsys, tiny_model):
    out = tmp_path / "calm.wav"
    assert main(["generate", "calm tune", "--loop", "--bars", "1", "--bpm", "150", "--variations", "2", "--seed", "3",
                 "-o", str(out), "--quiet", "--normalize", "peak", "--no-watermark"]) == 0
    printed = capsys.readouterr().out.split()
    files = [tmp_path / "calm_0.wav", tmp_path / "calm_1.wav"]
    assert printed == [str(f) for f in files] + [str(tmp_path / "calm.json")]
    expected = round(4 * 60 / 150 * 1600)
    for f in files:
        assert sf.info(f).frames == expected and riff.read_loop_points(f)[0].end == expected
    side = json.loads((tmp_path / "calm.json").read_text())
    assert side["bpm"] == 150 and side["bpm_source"] == "given" and side["seed"] == 3
    assert [entry["file"] for entry in side["loops"]] == ["calm_0.wav", "calm_1.wav"]
    assert side["loops"][1]["variation"] == 1 and side["loops"][0]["description"] == "calm tune, 150 bpm"
    assert all("bar_frames" not in entry and "played_bpm" in entry for entry in side["loops"])


@pytest.mark.parametrize("args,message", [
    ([], "--loop needs --bars"),
    (["--bars", "2", "-d", "5"], "drop --duration"),
    (["--bars", "2", "-n", "2"], "--variations"),
    (["--bars", "2", "--stream"], "cannot be combined"),
])
def test_generate_loop_errors_before_loading(tmp_path, capsys, monkeypatch, args, message):
    import tonecraft.models

    monkeypatch.setattr(tonecraft.models, "load_model", lambda *a, **k: pytest.fail("loaded a model"))
    assert main(["generate", "x", "--loop", *args, "-o", str(tmp_path / "o.wav")]) == 1
    assert message in capsys.readouterr().err


def test_loop_with_a_model_regenerates_the_seam(tmp_path, tiny_model, capsys):
    src = _click_wav(tmp_path / "clicks.wav", seconds=6.0, sr=1600)
    out = tmp_path / "seam.wav"
    assert main(["loop", str(src), "-o", str(out), "--bars", "2", "--bpm", "120", "--model", "tiny",
                 "--seed", "0", "--candidates", "2"]) == 0
    assert sf.info(out).frames == 2 * 2 * 1600
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["loops"][0]["seam_logprob"] is not None and side["model"] == "tiny"
    assert torch.isfinite(torch.tensor(sf.read(out)[0])).all()


def test_loop_settings_from_the_flags():
    import argparse

    from tonecraft.cli.loop import add_generate_loop_arguments, _settings

    p = argparse.ArgumentParser()
    add_generate_loop_arguments(p)
    s = _settings(p.parse_args(["--loop", "--bars", "2", "--takes", "3", "--no-warp"]))
    assert (s.takes, s.warp, s.candidates) == (3, False, 8)
    assert _settings(p.parse_args(["--loop", "--bars", "2"])).warp is True
