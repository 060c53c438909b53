"""The `tonecraft` command line.

Each sub-command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their command runs, so `tonecraft --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import TonecraftError

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("tonecraft.models.cli_generate", "generate music (or sound effects) from a text prompt"),
    "sfx": ("tonecraft.models.cli_sfx", "generate sound effects with AudioGen (alias of generate --model audiogen-medium)"),
    "compress": ("tonecraft.codec.cli_compress", "compress an audio file with a neural codec"),
    "decompress": ("tonecraft.codec.cli_decompress", "decompress a .tcq or .ecdc file back to audio"),
    "info": ("tonecraft.codec.cli_info", "show the header of a compressed file"),
    "data": ("tonecraft.data.cli", "dataset tools (index a folder into a manifest)"),
    "corpus": ("tonecraft.data.corpus.cli", "render the offline captioned training corpus"),
    "train": ("tonecraft.train.cli", "train a codec or a language model"),
    "demo": ("tonecraft.demo", "run the end-to-end demo used by `make demo`"),
}


def _load(module_name: str):
    return importlib.import_module(module_name)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser lists every command; only `command`'s module is imported (fast start-up)."""
    parser = argparse.ArgumentParser(prog="tonecraft", description=__doc__.splitlines()[0])
    from . import __version__

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
    try:
        return int(_load(args._module).run(args) or 0)
    except TonecraftError as exc:
        print(f"tonecraft {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
