"""Helpers of the fault-injection suite (`tests/faults/`, issue 13): the CLI driven as a careless or hostile user would.

Every case asserts the same contract: the command succeeds, or exits non-zero with a one-line message;
stderr never holds a traceback or a C++ abort; no file is left but the finished target; a target is
complete or absent. Cases that need a real process (signals, hangs, full disks, concurrent runs, pipes)
run `python -m tonecraft.cli` in a subprocess; the rest call `tonecraft.cli.main` in-process (same code
path, no 3 s import per case).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SR = 8000  # the tiny codec's rate


def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    return env


def cli_popen(*args, **kw) -> subprocess.Popen:
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "tonecraft.cli", *map(str, args)], env=cli_env(), **kw)


def cli(*args, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess; a hang fails the test (TimeoutExpired) instead of blocking CI."""
    kw.setdefault("capture_output", True)
    return subprocess.run([sys.executable, "-m", "tonecraft.cli", *map(str, args)], env=cli_env(),
                          timeout=timeout, **kw)


def _text(err) -> str:
    return err.decode("utf-8", "replace") if isinstance(err, bytes) else (err or "")


def assert_clean(rc: int, err, ok: bool | None = None, match: str | None = None) -> None:
    """Success, or a non-zero exit with a one-line `tonecraft CMD: ...` message; never a traceback/abort."""
    err = _text(err)
    assert "Traceback" not in err and "terminate called" not in err and "Fatal Python" not in err, err[-3000:]
    assert rc >= 0 and rc != 134, (rc, err[-2000:])  # not killed by a signal we did not send, no abort
    if ok is not None:
        assert (rc == 0) == ok, (rc, err[-2000:])
    if rc != 0:
        lines = [ln for ln in err.splitlines() if ln.startswith("tonecraft ")]
        assert lines, err[-2000:]
        if match is not None:
            assert any(m in lines[-1] for m in match.split("|")), lines[-1]


def assert_only(folder: Path, *names: str) -> None:
    """`folder` holds exactly `names` (no temp file, no partial output)."""
    assert sorted(p.name for p in Path(folder).iterdir()) == sorted(names)


def run_main(capsys, *args) -> tuple[int, str]:
    """In-process CLI call: (exit code, stderr). An exception escaping `main` fails the test by itself."""
    from tonecraft.cli import main

    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def tone_wav(path, seconds: float = 1.0, sr: int = SR) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    return Path(path)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
