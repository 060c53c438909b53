"""tonecraft.fileio: the one atomic writer (umask mode, short temp names, no temp left on any error path), and
a check that every writer (and every torch.load) in the package goes through fileio / safe_load."""
import errno
import os
import re
import stat
from pathlib import Path

import pytest
import torch

from tonecraft import fileio
from tonecraft.errors import CheckpointError, OutputError, TonecraftError
from tonecraft.fileio import (AtomicFile, atomic_path, atomic_write, atomic_write_bytes, atomic_write_json,
                              atomic_write_text, new_file_mode)

SRC = Path(__file__).resolve().parents[1] / "src" / "tonecraft"


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o640
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(fileio.TEMP_PREFIX))


def test_only_fileio_creates_temp_files_renames_or_unpickles():
    """Every writer goes through fileio (a second helper would bring back 0600 files and stray temps)."""
    pattern = re.compile(r"mkstemp|NamedTemporaryFile|os\.replace\(|os\.rename\(|\.rename\(|torch\.load\(")
    home = {"fileio.py", "safe_load.py"}
    bad = [f"{p.relative_to(SRC)}:{i}: {line.strip()}" for p in sorted(SRC.rglob("*.py")) if p.name not in home
           for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not bad, "\n".join(bad)


def test_new_file_mode_follows_the_umask(umask_027):
    assert new_file_mode() == umask_027


@pytest.mark.parametrize("writer", ["text", "bytes", "json", "fileobj", "path", "atomic_file"])
def test_written_files_get_the_umask_mode(tmp_path, umask_027, writer):
    target = tmp_path / "out.bin"
    if writer == "text":
        atomic_write_text(target, "x")
    elif writer == "bytes":
        atomic_write_bytes(target, b"x")
    elif writer == "json":
        atomic_write_json(target, {"a": 1})
    elif writer == "fileobj":
        atomic_write(target, lambda f: f.write(b"x"))
    elif writer == "path":
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"x")
    else:
        with AtomicFile(target) as f:
            f.write(b"x")
    assert _mode(target) == umask_027 and _leftovers(tmp_path) == []


def test_package_writers_give_the_umask_mode(tmp_path, umask_027):
    from tonecraft.audio import save_audio
    from tonecraft.codec import Codec
    from tonecraft.data.manifest import AudioMeta, write_manifest
    from tonecraft.eval.tiny import tiny_codec_config
    from tonecraft.train.checkpoint import save_checkpoint

    outs = [save_audio(tmp_path / "a.wav", torch.zeros(1, 800) + 0.1, 8000, normalize="none"),
            write_manifest(tmp_path / "m.jsonl", [AudioMeta(path="a.wav", duration=0.1, sample_rate=8000)]),
            save_checkpoint(tmp_path / "c.pt", {"step": 1})]
    codec_dir = Path(Codec(tiny_codec_config()).save_pretrained(tmp_path / "codec"))
    outs += [codec_dir / "config.json", codec_dir / "model.safetensors"]
    assert {str(p): _mode(p) for p in outs} == {str(p): umask_027 for p in outs}


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "t.txt"
    atomic_write_text(target, "old")

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise ValueError("bad data")
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_disk_full_is_a_clear_error_and_leaves_no_temp(tmp_path):
    target = tmp_path / "t.bin"

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="No space left") as e:
        atomic_write(target, full)
    assert isinstance(e.value, TonecraftError) and str(target) in str(e.value)
    with pytest.raises(OutputError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"x")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert not target.exists() and _leftovers(tmp_path) == []


def test_failed_commit_removes_the_temp(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(fileio.os, "replace", refuse)
    with pytest.raises(OutputError, match="cross-device"):
        atomic_write_bytes(tmp_path / "t.bin", b"x")
    assert list(tmp_path.iterdir()) == []


def test_long_output_names_work(tmp_path):
    """The temp name is short and our own, so a 250-byte target name (limit 255) still works."""
    target = tmp_path / ("n" * 246 + ".wav")
    atomic_write_bytes(target, b"x")
    assert target.read_bytes() == b"x" and _leftovers(tmp_path) == []
    assert len(fileio.temp_path_for(target).name) < 40


def test_unwritable_folder_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write_bytes(tmp_path / "file" / "sub" / "x.bin", b"x")


def test_temps_of_dead_processes_are_swept_live_ones_kept(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".tc-{dead_pid}-0123abcd.wav.tmp"
    live = tmp_path / f".tc-{os.getppid()}-0123abcd.tmp"
    other = tmp_path / f".tc-{dead_pid}-notahexname.tmp"
    for p in (stale, live, other):
        p.write_bytes(b"x")
    atomic_write_bytes(tmp_path / "out.bin", b"data")  # any write into the folder sweeps it
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "out.bin"])


def test_remove_live_temps_deletes_what_a_signal_interrupted(tmp_path):
    f = AtomicFile(tmp_path / "out.tcq")
    f.write(b"half")
    with atomic_path(tmp_path / "out.wav") as temp:
        temp.write_bytes(b"half")
        fileio.remove_live_temps()  # what the CLI router does on SIGTERM
        assert list(tmp_path.iterdir()) == []
        temp.write_bytes(b"whole")
    f.abort()
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_check_input_file_names_the_problem(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    os.symlink("loop", tmp_path / "loop")
    (tmp_path / "empty").write_bytes(b"")
    for name, match in [("fifo", "not a regular file"), ("loop", "symbolic link loop"), ("empty", "empty"),
                        ("missing", "no such file"), (".", "directory"), ("x" * 300, "too long")]:
        with pytest.raises(TonecraftError, match=match):
            fileio.check_input_file(tmp_path / name)


def test_check_output_path_fails_before_work_and_creates_nothing(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        fileio.check_output_path(tmp_path / "file" / "sub" / "out.wav")
    with pytest.raises(OutputError, match="255"):
        fileio.check_output_path(tmp_path / ("x" * 256 + ".wav"))
    with pytest.raises(OutputError, match="folder"):
        fileio.check_output_path(tmp_path)
    assert fileio.check_output_path(tmp_path / "new" / "deeper" / ("y" * 250 + ".wav"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a read-only tmpfs")
def test_check_output_path_sees_a_read_only_file_system(tmp_path):
    import subprocess

    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)]).returncode != 0:
        pytest.skip("mount failed")
    try:
        with pytest.raises(OutputError, match="cannot create files"):
            fileio.check_output_path(ro / "out.wav")
    finally:
        subprocess.run(["umount", str(ro)])


def test_model_path_refuses_hostile_ids(tmp_path):
    from tonecraft.errors import ModelNotFoundError

    os.mkfifo(tmp_path / "fifo")
    os.symlink("loop", tmp_path / "loop")
    assert fileio.model_path(tmp_path) == tmp_path and fileio.model_path("musicgen-small") is None
    with pytest.raises(CheckpointError, match="pipe"):
        fileio.model_path(tmp_path / "fifo")
    with pytest.raises(CheckpointError, match="loop"):
        fileio.model_path(tmp_path / "loop")
    with pytest.raises(ModelNotFoundError, match="too long"):
        fileio.model_path("m" * 300)
    with pytest.raises(ModelNotFoundError, match="control"):
        fileio.model_path("a\nb")


def test_same_file_never_raises(tmp_path):
    os.symlink("loop", tmp_path / "loop")
    assert fileio.same_file(tmp_path / "loop", tmp_path / "loop")
    assert not fileio.same_file(tmp_path / "loop", tmp_path / "other")
