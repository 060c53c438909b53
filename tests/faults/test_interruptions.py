"""Signals at random moments (SIGTERM, SIGKILL) in compress, generate (plain and --stream) and training:
the target is complete or absent, no temp file survives SIGTERM, SIGKILL leftovers are swept by the next
write into the folder, and a stopped training run says so and exits non-zero."""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from helpers_faults import assert_clean, cli_popen, run_main, tone_wav

pytestmark = pytest.mark.timeout(300)
RNG = random.Random(13)  # "random" moments, the same ones on every run


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def interrupt_all(jobs: list[tuple[list, int, float]]) -> list[tuple[int, str]]:
    """Start every (args, signal, moment) at once; each gets its signal when it has used `moment` seconds of
    CPU (imports take ~3 s, so moments past that land inside the real work, whatever the machine's load);
    collect (rc, stderr)."""
    errs = [tempfile.TemporaryFile() for _ in jobs]
    procs = [cli_popen(*args, stdout=subprocess.DEVNULL, stderr=e) for (args, _, _), e in zip(jobs, errs)]
    pending = set(range(len(jobs)))
    deadline = time.monotonic() + 240
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            if procs[i].poll() is not None:
                pending.discard(i)
            elif cpu_seconds(procs[i].pid) >= jobs[i][2]:
                procs[i].send_signal(jobs[i][1])
                pending.discard(i)
        time.sleep(0.02)
    out = []
    for p, e in zip(procs, errs):
        p.wait(timeout=180)
        e.seek(0)
        out.append((p.returncode, e.read().decode("utf-8", "replace")))
        e.close()
    return out


def check_outcome(rc: int, err: str, sig: int, folder: Path, target: str, complete) -> None:
    """After a signal: either the run finished (target complete) or it stopped; never a traceback/abort."""
    if rc == -sig and sig == signal.SIGKILL:
        assert "Traceback" not in err
    elif rc == -sig:  # SIGTERM outside the CLI's handler: during imports (nothing written yet), or after
        # `main` returned and restored the default action (the target is then complete): never a temp file
        assert "Traceback" not in err
        names = sorted(p.name for p in folder.iterdir())
        assert names in ([], [target]), names
        if names:
            complete(folder / target)
        return
    else:
        assert rc in (0, 128 + sig), (rc, err[-2000:])
        assert "Traceback" not in err and "terminate called" not in err, err[-2000:]
    names = sorted(p.name for p in folder.iterdir())
    if sig == signal.SIGKILL:  # what a killed writer leaves: its own temp file, recognisably stale
        names = [n for n in names if not re.fullmatch(r"\.tc-\d+-[0-9a-f]{8}.*\.tmp", n)]
    assert names in ([], [target]), names
    if names:
        complete(folder / target)


def tcq_complete(path: Path) -> None:
    from tonecraft.compressed import tcq

    h, segs = tcq.read_tcq(path)  # every CRC checked
    assert h.length == 600 * 8000 and segs


def wav_complete(seconds: float):
    def check(path: Path) -> None:
        import soundfile as sf

        assert sf.info(str(path)).frames == int(seconds * 8000)
    return check


def sweep_by_next_write(capsys, folder: Path, models) -> None:
    """The next write into the folder removes the temp files of killed processes."""
    small = tone_wav(folder.parent / f"{folder.name}-small.wav", seconds=0.2)
    before = {p.name for p in folder.iterdir()}
    rc, err = run_main(capsys, "compress", small, folder / "next.tcq", "--model", models["codec"])
    assert_clean(rc, err, ok=True)
    left = {p.name for p in folder.iterdir()} - {"next.tcq"}
    assert left == {n for n in before if not n.startswith(".tc-")}, (before, left)


def test_compress_interrupted(models, long_wav, tmp_path, capsys):
    """Issue 13.11: compress left `.OUT.XXXX.tmp` after SIGTERM (2 of 2) and after SIGKILL while encoding."""
    jobs, folders = [], []
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL, signal.SIGKILL):
        folder = tmp_path / f"{sig.name}-{len(folders)}"
        folder.mkdir()
        folders.append((folder, sig))
        jobs.append((["compress", long_wav, folder / "out.tcq", "--model", models["codec"], "--progress"], sig,
                     RNG.uniform(3.2, 5.0)))
    for (folder, sig), (rc, err) in zip(folders, interrupt_all(jobs)):
        check_outcome(rc, err, sig, folder, "out.tcq", tcq_complete)
        if sig == signal.SIGKILL:
            sweep_by_next_write(capsys, folder, models)


def test_generate_interrupted(models, tmp_path, capsys):
    """Issue 13.11: generate (plain and --stream) left OUTPUT.part; now temp files are unique, removed on
    SIGTERM and swept after SIGKILL."""
    gen = ["generate", "tone", "-m", models["lm"], "-d", "3", "--extend-stride", "0.25", "-q", "--seed", "1"]
    jobs, folders = [], []
    for stream in (False, True):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            folder = tmp_path / f"{'stream' if stream else 'plain'}-{sig.name}"
            folder.mkdir()
            folders.append((folder, sig))
            jobs.append(([*gen, "-o", folder / "out.wav", *(["--stream"] if stream else [])], sig,
                         RNG.uniform(3.5, 6.5)))
    for (folder, sig), (rc, err) in zip(folders, interrupt_all(jobs)):
        check_outcome(rc, err, sig, folder, "out.wav", wav_complete(3.0))
        if sig == signal.SIGKILL:
            sweep_by_next_write(capsys, folder, models)


def test_training_stopped_by_sigterm(models, tmp_path):
    """Minor item: SIGTERM finished the step and saved, but exited 0. Now: 143 and 'stopped at step N'."""
    from tonecraft.train.checkpoint import load_checkpoint

    cfg = {**models["codec_cfg"], "run": {**models["codec_cfg"]["run"], "out_dir": str(tmp_path / "run"),
                                          "steps": 100_000, "checkpoint_every": 100_000, "log_every": 1}}
    (tmp_path / "codec.yaml").write_text(yaml.safe_dump(cfg))
    proc = cli_popen("train", "codec", "-c", tmp_path / "codec.yaml")
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.1)
    time.sleep(RNG.uniform(0.0, 1.0))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 143 and "Traceback" not in err, err[-2000:]
    step = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"]
    assert f"stopped at step {step} by SIGTERM, checkpoint saved" in err
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".tc-")]
