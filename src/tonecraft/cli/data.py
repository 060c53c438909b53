"""`tonecraft data ...`: dataset tools.

    tonecraft data index DIR -o manifest.jsonl[.gz] [--workers N] [--relative]
    tonecraft data cache MANIFEST -o CACHE_DIR --codec NAME_OR_DIR [--device cpu] [--shard K/N]
    tonecraft data merge CACHE_DIR SHARD_DIR ...       (shards encoded side by side, merged in order)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import TonecraftError
from ..fileio import check_output_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    ix = sub.add_parser("index", help="index a folder of audio files into a JSONL manifest",
                        description="Probe every audio file under DIR (in parallel) and write a manifest. "
                                    "Unreadable files are skipped and reported.")
    ix.add_argument("dir", help="folder to scan recursively")
    ix.add_argument("-o", "--output", required=True, help="manifest to write (.jsonl or .jsonl.gz)")
    ix.add_argument("-j", "--workers", type=int, default=None, help="worker processes (default: min(8, cores))")
    ix.add_argument("--relative", action="store_true", help="store paths relative to the manifest's folder")
    ix.add_argument("--ext", nargs="+", default=None, help="extensions to include (default: common audio types)")
    ix.add_argument("--min-duration", type=float, default=0.0, help="skip files shorter than this (seconds)")
    ix.add_argument("--strict", action="store_true", help="exit with status 1 when any file was skipped")
    ix.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    ca = sub.add_parser("cache", help="encode a manifest with a codec into a token cache for LM training")
    ca.add_argument("manifest", help="manifest (.jsonl[.gz]) or folder holding data.jsonl")
    ca.add_argument("-o", "--output", required=True, help="cache folder to write")
    ca.add_argument("--codec", required=True, help="codec name or saved codec folder")
    ca.add_argument("--device", default="cpu")
    ca.add_argument("--chunk", type=float, default=30.0, help="encode in chunks of this many seconds")
    ca.add_argument("--tail-silence", type=float, default=0.0, metavar="SECONDS",
                    help="encode this much silence after every file, so the codes show each sound decaying into "
                         "silence (sound-effects corpora; train with data.pad_with_silence)")
    ca.add_argument("--shard", default=None, metavar="K/N",
                    help="encode only the K-th of N contiguous slices of the manifest (K from 0), to run N "
                         "processes side by side; join them with `tonecraft data merge`")
    ca.add_argument("-q", "--quiet", action="store_true")

    me = sub.add_parser("merge", help="concatenate token caches of the same codec (e.g. shards) into one")
    me.add_argument("output", help="cache folder to write")
    me.add_argument("caches", nargs="+", help="caches to join, in order")
    p.set_defaults(_data_parser=p)


_REPORT_LINES = 20  # failures listed one per line; the rest are counted


def _report(failures, out=None) -> None:
    if not failures:
        return
    out = out or sys.stderr
    print(f"skipped {len(failures)} file(s):", file=out)
    for f in failures[:_REPORT_LINES]:
        print(f"  {f.path}: {f.reason}", file=out)
    if len(failures) > _REPORT_LINES:
        print(f"  ... and {len(failures) - _REPORT_LINES} more", file=out)


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "data_command", None)
    if cmd == "index":
        return _run_index(args)
    if cmd == "cache":
        return _run_cache(args)
    if cmd == "merge":
        return _run_merge(args)
    args._data_parser.print_help()
    return 2


def _run_index(args) -> int:
    from ..data.manifest import AUDIO_EXTENSIONS, index_directory, write_manifest

    out = check_output_path(args.output)  # before scanning the folder
    metas, failures = index_directory(
        args.dir, workers=args.workers, extensions=args.ext or AUDIO_EXTENSIONS,
        relative_to=out.resolve().parent if args.relative else None,
        min_duration=args.min_duration, progress=not args.quiet)
    if not metas:
        _report(failures)
        raise TonecraftError(f"{args.dir}: no readable audio files found")
    write_manifest(out, metas)
    hours = sum(m.duration for m in metas) / 3600
    print(f"wrote {out}: {len(metas)} files, {hours:.2f} h" + (f", {len(failures)} skipped" if failures else ""))
    _report(failures)
    return 1 if (failures and args.strict) else 0


def _run_cache(args) -> int:
    from ..data.manifest import read_manifest
    from ..data.token_cache import build_token_cache
    from ..train.export import load_training_codec

    metas = read_manifest(args.manifest)
    if args.shard:
        from ..data.token_cache import shard

        metas = shard(metas, args.shard)
    codec = load_training_codec(args.codec, device=args.device)
    out, failures = build_token_cache(metas, codec, args.output, chunk_duration=args.chunk,
                                      device=args.device, progress=not args.quiet, codec_name=args.codec,
                                      tail_silence=args.tail_silence)
    from ..data.token_cache import TokenCache

    cache = TokenCache(out)
    if metas and not len(cache):
        _report(failures)
        raise TonecraftError(f"{args.manifest}: none of its {len(metas)} files could be encoded "
                             "(relative paths are read from the manifest's folder)")
    print(f"wrote token cache {out}: {len(cache)} files, {cache.total_frames} frames x "
          f"{cache.num_codebooks} codebooks at {cache.frame_rate:g} Hz")
    _report(failures)
    return 0


def _run_merge(args) -> int:
    from ..data.token_cache import TokenCache, merge_token_caches

    out = merge_token_caches(args.output, args.caches)
    cache = TokenCache(out)
    print(f"merged {len(args.caches)} caches into {out}: {len(cache)} files, {cache.total_frames} frames")
    return 0
