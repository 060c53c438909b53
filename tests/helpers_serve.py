"""Helpers of the `tonecraft serve` tests."""
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def wait_for(client, job_id, statuses=("done", "failed", "cancelled"), timeout=30.0, headers=None):
    """Poll a job until its status is one of `statuses`; returns its JSON."""
    end = time.time() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in statuses or time.time() > end:
            return job
        time.sleep(0.05)


def start_server(model_dir, data_dir, *extra, hf_cache=None, output=None):
    """Start `tonecraft serve --port 0` and return (process, base URL) once it prints its URL. The server sees
    the Hugging Face cache `hf_cache` (default: an empty folder, never the developer's cache); the lines it
    printed before its URL are appended to the list `output`."""
    hf_cache = hf_cache or Path(data_dir).parent / "empty-hf-cache"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", HF_HUB_CACHE=str(hf_cache))
    proc = subprocess.Popen([sys.executable, "-m", "tonecraft.cli", "serve", "--port", "0", "--model", str(model_dir),
                             "--data-dir", str(data_dir), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    end = time.time() + 300  # a loaded shared machine can take minutes just to import torch
    lines = []
    while time.time() < end:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        if m:
            if output is not None:
                output += lines
            return proc, m.group(1)
    proc.kill()
    raise AssertionError("server did not start:\n" + "".join(lines))


def save_tiny_audiogen(directory):
    """A tiny random sound-effects model (AudioGen family, tonecraft-lm export, 16 kHz, 25 frames/s, 10 s
    window): what `tonecraft-sfx-default` is, at chance level."""
    from helpers_generation import tiny_export

    return tiny_export(directory, family="audiogen")


def put_in_hub_cache(cache, repo_id, folder, commit="c0ffee" * 6 + "c0ff", leave_out=()):
    """Copy `folder` into the Hugging Face hub cache `cache` as a download leaves it: content-named blobs,
    a snapshot of relative symlinks, refs/main. `leave_out`: file names not copied (an incomplete download).
    Returns the snapshot folder."""
    repo = Path(cache) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or rel.name in leave_out:
            continue
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot
