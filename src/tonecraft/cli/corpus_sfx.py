"""`tonecraft corpus sfx`: the offline captioned sound-effects corpus (see docs/SFX_CORPUS.md)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_sfx_arguments(sub) -> None:
    from ..data.sfx.packages import DEFAULT_PACKAGES

    p = sub.add_parser("sfx", help="recorded sounds from Debian packages + procedural sound effects, 16 kHz",
                       description="Build a reproducible, captioned sound-effects corpus offline: recorded sounds "
                                   "that Debian packages ship (apt-get download, never installed; captions from a "
                                   "rule table, licence per file) and procedural sounds with exact captions. "
                                   "Resumable: rerun the same command.")
    p.add_argument("--out", required=True, type=Path, help="corpus folder (audio/, *.jsonl manifests, cache/)")
    p.add_argument("--seed", type=int, required=True, help="same seed -> same bytes")
    p.add_argument("--packages", default=None,
                   help="comma-separated Debian packages or groups ('default', 'arcade': sci-fi and arcade "
                        f"shooters), '' for none (default: {','.join(DEFAULT_PACKAGES)})")
    p.add_argument("--synth-hours", type=float, default=3.0, help="hours of procedural clips (default 3)")
    p.add_argument("--synth-kinds", default=None,
                   help="comma-separated procedural kinds to draw from (default: all), e.g. laser,jump,powerup "
                        "for an extra corpus of pitch sweeps; the hours count clips at 3 s each")
    p.add_argument("--workers", type=int, default=1, help="parallel render processes (default 1)")
    p.add_argument("--cache", type=Path, default=None,
                   help="where unpacked package audio is kept (default OUT/cache; share it between corpora)")
    p.add_argument("--max-clip-seconds", type=float, default=10.0, help="longer recordings are split (default 10)")
    p.add_argument("--valid-fraction", type=float, default=0.03, help="share of sources held out for validation")
    p.add_argument("--test-fraction", type=float, default=0.03, help="share of sources held out for test")
    p.add_argument("--format", dest="audio_format", choices=["flac", "wav"], default="flac")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_sfx(args: argparse.Namespace) -> int:
    from ..data.sfx.build import SfxCorpusConfig, build_sfx_corpus
    from ..data.sfx.packages import DEFAULT_PACKAGES, expand_packages

    pkgs = DEFAULT_PACKAGES if args.packages is None else expand_packages(args.packages)
    kinds = None if args.synth_kinds is None else tuple(x.strip() for x in args.synth_kinds.split(",") if x.strip())
    cfg = SfxCorpusConfig(out=args.out, seed=args.seed, packages=pkgs, synth_hours=args.synth_hours, synth_kinds=kinds,
                          workers=args.workers, cache=args.cache, max_clip_s=args.max_clip_seconds,
                          valid_fraction=args.valid_fraction, test_fraction=args.test_fraction,
                          audio_format=args.audio_format, progress=not args.no_progress)
    r = build_sfx_corpus(cfg)
    print(f"{args.out}: {r.clips} clips, {r.hours:.2f} h ({r.hours_real:.2f} h recorded, {r.hours_synth:.2f} h "
          f"procedural); {r.rendered_units} units rendered now, {r.already_done} already done; "
          f"{r.wall_s:.0f} s wall, {r.cpu_s:.0f} CPU-s")
    print("splits: " + ", ".join(f"{k} {v}" for k, v in r.splits.items()))
    print("categories: " + ", ".join(f"{k} {v}" for k, v in r.categories.items()))
    if r.skipped:
        print("left out: " + ", ".join(f"{k} {v}" for k, v in r.skipped.items()) + f" (see {args.out}/skipped.jsonl)")
    if r.failed:
        print(f"{len(r.failed)} failures (see {args.out}/failures.jsonl), e.g. {r.failed[0].get('error', '')[:200]}")
    return 0
