"""Resolve a model name or path to local files, online or offline.

- A local file or folder is used as is (no network).
- A Hugging Face repo id is fetched with `huggingface_hub` when online and read from its cache when
  offline (`HF_HUB_OFFLINE=1`) or when the network fails.
- Anything that cannot be found raises `ModelNotFoundError` naming the files needed and telling the user
  to put them in a folder and pass that folder's path instead of the name.

Loaders list acceptable file sets as alternatives, e.g. `[["config.json", "model.safetensors"],
["config.json", "pytorch_model.bin"]]`; the first complete set wins. `resolve_dir` adds what directory
loaders need: the shards listed in a `*.index.json` and optional extras (tokenizer, generation config)
fetched best-effort, all in the same snapshot folder.
"""
from __future__ import annotations

import json
import os
import re
import typing as tp
from pathlib import Path

from tonecraft.errors import ModelNotFoundError

_TRUE = {"1", "true", "yes", "on"}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def is_offline() -> bool:
    """True when the user asked for no network access (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def is_repo_id(name: str) -> bool:
    return bool(_REPO_ID.match(name)) and not Path(name).expanduser().exists()


def hub_cache_dir() -> str:
    try:
        from huggingface_hub import constants
        return str(constants.HF_HUB_CACHE)
    except Exception:  # pragma: no cover - huggingface_hub is a dependency
        return "~/.cache/huggingface/hub"


def describe_alternatives(alternatives: tp.Sequence[tp.Sequence[str]]) -> str:
    return " or ".join("[" + " + ".join(files) + "]" for files in alternatives)


def not_found_message(name: str, alternatives: tp.Sequence[tp.Sequence[str]], *, repo_id: str | None = None,
                      urls: tp.Sequence[str] = (), reason: str = "") -> str:
    """A message that says what is missing and how to provide it offline."""
    lines = [f"model {name!r} is not available{': ' + reason if reason else ''}."]
    lines.append(f"Files needed: {describe_alternatives(alternatives)}.")
    if repo_id:
        lines.append(f"They are in the Hugging Face repo https://huggingface.co/{repo_id} "
                     f"(cached under {hub_cache_dir()} after one online run).")
    for url in urls:
        lines.append(f"Download: {url}")
    folder = Path("~/tonecraft-models") / re.sub(r"[^\w.-]+", "_", name)
    lines.append(f"Offline: put the files in a folder, e.g. {folder}, and pass that folder path instead of "
                 f"{name!r}.")
    return "\n".join(lines)


_REMOTE_MISSING = object()


def _fetch(repo_id: str, filename: str, revision: str | None, local_only: bool):
    """Path of one repo file, None if not cached (offline), _REMOTE_MISSING if the repo lacks it."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (HFValidationError, LocalEntryNotFoundError, RemoteEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_files_only=local_only))
    except RemoteEntryNotFoundError:
        return _REMOTE_MISSING
    except LocalEntryNotFoundError:
        return None
    except (RepositoryNotFoundError, RevisionNotFoundError, HFValidationError):
        raise
    except Exception:
        if local_only:
            return None
        return _fetch(repo_id, filename, revision, True)  # network trouble: fall back to the cache


def resolve_repo_files(repo_id: str, alternatives: tp.Sequence[tp.Sequence[str]], revision: str | None = None,
                       name: str | None = None, urls: tp.Sequence[str] = ()) -> dict[str, Path]:
    """Local paths of the first complete file set of `repo_id` among `alternatives`.

    Online: downloads into the Hugging Face cache (or reuses it). Offline or without network: cache only.
    Raises ModelNotFoundError otherwise."""
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError, RevisionNotFoundError
    offline = is_offline()
    try:
        for files in alternatives:
            found: dict[str, Path] = {}
            for f in files:
                p = _fetch(repo_id, f, revision, offline)
                if p is None or p is _REMOTE_MISSING:
                    break
                found[f] = p
            else:
                return found
    except (RepositoryNotFoundError, RevisionNotFoundError, HFValidationError) as e:
        raise ModelNotFoundError(not_found_message(name or repo_id, alternatives, repo_id=repo_id, urls=urls,
                                                   reason=f"{type(e).__name__} for repo {repo_id!r}")) from None
    reason = "offline (HF_HUB_OFFLINE=1) and not in the local cache" if offline else \
        "not found on the Hub or in the local cache"
    raise ModelNotFoundError(not_found_message(name or repo_id, alternatives, repo_id=repo_id, urls=urls,
                                               reason=reason))


def resolve_snapshot(repo_id: str, allow_patterns: tp.Sequence[str] | None = None, revision: str | None = None,
                     name: str | None = None) -> Path:
    """Folder with (part of) a repo snapshot, e.g. for sharded weights; offline uses the cache."""
    from huggingface_hub import snapshot_download
    offline = is_offline()
    attempts = [True] if offline else [False, True]
    for local_only in attempts:
        try:
            return Path(snapshot_download(repo_id, revision=revision, allow_patterns=allow_patterns,
                                          local_files_only=local_only))
        except Exception:
            continue
    pats = [list(allow_patterns)] if allow_patterns else [["<all files>"]]
    raise ModelNotFoundError(not_found_message(name or repo_id, pats, repo_id=repo_id,
                                               reason="offline and not cached" if offline else "download failed"))


def find_local_file(filename: str, folders: tp.Iterable[str | os.PathLike]) -> Path | None:
    """First existing `folder/filename` (user-placed checkpoints, e.g. the torch hub cache)."""
    for folder in folders:
        p = Path(folder).expanduser() / filename
        if p.is_file():
            return p
    return None


def torch_hub_checkpoint_dir() -> Path:
    """Where `torch.hub.load_state_dict_from_url` keeps files (encodec package checkpoints)."""
    try:
        import torch.hub
        return Path(torch.hub.get_dir()) / "checkpoints"
    except Exception:  # pragma: no cover
        return Path("~/.cache/torch/hub/checkpoints").expanduser()


def resolve_dir(repo_id: str, alternatives: tp.Sequence[tp.Sequence[str]], optional: tp.Sequence[str] = (),
                name: str | None = None) -> Path:
    """Snapshot folder holding one complete file set of `repo_id` (+ shards + whatever `optional` exists)."""
    files = resolve_repo_files(repo_id, alternatives, name=name)
    folder = next(iter(files.values())).parent
    shards: list[str] = []
    for fname, path in files.items():
        if fname.endswith(".index.json"):
            try:
                shards += sorted(set(json.loads(path.read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # the loader reports the malformed index
    if shards:
        resolve_repo_files(repo_id, [shards], name=name)
    for fname in optional:
        if fname in files:
            continue
        try:
            resolve_repo_files(repo_id, [[fname]], name=name)
        except Exception:  # noqa: BLE001 - optional file: absent is fine
            pass
    return folder
