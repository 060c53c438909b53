"""`tonecraft compress IN OUT`: audio file -> .tcq (default) or .ecdc codes."""
from __future__ import annotations

import argparse

from ..errors import TonecraftError
from ..fileio import check_output_path, same_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..compressed.compress import DEFAULT_MODEL

    p.add_argument("input", help="audio file (any rate and channel count: converted to the model's)")
    p.add_argument("output", help="compressed file; .ecdc writes EnCodec's format, anything else .tcq")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"codec name or local directory (default {DEFAULT_MODEL})")
    p.add_argument("--bandwidth", type=float, default=None, metavar="KBPS",
                   help="target bandwidth in kbps, one the model supports (default: its highest)")
    p.add_argument("--device", default=None, help="torch device, e.g. cuda (default cpu)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: only for long inputs)")


def run(args: argparse.Namespace) -> int:
    from ..compressed.compress import compress_file

    if same_file(args.output, args.input):  # (Path.resolve raises on a symlink loop)
        raise TonecraftError("refusing to overwrite the input file with the compressed output")
    check_output_path(args.output)  # before the model loads
    info = compress_file(args.input, args.output, model=args.model, bandwidth=args.bandwidth,
                         progress=args.progress, device=args.device)
    print(f"{args.output}: {info['file_size']} bytes, {info['duration']:.2f} s "
          f"at {info['bandwidth']:g} kbps ({info['file_kbps']:.2f} kbps on disk)")
    return 0
