"""The service's state in SQLite (stdlib `sqlite3`, WAL): jobs and uploads. Audio lives beside it as files.

One connection shared by the request handlers and the worker threads, serialised by a lock (sqlite3 refuses
cross-thread use otherwise). Rows are plain dicts; `params` is stored as JSON.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

JOB_COLUMNS = ("id", "created", "status", "model", "params", "seed", "n", "progress", "error", "started",
               "first_audio", "finished", "sample_rate", "seconds")
TERMINAL = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, created REAL NOT NULL, status TEXT NOT NULL, model TEXT NOT NULL, params TEXT NOT NULL,
    seed INTEGER, n INTEGER NOT NULL, progress REAL NOT NULL DEFAULT 0, error TEXT, started REAL,
    first_audio REAL, finished REAL, sample_rate INTEGER, seconds REAL);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, created REAL NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, seconds REAL NOT NULL,
    sample_rate INTEGER NOT NULL, channels INTEGER NOT NULL);
"""


class Store:
    """Jobs and uploads of one data folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA busy_timeout=5000")
            self.db.executescript(_SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- jobs ---------------------------------------------------------------------------------------------------

    def add_job(self, job_id: str, model: str, params: dict, seed: int, n: int) -> None:
        with self.lock:
            self.db.execute("INSERT INTO jobs (id, created, status, model, params, seed, n) VALUES (?,?,?,?,?,?,?)",
                            (job_id, time.time(), "queued", model, json.dumps(params), seed, n))

    def update_job(self, job_id: str, **fields) -> None:
        bad = set(fields) - set(JOB_COLUMNS)
        if bad:
            raise KeyError(f"unknown job fields {sorted(bad)}")
        names = ", ".join(f"{k} = ?" for k in fields)
        with self.lock:
            self.db.execute(f"UPDATE jobs SET {names} WHERE id = ?", (*fields.values(), job_id))

    def job(self, job_id: str) -> dict | None:
        with self.lock:
            row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row is not None else None

    def jobs(self, limit: int = 50, before: float | None = None) -> list[dict]:
        """Newest first; `before`: only jobs created strictly before that time (the previous page's last)."""
        with self.lock:
            if before is None:
                rows = self.db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = self.db.execute("SELECT * FROM jobs WHERE created < ? ORDER BY created DESC LIMIT ?",
                                       (before, limit)).fetchall()
        return [_job(r) for r in rows]

    def jobs_with_status(self, status: str) -> list[dict]:
        with self.lock:
            rows = self.db.execute("SELECT * FROM jobs WHERE status = ? ORDER BY created", (status,)).fetchall()
        return [_job(r) for r in rows]

    def delete_job(self, job_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def job_ids(self) -> set[str]:
        with self.lock:
            return {r[0] for r in self.db.execute("SELECT id FROM jobs")}

    # -- uploads ------------------------------------------------------------------------------------------------

    def add_upload(self, upload_id: str, name: str, file: str, seconds: float, sample_rate: int,
                   channels: int) -> None:
        with self.lock:
            self.db.execute("INSERT INTO uploads VALUES (?,?,?,?,?,?,?)",
                            (upload_id, time.time(), name, file, seconds, sample_rate, channels))

    def upload(self, upload_id: str) -> dict | None:
        with self.lock:
            row = self.db.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        return dict(row) if row is not None else None

    def all_uploads(self) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self.db.execute("SELECT * FROM uploads")]

    def uploads_created_before(self, t: float) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self.db.execute("SELECT * FROM uploads WHERE created < ?", (t,))]

    def referenced_uploads(self) -> set[str]:
        """Ids of the uploads some job (of any status) uses as melody or continuation."""
        with self.lock:
            rows = self.db.execute("SELECT json_extract(params, '$.melody'), json_extract(params, '$.continuation') "
                                   "FROM jobs").fetchall()
        return {v for row in rows for v in row if v}

    def delete_upload(self, upload_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))


def _job(row: sqlite3.Row) -> dict:
    job = dict(row)
    job["params"] = json.loads(job["params"])
    return job
