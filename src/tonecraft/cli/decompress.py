"""`tonecraft decompress IN OUT`: .tcq or .ecdc file -> audio file."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import TonecraftError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="compressed .tcq or .ecdc file")
    p.add_argument("output", help="audio file to write (format from its extension, e.g. .wav, .flac)")
    p.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="codec to decode with (default: the one named in the file)")
    p.add_argument("--device", default=None, help="torch device, e.g. cuda (default cpu)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: only for long files)")


def run(args: argparse.Namespace) -> int:
    from .compress import decompress_file

    if Path(args.output).resolve() == Path(args.input).resolve():
        raise TonecraftError("refusing to overwrite the compressed input with the audio output")
    out = decompress_file(args.input, args.output, model=args.model, progress=args.progress,
                          device=args.device)
    print(f"wrote {out}")
    return 0
