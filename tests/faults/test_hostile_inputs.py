"""Hostile inputs: audio with lying headers, odd paths (FIFOs, loops, pipes), hostile model ids (from the
command line and from the header of a crafted .tcq/.ecdc), all through the CLI."""
from __future__ import annotations

import dataclasses
import json
import os
import struct

import pytest

import helpers_hostile as H
from helpers_faults import assert_clean, assert_only, cli, run_main, tone_wav

pytestmark = pytest.mark.timeout(120)  # a hang (FIFO) fails here instead of blocking CI

HOSTILE_AUDIO = {  # name -> (builder, words the message must contain, one of)
    "truncated.wav": (H.truncated_wav, "truncated"),
    "truncated.aiff": (H.truncated_aiff, "truncated"),  # rerun: libsndfile indents AIFF chunk lines
    "huge_header.flac": (H.huge_flac, "corrupt"),
    "truncated.flac": (H.truncated_flac, "corrupt"),
    "nan.wav": (H.nan_wav, "NaN"),
    "rate1.wav": (lambda p: H.wav_with_rate(p, 1), "1 Hz"),
    "rate10m.wav": (lambda p: H.wav_with_rate(p, 10_000_000), "10000000 Hz"),
    "random.mp3": (H.random_bytes, "not a readable audio file"),
    "fifo.wav": (H.fifo, "not a regular file"),
    "loop.wav": (H.symlink_loop, "symbolic link loop"),
    "empty.wav": (lambda p: p.write_bytes(b""), "empty"),
    "missing.wav": (lambda p: None, "no such file"),
}


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile_audio")
    for name, (make, _) in HOSTILE_AUDIO.items():
        make(d / name)
    return d


@pytest.mark.parametrize("name", sorted(HOSTILE_AUDIO))
def test_hostile_audio_into_compress_and_continue(models, hostile_dir, tmp_path, capsys, monkeypatch, name):
    """Issues 13.6, 13.7, 13.10: compress and --continue refuse each file with its reason, before any model
    loads, bounded in memory, writing nothing."""
    import tonecraft.models

    match = HOSTILE_AUDIO[name][1]
    monkeypatch.setattr(tonecraft.models, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    rc, err = run_main(capsys, "compress", hostile_dir / name, tmp_path / "out.tcq", "--model", models["codec"])
    assert_clean(rc, err, ok=False, match=match)
    rc, err = run_main(capsys, "generate", "x", "-m", models["lm"], "--continue", hostile_dir / name,
                       "-d", "0.5", "-o", tmp_path / "g.wav", "-q")
    assert_clean(rc, err, ok=False, match=match)
    assert_only(tmp_path)


def test_data_index_refuses_what_load_audio_refuses(hostile_dir, tmp_path, capsys):
    """Issue 13.10: 802 h reported for 38 s of audio; unreadable files indexed."""
    d = tmp_path / "audio"
    d.mkdir()
    for name in HOSTILE_AUDIO:
        if (hostile_dir / name).exists() or (hostile_dir / name).is_symlink():
            os.symlink(hostile_dir / name, d / name)
    tone_wav(d / "good.wav", seconds=0.5)
    rc, err = run_main(capsys, "data", "index", d, "-o", tmp_path / "m.jsonl", "-q", "-j", "1")
    assert_clean(rc, err, ok=True)
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert [json.loads(x)["path"].split("/")[-1] for x in lines] == ["good.wav"]
    assert json.loads(lines[0])["duration"] == pytest.approx(0.5)
    assert f"skipped {len(HOSTILE_AUDIO) - 1} file(s)" in err  # every hostile file but the missing one


@pytest.fixture(scope="module")
def compressed(models, tmp_path_factory):
    """A good .tcq and .ecdc of the tiny codec."""
    from tonecraft.cli import main

    d = tmp_path_factory.mktemp("compressed")
    wav = tone_wav(d / "in.wav", seconds=0.5)
    for ext in ("tcq", "ecdc"):
        assert main(["compress", str(wav), str(d / f"good.{ext}"), "--model", str(models["codec"])]) == 0
    return d


def test_odd_compressed_input_paths(compressed, tmp_path, capsys):
    """Issue 13.6: info/decompress on a FIFO hung; a pipe gave 'Illegal seek'; a symlink loop a RuntimeError.
    Subprocesses: a regression would hang, which the timeout turns into a failure."""
    H.fifo(tmp_path / "fifo.tcq")
    H.symlink_loop(tmp_path / "loop.tcq")
    r, w = os.pipe()
    os.write(w, (compressed / "good.tcq").read_bytes()[:4096])
    os.close(w)
    try:
        for src in (tmp_path / "fifo.tcq", f"/dev/fd/{r}"):
            p = cli("info", src, timeout=60, pass_fds=(r,))
            assert_clean(p.returncode, p.stderr, ok=False, match="not a regular file")
    finally:
        os.close(r)
    for args, match in [(["info", tmp_path / "loop.tcq"], "symbolic link loop"), (["info", tmp_path], "directory"),
                        (["decompress", tmp_path / "loop.tcq", tmp_path / "loop.tcq"], "overwrite"),
                        (["decompress", tmp_path / "loop.tcq", tmp_path / "o.wav"], "symbolic link loop")]:
        assert_clean(*run_main(capsys, *args), ok=False, match=match)
    assert_only(tmp_path, "fifo.tcq", "loop.tcq")


def _with_tcq_model(data: bytes, model: str) -> bytes:
    """The same .tcq with another model id in its header, header CRC recomputed (a crafted file)."""
    from tonecraft.compressed import tcq

    h = tcq.read_header(data)
    body_len = struct.unpack("!I", data[5:9])[0]
    return tcq._encode_header(dataclasses.replace(h, model=model)) + data[9 + body_len + 4:]


def _with_ecdc_model(data: bytes, model: str) -> bytes:
    n = struct.unpack("!I", data[5:9])[0]
    meta = json.loads(data[9:9 + n])
    new = json.dumps({**meta, "m": model}).encode()
    return data[:5] + struct.pack("!I", len(new)) + new + data[9 + n:]


def hostile_model_ids(tmp_path):
    H.fifo(tmp_path / "fifo_model")
    H.symlink_loop(tmp_path / "loop_model")
    return {"/etc/passwd": "", str(tmp_path / "fifo_model"): "pipe", str(tmp_path / "loop_model"): "loop",
            "m" * 300: "too long", str(tmp_path / ("d" * 300)): "too long", "/dev/zero": "pipe"}


def test_hostile_model_ids(models, compressed, tmp_path, capsys):
    """Issue 13.5: /etc/passwd -> IndexError in the unpickler, a 300-byte id -> ENAMETOOLONG, a FIFO -> hang;
    from --model and from the model field of crafted .tcq/.ecdc files (CRC recomputed)."""
    wav = tone_wav(tmp_path / "in.wav", seconds=0.2)
    out = tmp_path / "out"
    out.mkdir()
    for model, match in hostile_model_ids(tmp_path).items():
        rc, err = run_main(capsys, "compress", wav, out / "x.tcq", "--model", model)
        assert_clean(rc, err, ok=False, match=match or "passwd")
        rc, err = run_main(capsys, "generate", "x", "-m", model, "-d", "0.5", "-o", out / "g.wav", "-q")
        assert_clean(rc, err, ok=False, match=match or "passwd")
        for ext, craft in (("tcq", _with_tcq_model), ("ecdc", _with_ecdc_model)):
            bad = out / f"crafted.{ext}"
            bad.write_bytes(craft((compressed / f"good.{ext}").read_bytes(), model))
            rc, err = run_main(capsys, "decompress", bad, out / "d.wav")
            assert_clean(rc, err, ok=False, match=match or "passwd")
            bad.unlink()
    assert_only(out)


def test_generation_arguments_fail_before_the_model_loads(models, tmp_path, capsys, monkeypatch):
    """Issue 13.8 and the minor items: each bad argument is one clear line, and no model is loaded for it."""
    import tonecraft.models

    monkeypatch.setattr(tonecraft.models, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    (tmp_path / "file").write_bytes(b"")
    melody = tone_wav(tmp_path / "hum.wav", seconds=0.3)
    cases = [
        (["--seed", str(2**64)], "--seed"), (["--seed", "-1"], "--seed"),
        (["--device", "meta"], "meta"), (["--device", "cuda:7"], "cuda:7"),
        (["--melody", melody], "melody model"),
        (["-o", tmp_path / "file" / "x.wav"], "is a file, not a folder"),
        (["-o", tmp_path / ("n" * 300 + ".wav")], "255"),
        (["-o", tmp_path / "out.xyz"], "extension"),
        (["-o", tmp_path], "folder|extension"),
    ]
    for extra, match in cases:
        args = ["generate", "piano", "-m", models["lm"], "-d", "0.5", "-q", *extra]
        if "-o" not in extra:
            args += ["-o", tmp_path / "g.wav"]
        rc, err = run_main(capsys, *args)
        assert_clean(rc, err, ok=False, match=match)
    rc, err = run_main(capsys, "generate", "piano \udcff", "-m", models["lm"], "-o", tmp_path / "g.wav")
    assert_clean(rc, err, ok=False, match="UTF-8")
    assert "0xff" in err
    assert_only(tmp_path, "file", "hum.wav")


def test_undecodable_prompt_bytes_from_a_real_shell(models, tmp_path):
    """The same through a real argv: bytes, not str, so Python's surrogateescape path is exercised."""
    import subprocess
    import sys

    from helpers_faults import cli_env

    p = subprocess.run([sys.executable, "-m", "tonecraft.cli", "generate", b"piano \xff", "-m", str(models["lm"]),
                        "-d", "0.5", "-o", str(tmp_path / "g.wav"), "-q"], env=cli_env(), capture_output=True,
                       timeout=120)
    assert_clean(p.returncode, p.stderr, ok=False, match="UTF-8")
    assert_only(tmp_path)


def test_duration_below_one_frame_and_read_only_output(models, tmp_path, capsys):
    rc, err = run_main(capsys, "generate", "x", "-m", models["lm"], "-d", "0.0001", "-o", tmp_path / "g.wav", "-q")
    assert_clean(rc, err, ok=False, match="shorter than one frame")
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = False
    if os.geteuid() == 0:  # root writes into a 0555 folder: use a read-only file system instead
        import subprocess

        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
                                 capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("root without mount: a 0555 folder would be writable")
    else:
        os.chmod(ro, 0o555)
    try:
        rc, err = run_main(capsys, "generate", "x", "-m", models["lm"], "-d", "0.1", "-o", ro / "g.wav", "-q")
        assert_clean(rc, err, ok=False, match="cannot create files")
        assert_only(ro)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(ro)], capture_output=True)
        os.chmod(ro, 0o755)
    assert_only(tmp_path, "ro")
