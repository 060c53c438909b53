"""`tonecraft corpus music`: render the offline captioned music corpus (see docs/CORPUS.md)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError


def _clip_seconds(text: str) -> tuple[float, float]:
    try:
        parts = [float(x) for x in text.replace(":", "-").split("-")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SECONDS or MIN-MAX, got {text!r}") from None
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError(f"expected SECONDS or MIN-MAX, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="corpus_command", metavar="KIND")
    p = sub.add_parser("music", help="music21 scores and MMA band grooves rendered with FluidSynth",
                       description="Render a reproducible, captioned music corpus offline (music21 corpus + "
                                   "MMA grooves -> FluidSynth, 32 kHz mono). Resumable: rerun the same command.")
    p.add_argument("--out", required=True, type=Path, help="corpus folder (audio/, *.jsonl manifests, cache/)")
    p.add_argument("--hours", type=float, required=True, help="hours of audio to plan")
    p.add_argument("--seed", type=int, default=0, help="same seed -> same bytes (default 0)")
    p.add_argument("--clip-seconds", type=_clip_seconds, default=(10.0, 30.0), metavar="S|MIN-MAX",
                   help="clip length, fixed or a range (default 10-30)")
    p.add_argument("--workers", type=int, default=1, help="parallel render processes (default 1)")
    p.add_argument("--sample-rate", type=int, default=32000)
    p.add_argument("--format", dest="audio_format", choices=["flac", "wav"], default="flac",
                   help="audio files: FLAC or WAV, both PCM16 (default flac)")
    p.add_argument("--collections", default=None,
                   help="comma-separated music21 collections (default: every licence-cleared one)")
    p.add_argument("--mma-fraction", type=float, default=0.25, help="share of clips that are MMA band grooves")
    p.add_argument("--drums", dest="drums_p", type=float, default=0.35,
                   help="probability of a procedural drum groove under a folk tune (default 0.35)")
    p.add_argument("--valid-fraction", type=float, default=0.02, help="share of tunes held out for validation")
    p.add_argument("--test-fraction", type=float, default=0.02, help="share of tunes held out for test")
    p.add_argument("--soundfont", default=None, help="GM soundfont (default: FluidR3_GM.sf2 from fluid-soundfont-gm)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(_corpus_parser=p)
    parser.set_defaults(_corpus_root=parser)
    from .corpus_sfx import add_sfx_arguments  # `tonecraft corpus sfx` (issue 15)

    add_sfx_arguments(sub)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "corpus_command", None) == "sfx":
        from .corpus_sfx import run_sfx

        return run_sfx(args)
    if getattr(args, "corpus_command", None) != "music":
        args._corpus_root.print_help()
        return 2
    from ..data.corpus.build import CorpusConfig, build_corpus
    from ..data.corpus.sources import DEFAULT_COLLECTIONS

    cols = DEFAULT_COLLECTIONS if args.collections is None else tuple(
        c.strip() for c in args.collections.split(",") if c.strip())
    if args.collections is not None and not cols and args.mma_fraction < 1:
        raise ConfigError("--collections is empty")
    cfg = CorpusConfig(out=args.out, hours=args.hours, seed=args.seed, clip_seconds=args.clip_seconds,
                       workers=args.workers, sample_rate=args.sample_rate, collections=cols,
                       mma_fraction=args.mma_fraction, drums_p=args.drums_p, audio_format=args.audio_format,
                       valid_fraction=args.valid_fraction, test_fraction=args.test_fraction,
                       soundfont=args.soundfont, progress=not args.no_progress)
    r = build_corpus(cfg)
    print(f"{args.out}: {r.already_done + r.rendered}/{r.planned} clips complete "
          f"({r.done_hours:.2f} of {r.planned_hours:.2f} h planned); rendered {r.rendered} clips "
          f"({r.rendered_seconds / 3600:.2f} h) in {r.wall_s:.0f} s wall, {r.cpu_s:.0f} CPU-s "
          f"= {r.realtime_factor:.0f}x real time")
    print("splits: " + ", ".join(f"{k} {v}" for k, v in r.splits.items()))
    if r.failed:
        pieces = sorted({f["piece_id"] for f in r.failed})
        print(f"{len(r.failed)} clips failed and were skipped ({len(pieces)} pieces, see "
              f"{args.out}/failures.jsonl), e.g. {pieces[0]}: {r.failed[0].get('error', '')[:200]}")
    return 0
