"""`tonecraft loop IN.wav -o OUT.wav`: turn a clip into a seamless loop; and the `--loop` output of
`tonecraft generate` (loop files with their loop points and a JSON sidecar).

    tonecraft loop jam.wav -o jam_loop.wav                     # tempo and bars found in the clip
    tonecraft loop jam.wav -o jam_loop.ogg --bars 4 --bpm 96   # LOOPSTART / LOOPLENGTH in the Ogg file
    tonecraft loop jam.wav -o jam_loop.wav --model tonecraft-default   # the model regenerates the seam
    tonecraft generate "calm exploration music, 90 bpm" --loop --bars 8 --variations 3 -o calm.wav

Loop points go into the file where its format has a place for them: the WAV `smpl` chunk (samplers, Godot,
Unreal), Vorbis comments LOOPSTART / LOOPLENGTH / LOOPEND in .ogg / .opus / .flac (SDL_mixer, RPG Maker,
ZMusic); .mp3 / .aiff files get only the sidecar. The sidecar (OUT.json) has bpm, bars, meter, key and the
loop points of every file, in samples (end exclusive).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, UnsupportedFormatError

META_FORMATS = {".wav": "smpl chunk", ".ogg": "Vorbis comments", ".oga": "Vorbis comments",
                ".opus": "Vorbis comments", ".flac": "Vorbis comments"}


def _positive_bpm(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_loop_options(p: argparse.ArgumentParser, bars_required: bool = False) -> None:
    p.add_argument("--bars", type=int, default=None, required=bars_required,
                   help="loop length in bars" + ("" if bars_required else " (default: the most bars, a power of "
                                                                          "two, that the clip holds)"))
    p.add_argument("--bpm", type=_positive_bpm, default=None,
                   help="tempo in beats (of the meter's unit) per minute (default: the prompt's tempo, else "
                        "estimated from the audio)")
    p.add_argument("--meter", default="4/4", help="time signature, e.g. 4/4, 3/4, 6/8 (default 4/4)")
    p.add_argument("--candidates", type=int, default=None,
                   help="endings sampled for the seam; the model keeps the one that leads best into the loop "
                        "start and sounds seamless (default 8)")
    p.add_argument("--takes", type=int, default=None,
                   help="with --model: takes sampled side by side; the one nearest the tempo is kept (default 4)")
    p.add_argument("--no-warp", action="store_true",
                   help="with --model: cut at the given tempo even where the music plays a few percent off it "
                        "(default: cut whole bars as played and time-stretch them to the tempo)")


def add_generate_loop_arguments(p: argparse.ArgumentParser) -> None:
    """The `tonecraft generate` options for loops (the rest of generate's options apply)."""
    g = p.add_argument_group("loops (--loop)")
    g.add_argument("--loop", action="store_true",
                   help="write a seamless loop of --bars bars (exact length, loop points in the file + OUT.json)")
    g.add_argument("--bars", type=int, default=None, help="with --loop: loop length in bars (required)")
    g.add_argument("--bpm", type=_positive_bpm, default=None,
                   help="with --loop: tempo (default: the prompt's 'N bpm' or tempo word, else estimated)")
    g.add_argument("--meter", default="4/4", help="with --loop: time signature (default 4/4)")
    g.add_argument("--variations", type=int, default=1,
                   help="with --loop: K loops of the same length and grid, each continuing from the previous "
                        "(OUT_0.wav ... OUT_{K-1}.wav)")
    g.add_argument("--candidates", type=int, default=None,
                   help="with --loop: endings sampled for the seam; the LM's best one that sounds seamless is "
                        "kept (default 8)")
    g.add_argument("--takes", type=int, default=None,
                   help="with --loop: takes sampled side by side; the one whose tempo is nearest the bpm is kept "
                        "(default 4; 1 is fastest)")
    g.add_argument("--no-warp", action="store_true",
                   help="with --loop: cut at the asked tempo even where the music plays a few percent off it "
                        "(default: cut whole bars as played and time-stretch them to the asked tempo, "
                        "up to 8 %%)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="audio clip to loop (any format tonecraft reads)")
    p.add_argument("-o", "--output", required=True, help="loop file (.wav, .ogg, .flac, ...); OUT.json is written too")
    add_loop_options(p)
    p.add_argument("--model", "-m", default=None,
                   help="regenerate the seam with this model (e.g. tonecraft-default); default: cut on the bar "
                        "grid and crossfade")
    p.add_argument("--prompt", default=None, help="with --model: a text description of the clip")
    p.add_argument("--seed", type=int, default=None, help="with --model: random seed")
    p.add_argument("--normalize", choices=("loudness", "peak", "none"), default="peak",
                   help="output level (default peak: keeps the clip's dynamics)")


def check_loop_output(path: str | Path) -> None:
    """The output extension must be writable; warn (stderr) where the format cannot hold loop points."""
    from .. import audio

    try:
        audio.write_format(path)
    except UnsupportedFormatError:
        raise ConfigError(f"{path}: unsupported output extension; use one of "
                          f"{', '.join(sorted(audio.WRITE_FORMATS))}") from None
    ext = Path(path).suffix.lower()
    if ext not in META_FORMATS:
        print(f"tonecraft: note: {ext} files have no standard loop points (and MP3 adds encoder padding that "
              f"breaks gapless loops); the loop points are only in the .json sidecar: prefer .wav or .ogg",
              file=sys.stderr)


def check_generate_loop_args(args: argparse.Namespace) -> None:
    """`tonecraft generate --loop` arguments, checked before the model loads."""
    from ..models.loop_audio import BarGrid, check_bars

    if args.bars is None:
        raise ConfigError("--loop needs --bars N (the loop length in bars)")
    check_bars(args.bars)
    BarGrid.parse(args.bpm if args.bpm is not None else 120.0, args.meter)
    if args.duration is not None:
        raise ConfigError("--loop takes its length from --bars and the tempo; drop --duration")
    if args.num_samples != 1:
        raise ConfigError("--loop makes one loop per run; use --variations K for several that chain")
    if not 1 <= args.variations <= 64:
        raise ConfigError(f"--variations must be 1..64, got {args.variations}")
    if args.stream or args.continue_from or args.melody:
        raise ConfigError("--loop cannot be combined with --stream, --continue or --melody")
    check_loop_output(args.output)


def loop_outputs(output: str | Path, count: int) -> list[Path]:
    out = Path(output)
    return [out] if count == 1 else [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(count)]


def sidecar_path(output: str | Path) -> Path:
    return Path(output).with_suffix(".json")


def write_loop_file(path: Path, wav, sample_rate: int, normalize: str, save=None) -> str:
    """Write the loop audio and its loop points (the whole file: [0, length)); returns where they went.
    `save(path, wav, sample_rate, normalize)` writes the audio (default `audio.save_audio`)."""
    from .. import audio, riff, vorbis_comments

    length = int(wav.shape[-1])
    if save is None:
        audio.save_audio(path, wav, sample_rate, normalize=normalize)
    else:
        save(path, wav, sample_rate, normalize)
    ext = path.suffix.lower()
    if ext == ".wav":
        riff.write_loop_points(path, sample_rate, 0, length)
    elif ext in META_FORMATS:
        vorbis_comments.set_comments(path, vorbis_comments.loop_tags(0, length))
    return META_FORMATS.get(ext, "sidecar only")


def write_sidecar(output: Path, paths: list[Path], loops, extra: dict) -> Path:
    from ..fileio import atomic_write_json

    first = loops[0]
    doc = {"bpm": round(first.bpm, 4), "bpm_source": first.bpm_source, "bars": first.bars, "meter": first.meter,
           "sample_rate": first.sample_rate, "length_samples": first.length,
           "length_seconds": round(first.length / first.sample_rate, 6), **extra,
           "loops": [{"file": p.name, **{k: v for k, v in loop.sidecar().items()
                                         if k not in ("bpm", "bpm_source", "bars", "meter", "sample_rate")}}
                     for p, loop in zip(paths, loops)]}
    return atomic_write_json(sidecar_path(output), doc)


def _settings(args: argparse.Namespace):
    """LoopSettings from --candidates / --takes / --no-warp (the defaults where not given)."""
    from ..models.loops import LoopSettings

    given = {k: getattr(args, k, None) for k in ("candidates", "takes")}
    if getattr(args, "no_warp", False):
        given["warp"] = False
    return LoopSettings(**{k: v for k, v in given.items() if v is not None})


def write_generated_loops(model, text: str | None, args: argparse.Namespace, save=None) -> int:
    """`tonecraft generate --loop`: make the loops, write them (with loop points) and the sidecar."""
    from ..models.loops import generate_loops

    if model.family != "musicgen":
        raise ConfigError(f"--loop needs a music model; {model.name} is a sound-effects model")
    paths = loop_outputs(args.output, args.variations)
    loops = generate_loops(model, text, args.bars, args.bpm, args.meter, variations=args.variations,
                           seed=args.seed, settings=_settings(args).validate(),
                           progress=not args.quiet and sys.stderr.isatty())
    for path, loop in zip(paths, loops):
        write_loop_file(path, loop.audio, loop.sample_rate, args.normalize, save)
        print(path)
    print(write_sidecar(Path(args.output), paths, loops, {"model": args.model or model.name, "prompt": text,
                                                          "seed": args.seed}))
    return 0


def run(args: argparse.Namespace) -> int:
    from .. import audio
    from ..fileio import check_output_path
    from ..models.loop_audio import BarGrid, check_bars
    from ..models.loops import loop_from_audio

    check_loop_output(args.output)
    check_output_path(args.output)
    if args.bars is not None:
        check_bars(args.bars)
    BarGrid.parse(args.bpm if args.bpm is not None else 120.0, args.meter)
    settings = _settings(args).validate()
    if args.model is None and (args.prompt or args.seed is not None):
        raise ConfigError("--prompt and --seed need --model (they steer the regenerated seam)")
    wav, sample_rate = audio.load_audio(args.input)
    model = None
    if args.model:
        from ..models import load_model
        from ..models.genmodel import tune_cpu_threads

        model = load_model(args.model)
        tune_cpu_threads(model)
        if model.family != "musicgen":
            raise ConfigError(f"--model needs a music model; {args.model} is a sound-effects model")
    loop = loop_from_audio(wav, sample_rate, args.bars, args.bpm, args.meter, model=model, description=args.prompt,
                           seed=args.seed, settings=settings)
    out = Path(args.output)
    where = write_loop_file(out, loop.audio, loop.sample_rate, args.normalize)
    write_sidecar(out, [out], [loop], {"source": str(args.input), "model": args.model})
    print(f"{out}: {loop.bars} bars at {loop.bpm:.2f} bpm {loop.meter} ({loop.bpm_source}), "
          f"{loop.length} samples, loop points in the {where}; {sidecar_path(out)}")
    return 0
