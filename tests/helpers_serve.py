"""Helpers of the `tonecraft serve` tests."""
import json
import os
import re
import subprocess
import sys
import time


def wait_for(client, job_id, statuses=("done", "failed", "cancelled"), timeout=30.0, headers=None):
    """Poll a job until its status is one of `statuses`; returns its JSON."""
    end = time.time() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in statuses or time.time() > end:
            return job
        time.sleep(0.05)


def start_server(model_dir, data_dir, *extra):
    """Start `tonecraft serve --port 0` and return (process, base URL) once it prints its URL."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
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
            return proc, m.group(1)
    proc.kill()
    raise AssertionError("server did not start:\n" + "".join(lines))


def save_tiny_audiogen(directory):
    """A tiny random sound-effects model (AudioGen family, tonecraft-lm export, 16 kHz, 25 frames/s, 10 s
    window): what `tonecraft-sfx-default` is, at chance level."""
    from tonecraft.eval.tiny import save_tiny_random_model

    save_tiny_random_model(directory, seed=0, sample_rate=16000)
    config = directory / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"family": "audiogen"}))
    return directory
