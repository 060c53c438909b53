"""Keeping `--data-dir` bounded: expired uploads, the files of deleted jobs, an optional size cap.

- An upload that no job references expires `upload_ttl` seconds after it arrived (default 24 h); one a job
  references lives as long as that job (its history entry can be reused).
- Deleting a job removes its audio (every cached format) and the uploads no other job references.
- Files no database row names (left by a crash between writing a file and recording it, or by a deletion
  cut short) are removed once they are older than the same age; temp files of writes in flight are younger.
- With a cap (`max_disk_bytes`) new uploads and jobs are refused (507) while the folder is above it: the
  user's history is never deleted behind their back.
A sweep runs at start and then every `interval` seconds in a daemon thread. `lock` is held by every sweep and
deletion and by the submit route between checking an upload and storing the job that references it.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

from .store import Store

JOB_FILE = re.compile(r"^(j[0-9a-f]{16})_\d+\.\w+$")
UPLOAD_FILE = re.compile(r"^(u[0-9a-f]{16})\.\w+$")


class Janitor:
    """Removes what nothing needs any more from one data folder (see the module docstring)."""

    def __init__(self, store: Store, data_dir: Path, upload_ttl: float = 24 * 3600.0,
                 max_disk_bytes: int | None = None, interval: float | None = None):
        self.store, self.data_dir = store, Path(data_dir)
        self.upload_ttl, self.max_disk_bytes = upload_ttl, max_disk_bytes
        self.interval = interval if interval is not None else min(600.0, max(1.0, upload_ttl / 4))
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.sweep()
        self.thread = threading.Thread(target=self._loop, name="tonecraft-serve-cleanup", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - a failed sweep (disk error) is retried at the next interval
                pass

    # -- what goes ---------------------------------------------------------------------------------------------

    def sweep(self, now: float | None = None) -> dict:
        """Delete expired unreferenced uploads and old orphan files; returns how many of each went."""
        now = time.time() if now is None else now
        cutoff = now - self.upload_ttl
        with self.lock:
            keep = self.store.referenced_uploads()
            expired = [u for u in self.store.uploads_created_before(cutoff) if u["id"] not in keep]
            for up in expired:
                self._drop_upload(up)
            uploads = {u["file"] for u in self.store.all_uploads()}
            jobs = self.store.job_ids()
            orphans = 0
            for folder, pattern, known in (("uploads", UPLOAD_FILE, lambda m, name: name in uploads),
                                           ("audio", JOB_FILE, lambda m, name: m.group(1) in jobs)):
                for entry in _entries(self.data_dir / folder):
                    m = pattern.match(entry.name)
                    if (m is None or not known(m, entry.name)) and _mtime(entry) < cutoff:
                        _unlink(entry.path)
                        orphans += 1
        return {"uploads": len(expired), "orphan_files": orphans}

    def delete_job(self, job_id: str) -> list[str]:
        """Remove a finished job, its audio files and the uploads only it referenced; returns those uploads."""
        with self.lock:
            job = self.store.job(job_id)
            refs = _upload_refs(job["params"]) if job else set()
            self.store.delete_job(job_id)
            for entry in _entries(self.data_dir / "audio"):
                if entry.name.startswith(f"{job_id}_"):
                    _unlink(entry.path)
            gone = sorted(refs - self.store.referenced_uploads())
            for upload_id in gone:
                up = self.store.upload(upload_id)
                if up is not None:
                    self._drop_upload(up)
        return gone

    def _drop_upload(self, up: dict) -> None:
        self.store.delete_upload(up["id"])
        _unlink(self.data_dir / "uploads" / up["file"])

    # -- the cap -----------------------------------------------------------------------------------------------

    def usage(self) -> int:
        """Bytes in the data folder: audio, uploads, the database and its journal."""
        total = sum(_size(e) for folder in ("audio", "uploads") for e in _entries(self.data_dir / folder))
        for name in ("tonecraft.db", "tonecraft.db-wal", "tonecraft.db-shm"):
            try:
                total += (self.data_dir / name).stat().st_size
            except OSError:
                pass
        return total

    def over_cap(self) -> int | None:
        """The usage when a cap is set and reached (new work is then refused), else None."""
        if self.max_disk_bytes is None:
            return None
        used = self.usage()
        return used if used >= self.max_disk_bytes else None


def _upload_refs(params: dict) -> set[str]:
    return {params[k] for k in ("melody", "continuation") if params.get(k)}


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return [e for e in it if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _mtime(entry: os.DirEntry) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return float("inf")


def _size(entry: os.DirEntry) -> int:
    try:
        return entry.stat(follow_symlinks=False).st_size
    except OSError:
        return 0


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
