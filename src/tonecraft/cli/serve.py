"""`tonecraft serve`: the local studio page and HTTP API (FastAPI on uvicorn) in one process.

    tonecraft serve                                   # http://127.0.0.1:8000, the shipped models (music, sfx)
    tonecraft serve --model tonecraft-default --model musicgen-small --data-dir ~/tc-studio
    tonecraft serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"   # other machines: token required
    tonecraft serve --no-cache-scan                   # do not offer the official models found in the HF cache

Needs the `serve` extra (`pip install 'tonecraft[serve]'`).
"""
from __future__ import annotations

import ipaddress
import os
import sqlite3
from pathlib import Path

from ..errors import ConfigError

DEFAULT_MODEL = "tonecraft-default"


def default_models() -> list[str]:
    """What serves without --model: every shipped model that is installed (the music default first, the
    sound-effects default once it is packaged); the music default alone when none is, so that loading it
    says what is missing."""
    from ..pretrained.default_model import shipped_models

    return shipped_models() or [DEFAULT_MODEL]


def add_arguments(p) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (anything but loopback needs --token)")
    p.add_argument("--port", type=int, default=8000, help="port (0 = any free port; the URL is printed)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="jobs database and audio files (default: the user data folder, e.g. ~/.local/share/tonecraft)")
    p.add_argument("--model", action="extend", nargs="+", default=None, metavar="NAME_OR_DIR",
                   help=f"models to load (default: the shipped ones that are installed, {DEFAULT_MODEL} and "
                        f"tonecraft-sfx-default); the first is the default")
    p.add_argument("--no-cache-scan", action="store_true",
                   help="do not offer the official models (musicgen-*, audiogen-medium) found complete in the local "
                        "Hugging Face cache (HF_HUB_CACHE / HF_HOME); offered ones load on their first job")
    p.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' on every request")
    p.add_argument("--max-queue", type=int, default=32, help="jobs allowed to wait (more get 429)")
    p.add_argument("--max-duration", type=float, default=120.0, help="longest clip a job may ask for, in seconds")
    p.add_argument("--device", default="cpu", help="torch device for the models (default cpu)")
    p.add_argument("--upload-ttl", type=float, default=24.0, metavar="HOURS",
                   help="delete uploads no job uses after this many hours (default 24)")
    p.add_argument("--max-disk", type=float, default=None, metavar="MB",
                   help="refuse new uploads and jobs while --data-dir holds this many MiB (default: no cap)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_arguments(args) -> None:
    if not is_loopback(args.host) and not args.token:
        raise ConfigError(f"--host {args.host} is reachable from other machines: pass --token TOKEN "
                          f"(clients then send 'Authorization: Bearer TOKEN')")
    if args.token is not None and len(args.token) < 8:
        raise ConfigError("--token must be at least 8 characters")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be 0..65535, got {args.port}")
    if args.max_queue < 1:
        raise ConfigError(f"--max-queue must be >= 1, got {args.max_queue}")
    if not 0 < args.max_duration <= 3600:
        raise ConfigError(f"--max-duration must be in (0, 3600] s, got {args.max_duration}")
    if not 0 < args.upload_ttl <= 24 * 365 * 10:  # a NaN fails too
        raise ConfigError(f"--upload-ttl must be a positive number of hours, got {args.upload_ttl}")
    if args.max_disk is not None and not 0 < args.max_disk < 2**40:
        raise ConfigError(f"--max-disk must be a positive number of MiB, got {args.max_disk}")


def check_data_dir(path: Path) -> Path:
    """Create the data folder (before any model loads) and check that it is a writable folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--data-dir {path}: cannot create it ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"--data-dir {path}: not writable")
    return path


def model_key(name_or_dir: str) -> str:
    """The name a model has in the API: an official name as given, a folder by its base name."""
    return Path(name_or_dir).name if ("/" in name_or_dir or Path(name_or_dir).is_dir()) else name_or_dir


def cached_models(loaded: dict, given: list[str], device: str) -> dict:
    """The official models complete in the local Hugging Face cache and not loaded already: listed now,
    loaded by their first job (reading the cache touches no network and no weights)."""
    from ..pretrained.registry import find_model
    from ..serve.cached_models import offer_cached_models

    taken = set(loaded) | {info.name for info in map(find_model, given) if info is not None}
    offered = offer_cached_models(taken, device)
    for name, model in offered.items():
        print(f"found {name} in the Hugging Face cache ({model.cached.layout} files; loaded by its first job)",
              flush=True)
    return offered


def run(args) -> int:
    check_arguments(args)
    try:
        import uvicorn
        from platformdirs import user_data_dir

        from ..serve.app import ServeConfig, create_app
    except ImportError as exc:
        raise ConfigError(f"tonecraft serve needs the serve extra ({exc.name} is missing): "
                          f"pip install 'tonecraft[serve]'") from None
    from ..models import load_model
    from ..models.genmodel import tune_cpu_threads

    data_dir = check_data_dir(args.data_dir or Path(user_data_dir("tonecraft")))
    models = {}
    for name in args.model or default_models():
        key = model_key(name)
        if key in models:
            raise ConfigError(f"model {key!r} given twice")
        print(f"loading {name} ...", flush=True)
        models[key] = load_model(name, device=args.device)
        tune_cpu_threads(models[key])
    if not args.no_cache_scan:
        models |= cached_models(models, args.model or [], args.device)
    try:
        app = create_app(ServeConfig(data_dir, models, args.token, args.max_queue, args.max_duration,
                                     upload_ttl=args.upload_ttl * 3600,
                                     max_disk_bytes=None if args.max_disk is None else int(args.max_disk * 2**20)))
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"--data-dir {data_dir}: cannot keep the jobs database there ({exc})") from None
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets=None):
        await original(sockets=sockets)
        for s in server.servers:
            for sock in s.sockets:
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                print(f"tonecraft studio: http://{shown}:{port}/  (data in {data_dir})", flush=True)

    server.startup = startup
    server.run()
    return 0
