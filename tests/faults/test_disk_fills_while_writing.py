"""A disk that fills up *while* audio is written (not one full before the run starts): libsndfile reports only
"System error."; the message must still name the full disk, and no temp file may stay.

The atomic writer judges "disk full" before it removes its temp file: once that file is gone the space it
held is free again, and a disk filled by our own output looked fine afterwards (issue 13.2/13.3 rerun:
`decompress` or `generate --stream` onto a disk that fills mid-write said "cannot write X: System error.")."""
from __future__ import annotations

import os
import types

import pytest

from helpers_faults import assert_clean, assert_only, cli, tone_wav

pytestmark = pytest.mark.timeout(300)


def test_library_write_error_on_a_disk_our_temp_file_filled(tmp_path, monkeypatch):
    """No root needed: the file system is "full" exactly while a tonecraft temp file exists in the folder, and
    libsndfile fails the write with its errno-less error, as it does on ENOSPC."""
    import soundfile as sf
    import torch

    from tonecraft import audio, fileio
    from tonecraft.errors import OutputError

    real_statvfs = os.statvfs

    def statvfs(path):
        st = real_statvfs(path)
        ours = any(n.startswith(fileio.TEMP_PREFIX) for n in os.listdir(path))
        return types.SimpleNamespace(f_bavail=0 if ours else st.f_bavail, f_frsize=st.f_frsize, f_bsize=st.f_bsize)

    def write(self, data):
        raise sf.LibsndfileError(2, "Error writing: ")  # libsndfile's SFE_SYSTEM: "System error."

    monkeypatch.setattr(fileio.os, "statvfs", statvfs)
    monkeypatch.setattr(sf.SoundFile, "write", write)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OutputError, match="No space left on device"):
        audio.save_audio(out / "x.wav", 0.3 * torch.sin(torch.arange(800.0))[None], 8000)
    assert_only(out)


@pytest.fixture
def tiny_fs(small_fs):
    mnt = small_fs()
    if mnt is None:
        pytest.skip("not root or tmpfs unavailable: the monkeypatched case above covers the writer")
    return mnt


def test_decompress_onto_a_disk_that_fills(models, tiny_fs, tmp_path):
    """10 s at 8 kHz decodes to a 160 kB WAV: the 64 kB tmpfs fills during the write (it is empty at start)."""
    wav = tone_wav(tmp_path / "in.wav", seconds=10)
    p = cli("compress", wav, tmp_path / "x.tcq", "--model", models["codec"])
    assert_clean(p.returncode, p.stderr, ok=True)
    p = cli("decompress", tmp_path / "x.tcq", tiny_fs / "o.wav", "--model", models["codec"])
    assert_clean(p.returncode, p.stderr, ok=False, match="No space left on device")
    assert_only(tiny_fs)


def test_stream_onto_a_disk_that_fills(models, tiny_fs):
    """`generate --stream` into a disk with 8 kB left: the header fits, the audio (16 kB) does not."""
    fd = os.open(tiny_fs / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(tiny_fs / "filler", os.path.getsize(tiny_fs / "filler") - 8192)
    p = cli("generate", "tone", "-q", "--seed", "1", "--extend-stride", "0.25", "-m", models["lm"], "-d", "1",
            "--stream", "-o", tiny_fs / "s.wav")
    assert_clean(p.returncode, p.stderr, ok=False, match="No space left on device")
    assert_only(tiny_fs, "filler")
