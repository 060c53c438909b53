"""Dataset manifests: one JSON line per audio file, compatible with audiocraft's `data.jsonl[.gz]`.

A line looks like (audiocraft `AudioMeta`, plus our optional `channels`):

    {"path": "/data/a.wav", "duration": 15.024, "sample_rate": 48000, "channels": 2,
     "amplitude": null, "weight": null, "info_path": null}

`index_directory` builds a manifest from a folder with a process pool. Every file is decoded once (what
`load_audio` refuses is refused here too); a file that cannot be read is skipped and reported, and one bad
file never aborts the indexing.
"""
from __future__ import annotations

import gzip
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import TonecraftError
from ..fileio import atomic_path

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif")


class ManifestError(TonecraftError):
    """A manifest that is missing, malformed or lists unusable entries."""


@dataclass
class AudioMeta:
    path: str
    duration: float
    sample_rate: int
    channels: int | None = None
    amplitude: float | None = None
    weight: float | None = None
    info_path: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "AudioMeta":
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("path", "duration", "sample_rate") if k not in d]
        if missing:
            raise ManifestError(f"manifest entry {d!r} lacks {', '.join(missing)}")
        meta = cls(**{k: v for k, v in d.items() if k in known})
        meta.duration = float(meta.duration)
        meta.sample_rate = int(meta.sample_rate)
        if meta.duration < 0 or meta.sample_rate <= 0:
            raise ManifestError(f"manifest entry {meta.path}: bad duration or sample rate")
        return meta

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class IndexFailure:
    path: str
    reason: str


def _open_text(path: Path | str, mode: str, gz: bool | None = None):
    if gz if gz is not None else str(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, mode[0] + "b"), encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def read_manifest(path: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> list[AudioMeta]:
    """Read a JSONL (optionally .gz) manifest, or a folder holding `data.jsonl[.gz]`.

    Relative `path` entries are resolved against `base_dir` (default: the manifest's folder)."""
    path = Path(path)
    if path.is_dir():
        for name in ("data.jsonl", "data.jsonl.gz"):
            if (path / name).exists():
                path = path / name
                break
        else:
            raise ManifestError(f"{path}: folder has no data.jsonl or data.jsonl.gz")
    if not path.exists():
        raise ManifestError(f"{path}: no such manifest")
    base = Path(base_dir) if base_dir is not None else path.parent
    metas = []
    with _open_text(path, "r") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            if not isinstance(d, dict):
                raise ManifestError(f"{path}:{lineno}: expected a JSON object")
            meta = AudioMeta.from_dict(d)
            if not os.path.isabs(meta.path):
                meta.path = str(base / meta.path)
            if meta.info_path and not os.path.isabs(meta.info_path):
                meta.info_path = str(base / meta.info_path)
            metas.append(meta)
    return metas


def write_manifest(path: str | os.PathLike, metas: Iterable[AudioMeta]) -> Path:
    """Write atomically (`fileio.atomic_path`); `.gz` suffix -> gzip."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with _open_text(tmp, "w", gz=str(path).endswith(".gz")) as f:
            for m in metas:
                f.write(json.dumps(m.to_dict()) + "\n")
    return path


def find_audio_files(root: str | os.PathLike, extensions: Iterable[str] = AUDIO_EXTENSIONS) -> list[Path]:
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"{root}: not a folder")
    out, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:  # a symlink back up the tree: walked already, never loop
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(exts) and not name.startswith("."):
                out.append(Path(dirpath) / name)
    return out


def sidecar_path(audio_path: str | os.PathLike) -> Path | None:
    """`<audio>.json` (e.g. `a.wav.json`), else audiocraft's `a.json`; None when neither exists."""
    p = Path(audio_path)
    for cand in (p.with_name(p.name + ".json"), p.with_suffix(".json")):
        if cand.exists():
            return cand
    return None


def probe_file(path: str | os.PathLike) -> AudioMeta:
    """Decode one file block by block (bounded memory) with the checks `load_audio` makes -- rate, NaN/Inf,
    truncation, decodability -- so a file that indexes also loads, and its duration is what it holds,
    not what its header claims. Raises AudioError when unusable."""
    from ..audio import scan_audio

    frames, sr, ch = scan_audio(path)
    side = sidecar_path(path)
    return AudioMeta(path=str(path), duration=frames / sr, sample_rate=sr, channels=ch,
                     info_path=str(side) if side else None)


def _probe_worker(path: str) -> tuple[dict | None, str | None]:
    try:
        return probe_file(path).to_dict(), None
    except TonecraftError as exc:
        return None, str(exc).replace(f"{path}: ", "", 1)
    except Exception as exc:  # noqa: BLE001 -- one bad file must never abort indexing
        return None, f"{type(exc).__name__}: {exc}"


def index_directory(root: str | os.PathLike, workers: int | None = None,
                    extensions: Iterable[str] = AUDIO_EXTENSIONS,
                    relative_to: str | os.PathLike | None = None,
                    min_duration: float = 0.0, progress: bool = False,
                    ) -> tuple[list[AudioMeta], list[IndexFailure]]:
    """Probe every audio file under `root` in a process pool.

    Returns (metas sorted by path, failures). With `relative_to` (usually the manifest's folder) paths
    are stored relative to that folder, so the dataset can be moved together with its manifest."""
    files = [str(p) for p in find_audio_files(root, extensions)]
    workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    results: Iterator[tuple[dict | None, str | None]]
    if workers <= 1 or len(files) < 2:
        results = map(_probe_worker, files)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(_probe_worker, files, chunksize=max(1, len(files) // (workers * 8)))
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=len(files), desc="indexing", unit="file")
    metas, failures = [], []
    try:
        for path, (meta, err) in zip(files, results):
            if err is not None:
                failures.append(IndexFailure(path, err))
                continue
            m = AudioMeta(**meta)
            if m.duration < min_duration:
                failures.append(IndexFailure(path, f"shorter than {min_duration} s ({m.duration:.3f} s)"))
                continue
            if relative_to is not None:
                m.path = os.path.relpath(m.path, relative_to)
                if m.info_path:
                    m.info_path = os.path.relpath(m.info_path, relative_to)
            metas.append(m)
    finally:
        if pool is not None:
            pool.shutdown()
    return metas, failures
