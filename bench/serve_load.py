"""Load test of `tonecraft serve` on loopback (bounded): N clients submit short default-model jobs for T seconds.

    .venv/bin/python bench/serve_load.py --clients 10 --seconds 60 --duration 2

Starts its own server (`tonecraft serve --port 0`, fresh data folder, 127.0.0.1 only). Each client loops:
POST /v1/jobs, read /v1/jobs/{id}/stream until the first audio bytes (latency to first audio), read it to the end,
then poll until the job is finished (latency to done); a 429 waits Retry-After (capped). After T seconds no new
job is submitted; the jobs still queued are waited for (at most --drain seconds, then cancelled).
Checks: no 5xx, every accepted job done or cancelled, none lost (all in the history). Prints the server's peak
RSS (VmHWM) and p50/p95 latencies.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def request(url, data=None, method=None, timeout=600):
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


def start_server(model: str, data_dir: str, max_queue: int):
    cmd = [sys.executable, "-m", "tonecraft.cli", "serve", "--port", "0", "--model", model, "--data-dir", data_dir,
           "--max-queue", str(max_queue)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    for line in proc.stdout:
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # keep draining
            return proc, m.group(1)
    raise SystemExit("the server did not start")


def rss_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted, self.rejected_429, self.server_errors, self.other_errors = [], 0, [], []
        self.first_audio, self.done, self.final = [], [], {}

    def add(self, name, value):
        with self.lock:
            getattr(self, name).append(value)


def client(base, args, stats: Stats, stop_at: float):
    while time.time() < stop_at:
        t0 = time.time()
        status, body, headers = request(base + "/v1/jobs", {"prompt": random.choice(PROMPTS),
                                                            "duration": args.duration})
        if status == 429:
            with stats.lock:
                stats.rejected_429 += 1
            time.sleep(min(float(headers.get("Retry-After", 1)), 2.0))
            continue
        if status >= 500:
            stats.add("server_errors", (status, body))
            continue
        if status != 202:
            stats.add("other_errors", (status, body))
            continue
        job_id = body["id"]
        stats.add("accepted", job_id)
        with urllib.request.urlopen(f"{base}/v1/jobs/{job_id}/stream", timeout=args.drain + 600) as r:
            head = r.read(44)
            first = r.read(2) if len(head) == 44 else b""
            if first:
                stats.add("first_audio", time.time() - t0)
            while r.read(65536):
                pass
        while True:
            status, job, _ = request(f"{base}/v1/jobs/{job_id}")
            if status >= 500:
                stats.add("server_errors", (status, job))
            if job and job.get("status") in ("done", "failed", "cancelled"):
                break
            time.sleep(0.2)
        if job["status"] == "done":
            stats.add("done", time.time() - t0)


PROMPTS = ["calm solo piano, gentle and slow", "upbeat acoustic guitar folk tune, 120 bpm",
           "slow church organ chorale, 60 bpm", "fast jazz trio with walking bass"]


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--seconds", type=float, default=60.0, help="how long new jobs are submitted")
    p.add_argument("--duration", type=float, default=2.0, help="seconds of audio per job")
    p.add_argument("--model", default="tonecraft-default")
    p.add_argument("--max-queue", type=int, default=32)
    p.add_argument("--drain", type=float, default=900.0, help="longest wait for queued jobs after the end")
    args = p.parse_args()
    data_dir = tempfile.mkdtemp(prefix="tonecraft-load-")
    proc, base = start_server(args.model, data_dir, args.max_queue)
    stats, peak_rss = Stats(), [0]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak_rss[0] = max(peak_rss[0], rss_kib(proc.pid, "VmRSS"))
            time.sleep(0.5)

    threading.Thread(target=sample, daemon=True).start()
    started = time.time()
    threads = [threading.Thread(target=client, args=(base, args, stats, started + args.seconds))
               for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, started + args.seconds + args.drain - time.time()))
    for job_id in stats.accepted:  # past the drain limit: cancel what is left
        if request(f"{base}/v1/jobs/{job_id}")[1]["status"] in ("queued", "running"):
            request(f"{base}/v1/jobs/{job_id}", method="DELETE")
    wall = time.time() - started
    history, before = [], ""
    while True:  # every page of the history
        page = request(f"{base}/v1/jobs?limit=200{before}")[1]
        history += page["jobs"]
        if page["next_before"] is None:
            break
        before = f"&before={page['next_before']}"
    final = {j["id"]: j["status"] for j in history}
    hwm = rss_kib(proc.pid, "VmHWM")
    sampling.set()
    proc.terminate()
    proc.wait(timeout=60)
    lost = [i for i in stats.accepted if i not in final]
    unfinished = [i for i in stats.accepted if final.get(i) not in ("done", "cancelled")]
    print(f"{args.clients} clients, {args.seconds:.0f} s of submissions, {args.duration:g} s jobs ({args.model}); "
          f"wall {wall:.0f} s")
    print(f"accepted {len(stats.accepted)}, done {sum(1 for i in stats.accepted if final.get(i) == 'done')}, "
          f"cancelled {sum(1 for i in stats.accepted if final.get(i) == 'cancelled')}, lost {len(lost)}, "
          f"not finished {len(unfinished)}, 429 {stats.rejected_429}, 5xx {len(stats.server_errors)}, "
          f"other errors {len(stats.other_errors)}")
    print(f"latency to first audio: p50 {pct(stats.first_audio, .5):.1f} s, p95 {pct(stats.first_audio, .95):.1f} s; "
          f"to done: p50 {pct(stats.done, .5):.1f} s, p95 {pct(stats.done, .95):.1f} s")
    if stats.done:
        print(f"throughput {len(stats.done) * args.duration / wall:.2f} s of audio per second "
              f"(mean {statistics.mean(stats.done):.1f} s to done)")
    print(f"server peak RSS {max(hwm, peak_rss[0]) / 1024:.0f} MiB")
    ok = not stats.server_errors and not lost and not unfinished
    print("OK" if ok else f"FAILED: 5xx {stats.server_errors[:3]} lost {lost[:3]} unfinished {unfinished[:3]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
