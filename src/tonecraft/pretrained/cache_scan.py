"""Official models already in the local Hugging Face cache, found without loading or reading any weights.

    for found in cached_official_models():       # HF_HUB_CACHE, or HF_HOME/hub, or ~/.cache/huggingface/hub
        print(found.info.name, found.layout, found.directory)

A snapshot counts only when `load_official_dir` can load it with no network: every file of one of the file
sets `resolve_model_dir` accepts (`snapshot_file_sets`), the shards its index lists, and, for the audiocraft
files, a complete snapshot of the T5 they name (the transformers files carry their T5). audiocraft itself
keeps its downloads in the same hub layout (its AUDIOCRAFT_CACHE_DIR is a hub cache too): point HF_HUB_CACHE
there. The scan uses `huggingface_hub.scan_cache_dir` (file names and sizes only; a repo with a broken
symlink is skipped as corrupt) and reads nothing but small JSON files.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..codec.configs import audiogen_16khz, musicgen_32khz
from ..conditioning.t5 import T5_FILES, t5_repos
from .musicgen_loading import snapshot_file_sets
from .registry import MODELS, ModelInfo

MAX_JSON_BYTES = 10_000_000  # config / index files are kilobytes; anything bigger is not one


@dataclass(frozen=True)
class CachedModel:
    """One loadable official snapshot and what the API says about it before it is loaded."""

    info: ModelInfo
    directory: Path  # the snapshot folder (load it with `load_official_dir(info, directory, text_encoder=...)`)
    layout: str  # "transformers" | "audiocraft"
    revision: str  # the snapshot's commit hash
    text_encoder: Path | None  # the cached T5 folder the audiocraft files need; None for the transformers files
    sample_rate: int
    channels: int
    frame_rate: float


def cached_official_models(cache_dir: str | Path | None = None) -> list[CachedModel]:
    """Every official model (registry order) with a complete snapshot in the cache; [] without a cache."""
    repos = scan_model_repos(cache_dir)
    found = []
    for info in MODELS.values():
        for rev in ordered_revisions(repos.get(info.hub_id.lower())):
            model = loadable_snapshot(info, rev, repos)
            if model is not None:
                found.append(model)
                break
    return found


def scan_model_repos(cache_dir: str | Path | None = None) -> dict:
    """repo id (lower case) -> huggingface_hub `CachedRepoInfo` of the model repos in the cache."""
    from huggingface_hub import scan_cache_dir

    from ..hub import hub_cache_dir

    try:
        info = scan_cache_dir(cache_dir or hub_cache_dir())
    except Exception:  # noqa: BLE001 - no cache, a file in its place, unreadable: nothing is cached
        return {}
    return {r.repo_id.lower(): r for r in info.repos if r.repo_type == "model"}


def ordered_revisions(repo) -> list:
    """The revision `refs/main` points at first (what loading by name uses), then the newest others."""
    if repo is None:
        return []
    return sorted(repo.revisions, key=lambda r: ("main" not in r.refs, -r.last_modified))


def snapshot_files(rev) -> set[str]:
    return {f.file_path.relative_to(rev.snapshot_path).as_posix() for f in rev.files}


def complete_set(rev, file_sets) -> list[str] | None:
    """The first file set the snapshot holds entirely (with every shard its index lists), else None."""
    have = snapshot_files(rev)
    for files in file_sets:
        if set(files) <= have and all(set(shards(rev.snapshot_path / f)) <= have for f in files if
                                      f.endswith(".index.json")):
            return list(files)
    return None


def shards(index: Path) -> list[str]:
    """The shard files a `*.index.json` lists (one impossible name when the index is unreadable)."""
    data = read_json(index)
    try:
        return sorted(set(data["weight_map"].values()))
    except (KeyError, TypeError, AttributeError):
        return ["<unreadable index>"]


def read_json(path: Path):
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return None
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def loadable_snapshot(info: ModelInfo, rev, repos: dict) -> CachedModel | None:
    files = complete_set(rev, snapshot_file_sets(info))
    if files is None:
        return None
    directory = Path(rev.snapshot_path)
    if "config.json" in files:
        facts = transformers_facts(read_json(directory / "config.json"))
        if facts is None:  # not a MusicGen config: the loader would refuse it
            return None
        return CachedModel(info, directory, "transformers", rev.commit_hash, None, *facts)
    t5 = cached_t5(info.text_encoder, repos)
    if t5 is None:
        return None
    codec = audiogen_16khz() if info.family == "audiogen" else musicgen_32khz()
    return CachedModel(info, directory, "audiocraft", rev.commit_hash, t5, info.sample_rate, info.channels,
                       codec.frame_rate)


def transformers_facts(config) -> tuple[int, int, float] | None:
    """(sample rate, channels, frame rate) from a MusicGen config.json; None when it is not one."""
    try:
        if config["model_type"] not in ("musicgen", "musicgen_melody"):
            return None
        audio, decoder = config["audio_encoder"], config["decoder"]
        sample_rate = int(audio["sampling_rate"])
        hop = math.prod(int(r) for r in audio["upsampling_ratios"])
        return sample_rate, int(decoder.get("audio_channels", 1) or 1), sample_rate / hop
    except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError):
        return None


def cached_t5(name: str, repos: dict) -> Path | None:
    """The snapshot folder of a complete cached T5 (audiocraft name, e.g. t5-base), else None."""
    for repo_id in t5_repos(name):
        for rev in ordered_revisions(repos.get(repo_id.lower())):
            if complete_set(rev, T5_FILES) is not None:
                return Path(rev.snapshot_path)
    return None


__all__ = ["CachedModel", "cached_official_models"]
