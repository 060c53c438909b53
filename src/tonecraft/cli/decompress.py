"""`tonecraft decompress IN OUT`: .tcq or .ecdc file -> audio file."""
from __future__ import annotations

import argparse

from ..errors import TonecraftError
from ..fileio import check_output_path, same_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="compressed .tcq or .ecdc file")
    p.add_argument("output", help="audio file to write (format from its extension, e.g. .wav, .flac)")
    p.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="codec to decode with (default: the one named in the file)")
    p.add_argument("--device", default=None, help="torch device, e.g. cuda (default cpu)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: only for long files)")


def run(args: argparse.Namespace) -> int:
    from ..audio import write_format
    from ..compressed.compress import decompress_file

    if same_file(args.output, args.input):  # (Path.resolve raises on a symlink loop)
        raise TonecraftError("refusing to overwrite the compressed input with the audio output")
    check_output_path(args.output)  # before the model loads
    write_format(args.output)
    out = decompress_file(args.input, args.output, model=args.model, progress=args.progress,
                          device=args.device)
    print(f"wrote {out}")
    return 0
