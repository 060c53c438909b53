"""The `tonecraft` command line.

This is the router (`tonecraft.cli:main`, also `python -m tonecraft.cli`). Each sub-command is one module of
this package (`cli/generate.py`, `cli/train.py` ...) exposing `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their command runs, so `tonecraft --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from ..errors import TonecraftError
from ..fileio import remove_live_temps

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("tonecraft.cli.generate", "generate music (or sound effects) from a text prompt"),
    "sfx": ("tonecraft.cli.sfx", "generate sound effects with AudioGen (alias of generate --model audiogen-medium)"),
    "loop": ("tonecraft.cli.loop", "turn an audio clip into a seamless loop of whole bars (loop points in the file)"),
    "compress": ("tonecraft.cli.compress", "compress an audio file with a neural codec"),
    "decompress": ("tonecraft.cli.decompress", "decompress a .tcq or .ecdc file back to audio"),
    "info": ("tonecraft.cli.info", "show the header of a compressed file, or an audio file's generation labels"),
    "detect": ("tonecraft.cli.detect", "say whether audio files carry tonecraft's watermark (and its payload)"),
    "similar": ("tonecraft.cli.similar", "find the training clips most similar to a clip, and any near copy"),
    "data": ("tonecraft.cli.data", "dataset tools (index a folder into a manifest)"),
    "corpus": ("tonecraft.cli.corpus", "render the offline captioned training corpus"),
    "train": ("tonecraft.cli.train", "train a codec or a language model"),
    "demo": ("tonecraft.cli.demo", "run the end-to-end demo used by `make demo`"),
    "serve": ("tonecraft.cli.serve", "the local studio page and HTTP API (needs the serve extra)"),
}


def _load(module_name: str):
    return importlib.import_module(module_name)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser lists every command; only `command`'s module is imported (fast start-up)."""
    parser = argparse.ArgumentParser(prog="tonecraft", description=__doc__.splitlines()[0])
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"tonecraft {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        if name == command:
            _load(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    previous = _terminate_cleanly()
    try:
        return int(_load(args._module).run(args) or 0)
    except TonecraftError as exc:
        print(f"tonecraft {args.command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    finally:
        remove_live_temps()  # whatever a signal or an error left half-written
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt so that every `finally` and every atomic
    writer's cleanup runs (temp files removed, targets untouched)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _terminate_cleanly():
    """Turn SIGTERM into `Terminated` (the default action would kill the process without any cleanup).
    Only in the main thread and only when SIGTERM is not already handled (e.g. by an embedding program)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)
