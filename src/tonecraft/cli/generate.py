"""`tonecraft generate "PROMPT" --model NAME|DIR -o out.wav`: text-to-music (or sound) from the shell.

    tonecraft generate "lofi beat" -m musicgen-small -d 8 -o beat.wav
    tonecraft generate "80s pop" -m musicgen-melody --melody tune.mp3 -o pop.wav      # follow a melody
    tonecraft generate "add drums" -m musicgen-small --continue intro.wav -d 20       # continue audio
    tonecraft generate "rain on a roof" -m audiogen-medium -d 5 -o rain.wav            # AudioGen (or `tonecraft sfx`)
    tonecraft generate "ambient" -m musicgen-small -d 120 --stream -o - | play -t f32 -r 32k -c 1 -
    tonecraft generate "calm exploration music, 90 bpm" --loop --bars 8 -o calm.wav    # seamless loop (cli/loop.py)

With `-n COUNT` > 1 the samples are generated in one batch and written as out_0.wav, out_1.wav, ...
The same `--seed` gives the same audio; the variations of one batch differ from each other.
The model class (MusicGen or AudioGen) follows the checkpoint.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import threading
import time
from contextlib import closing
from dataclasses import asdict, replace
from pathlib import Path

from .. import cpu_features
from ..errors import ConfigError, OutputError, UnsupportedFormatError
from ..models.params import AUDIOGEN_DEFAULTS, MUSICGEN_DEFAULTS, GenerationParams, family_defaults

log = logging.getLogger("tonecraft")

# The model used when --model is not given: tonecraft's own small model, shipped in the package
# (src/tonecraft/assets/default, see pretrained/default_model.py).
DEFAULT_MODEL: str | None = "tonecraft-default"


def add_arguments(p: argparse.ArgumentParser, default_model: str | None = None) -> None:
    p.add_argument("prompt", nargs="?", default=None,
                   help="text description; omit (or pass '') for unconditional generation")
    p.add_argument("--model", "-m", default=default_model,
                   help="official name (musicgen-small, musicgen-melody, musicgen-stereo-small, audiogen-medium, ...) "
                        "or a local checkpoint directory" + (f" (default: {default_model})" if default_model else ""))
    p.add_argument("--duration", "-d", type=float, default=None,
                   help=f"seconds of audio, prompt included (default: {MUSICGEN_DEFAULTS.cli_duration:g} for MusicGen, "
                        f"{AUDIOGEN_DEFAULTS.cli_duration:g} for AudioGen)")
    p.add_argument("--melody", metavar="FILE", default=None,
                   help="reference audio whose melody (chroma) to follow; needs a melody model. Chroma comes from "
                        "the full mix (no stem separation)")
    p.add_argument("--continue", dest="continue_from", metavar="FILE", default=None,
                   help="audio to continue: it is encoded and the model carries on from its end")
    p.add_argument("--drop-prompt", action="store_true",
                   help="with --continue: write only the new part (default: the prompt re-decoded + continuation)")
    p.add_argument("--seed", type=int, default=None, help="random seed for reproducible output")
    p.add_argument("--top-k", type=int, default=None,
                   help=f"sample among the k most likely tokens (0: off; default: the model's, "
                        f"{GenerationParams.top_k} for the official ones)")
    p.add_argument("--top-p", type=float, default=GenerationParams.top_p,
                   help="nucleus sampling mass (0: off; wins over top-k)")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"softmax temperature (0: greedy; default: the model's, {GenerationParams.temperature:g} "
                        f"for the official ones)")
    p.add_argument("--cfg", type=float, default=None,
                   help=f"classifier-free guidance scale (default: the model's, {GenerationParams.cfg_coef:g})")
    p.add_argument("--extend-stride", type=float, default=None,
                   help="seconds added per window when the duration exceeds the model's maximum "
                        f"(default: {MUSICGEN_DEFAULTS.params.extend_stride:g} for MusicGen, "
                        f"{AUDIOGEN_DEFAULTS.params.extend_stride:g} for AudioGen)")
    p.add_argument("-n", "--num-samples", type=int, default=1, help="number of samples (one batch)")
    p.add_argument("-o", "--output", default="generated.wav",
                   help="output audio file (.wav, .flac, ...); with --stream, '-' writes raw float32 to stdout")
    p.add_argument("--stream", action="store_true",
                   help="write audio while it is generated (into a temp file next to OUTPUT, renamed at the end; "
                        "or raw little-endian float32 interleaved samples to stdout with -o -). No normalisation")
    p.add_argument("--chunk", type=float, default=1.0, help="with --stream: seconds per written chunk")
    p.add_argument("--no-watermark", dest="watermark", action="store_false",
                   help="do not watermark the output (it is watermarked by default; the labels in the file say "
                        "which); see `tonecraft detect`")
    p.add_argument("--normalize", choices=("loudness", "peak", "none"), default="loudness",
                   help="output level strategy (audiocraft's demos use loudness)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: cuda if available)")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "int8"), default="auto",
                   help="LM precision (auto: bfloat16 on CUDA, float32 elsewhere; int8: dynamic int8 linear "
                        "layers on CPU, several times faster, close to float32; bfloat16 on a CPU without "
                        "native bf16 works but is slower)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="say which CPU fast paths were taken (and why others were not) and how long loading took")
    from .loop import add_generate_loop_arguments

    add_generate_loop_arguments(p)


def output_paths(output: str | Path, count: int) -> list[Path]:
    """out.wav -> [out.wav] for one sample, [out_0.wav, out_1.wav, ...] for several."""
    out = Path(output)
    if count == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(count)]


def _device(name: str | None) -> str:
    import torch

    if not name:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use cpu, cuda, cuda:N or mps") from None
    if dev.type not in ("cpu", "cuda", "mps"):  # e.g. 'meta' (no data) or backends we never tested
        raise ConfigError(f"device {name!r} cannot run generation: use cpu, cuda, cuda:N or mps")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} requested but there are {torch.cuda.device_count()} CUDA devices")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} requested but MPS is not available")
    return name


def _check_args(args: argparse.Namespace) -> None:
    if args.num_samples < 1:
        raise ConfigError(f"-n must be at least 1, got {args.num_samples}")
    if args.num_samples > 256:
        raise ConfigError(f"-n {args.num_samples} is too many for one batch (max 256)")
    if args.drop_prompt and not args.continue_from:
        raise ConfigError("--drop-prompt needs --continue FILE")
    if args.stream and args.num_samples != 1:
        raise ConfigError("--stream writes one sample; use -n 1")
    if args.chunk <= 0:
        raise ConfigError(f"--chunk must be > 0 seconds, got {args.chunk}")
    if args.output == "-" and not args.stream:
        raise ConfigError("-o - (stdout) needs --stream")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise ConfigError(f"--seed must be between 0 and 2**64 - 1, got {args.seed}")
    if args.prompt:
        _check_text(args.prompt)


MAX_SEED = 2**64 - 1  # what torch.Generator.manual_seed takes


def _check_text(prompt: str) -> None:
    """A prompt the tokenizer can take: bytes that are not UTF-8 reach Python as lone surrogates."""
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ord(prompt[exc.start])
        what = f"byte 0x{bad - 0xDC00:02x}" if 0xDC80 <= bad <= 0xDCFF else f"character U+{bad:04X}"
        raise ConfigError(f"the prompt is not valid UTF-8 text ({what} at position {exc.start}); "
                          "check the shell's locale or the file the prompt came from") from None


def _check_outputs(args: argparse.Namespace, paths: list[Path]) -> None:
    """Everything about the output that can be checked before the model loads: extension, name length,
    parent folder (exists or can be made, is a folder, is writable)."""
    from .. import audio
    from ..fileio import check_output_path

    if args.output == "-":
        return
    try:
        audio.write_format(paths[0])
    except UnsupportedFormatError:
        raise ConfigError(f"{paths[0]}: unsupported output extension; use one of "
                          f"{', '.join(sorted(audio.WRITE_FORMATS))}") from None
    for path in paths:
        check_output_path(path)


def _check_melody_model(model_name: str) -> None:
    from ..pretrained.musicgen_loading import peek_is_melody

    if peek_is_melody(model_name) is False:
        raise ConfigError(f"--melody needs a melody model (musicgen-melody, musicgen-stereo-melody, ...); "
                          f"{model_name} is not one")


def prepare_decoding(model, dtype: str) -> None:
    """The decoding fast path for `dtype` where this CPU supports it (`cpu_features`); says which was taken."""
    if dtype == "int8":
        model.lm.optimize_decoding(dtype="int8")  # falls back to float32, with the reason logged, where unsupported
        if model.lm.decoding_path != "int8":
            cpu_features.announce("--dtype int8", "not available here, decoding in float32 "
                                  f"({cpu_features.why_not('int8') or 'not on a CPU'})", logging.WARNING)
    elif dtype == "bfloat16" and model.device.type == "cpu":
        if not cpu_features.supports("native_bf16"):
            cpu_features.announce("--dtype bfloat16", "this CPU has no native bf16: bf16 runs emulated, slower "
                                  "than float32 (try --dtype int8 for speed)", logging.WARNING)
        model.lm.optimize_decoding()  # oneDNN prepacking where supported, plain bf16 otherwise
    else:
        cpu_features.announce("decoding", f"eager {dtype} on {model.device.type}")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a message is logged (not the one at set-up)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure_logging(verbose: bool) -> None:
    """Warnings always reach stderr as one line; --verbose adds the INFO lines (fast paths, timings)."""
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("tonecraft: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)


def prefetch(module: str) -> None:
    """Import `module` in a background thread: pyloudnorm pulls in scipy.signal (1-3 s here), which then
    overlaps the model load and the generation instead of following them."""
    def load():
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # the real import reports it where it is needed

    threading.Thread(target=load, name=f"prefetch-{module}", daemon=True).start()


def run(args: argparse.Namespace) -> int:
    configure_logging(getattr(args, "verbose", False))
    if not args.stream and args.normalize == "loudness":
        prefetch("pyloudnorm")
    model_name = args.model or DEFAULT_MODEL
    if not model_name:
        raise ConfigError("no model given: pass --model musicgen-small (or another official name, "
                          "or a local checkpoint directory)")
    _check_args(args)
    if getattr(args, "loop", False):
        from .loop import check_generate_loop_args

        check_generate_loop_args(args)
    paths = output_paths(args.output, args.variations if getattr(args, "loop", False) else args.num_samples)
    from .. import audio

    _check_outputs(args, paths)  # one validation pass, before the (slow) model load and generation
    if args.melody:
        _check_melody_model(model_name)

    def sampling(defaults: GenerationParams, **length) -> GenerationParams:
        """The sampling options given on the command line, the others from `defaults` (the model's)."""
        p = defaults.with_given(top_k=args.top_k, top_p=args.top_p, temperature=args.temperature, cfg_coef=args.cfg,
                                **length)
        return replace(p, use_sampling=p.temperature > 0)

    # Reject bad values (and unreadable reference audio) before the (slow) model load.
    sampling(GenerationParams(), duration=args.duration if args.duration is not None else 1.0,
             extend_stride=1.0).validate(float("inf"))
    melody = audio.load_audio(args.melody) if args.melody else None
    prompt = audio.load_audio(args.continue_from) if args.continue_from else None
    device = _device(args.device)
    dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")

    from ..models import load_model
    from ..models.genmodel import tune_cpu_threads

    started = time.perf_counter()
    model = load_model(model_name, device=device, dtype="float32" if dtype == "int8" else dtype)
    tune_cpu_threads(model)
    prepare_decoding(model, dtype)
    log.info("%s loaded in %.2f s (%s)", model_name, time.perf_counter() - started, cpu_features.summary())
    if melody is not None and not getattr(model, "is_melody", False):
        raise ConfigError(f"--melody needs a melody model (musicgen-melody, musicgen-stereo-melody, ...); "
                          f"{model_name} is not one")
    defaults = family_defaults(model.family)
    duration = args.duration if args.duration is not None else min(defaults.cli_duration, model.max_duration)
    if round(duration * model.frame_rate) < 1:
        raise ConfigError(f"--duration {duration:g} s is shorter than one frame of {model_name} "
                          f"({1 / model.frame_rate:.3g} s)")
    if args.output != "-":
        audio.check_write_rate(paths[0], model.sample_rate)  # e.g. .opus cannot hold 32 kHz
    stride = args.extend_stride if args.extend_stride is not None else defaults.params.extend_stride
    model.set_generation_params(**asdict(sampling(model.model_params, duration=duration, extend_stride=stride)))
    text = args.prompt or None
    progress = not args.quiet and sys.stderr.isatty()
    kw = dict(progress=progress, seed=args.seed)
    if prompt is not None:
        kw.update(prompt=prompt[0], prompt_sample_rate=prompt[1], drop_prompt=args.drop_prompt)
    if melody is not None:
        kw.update(melody_wavs=[melody[0]], melody_sample_rate=melody[1])
    from ..models.output import Provenance

    info = Provenance(model=model_name, prompt=text, seed=args.seed, params=model.generation_params(),
                      watermark=getattr(args, "watermark", True))
    if getattr(args, "loop", False):
        from ..models.output import save_generated
        from .loop import write_generated_loops

        return write_generated_loops(model, text, args, lambda path, wav, sample_rate, normalize: save_generated(
            path, wav, sample_rate, info, normalize=normalize))
    if args.stream:
        return _stream(model, text, args, kw, info)
    wavs = model.generate_request([text] * args.num_samples, **kw)
    for wav, path in zip(wavs, paths):
        _save_or_keep(path, wav.cpu(), model.sample_rate, args.normalize, info)
        print(path)
    return 0


def _save_or_keep(path: Path, wav, sample_rate: int, normalize: str, info=None) -> None:
    """Write one generated clip (watermarked and labelled: `models.output.save_generated`); if that fails now
    (disk full, folder removed meanwhile), keep the audio in a fresh temp folder and say where, rather than
    losing the generation."""
    from ..errors import AudioError, OutputError
    from ..fileio import rescue_path
    from ..models.output import save_generated

    try:
        save_generated(path, wav, sample_rate, info, normalize=normalize)
    except (OutputError, AudioError) as exc:
        kept = rescue_path(path).with_suffix(".wav")
        try:
            save_generated(kept, wav, sample_rate, info, normalize=normalize)
        except (OutputError, AudioError):
            raise exc from None
        raise OutputError(f"{exc}; the generated audio was kept in {kept}") from None


def _stream(model, text, args, kw, info) -> int:
    """Write chunks as they come: raw float32 to stdout (-o -) or a temp file renamed to OUTPUT at the end.
    Chunks are watermarked as they pass (`models.output.marked_stream`: a lag of 1.25 s), labels set first;
    sampling feeds the mark in short pieces, re-cut to --chunk seconds on the way out."""
    import soundfile as sf

    from .. import audio
    from ..fileio import atomic_path
    from ..models.output import STREAM_FEED_S, marked_stream
    from ..models.streaming import rechunk

    # closing(): an error or a signal in the consumer stops and joins the sampling thread at once (a thread
    # left running at interpreter exit aborted the process: "terminate called without an active exception")
    with closing(model.generate_stream(text, chunk_seconds=min(args.chunk, STREAM_FEED_S), **kw)) as raw:
        marked, tags = marked_stream(raw, model.sample_rate, info, expected_seconds=model.params.duration)
        chunks = rechunk(marked, max(1, int(round(args.chunk * model.sample_rate))))
        if args.output == "-":
            return _stream_stdout(chunks)
        path = Path(args.output)
        fmt, subtype = audio.write_format(path)
        # a unique temp name per run: concurrent runs never share it; a full disk inside libsndfile is named
        with atomic_path(path, library_errors=(sf.LibsndfileError, RuntimeError)) as part:
            with sf.SoundFile(str(part), "w", samplerate=model.sample_rate, channels=model.audio_channels,
                              format=fmt, subtype=subtype) as f:
                audio.set_tags(f, tags)
                for chunk in chunks:
                    f.write(chunk.float().clamp(-1, 1).T.contiguous().cpu().numpy())
                    f.flush()
            audio.finish_tags(part, fmt, tags)
    print(path)
    return 0


def _stream_stdout(chunks) -> int:
    """Raw float32 to stdout. A reader that goes away (`| head -c 100`) ends the run quietly with status 141
    (as SIGPIPE would), without a traceback and without Python's exit-time flush error."""
    out = sys.stdout.buffer
    try:
        for chunk in chunks:
            out.write(chunk.float().clamp(-1, 1).T.contiguous().cpu().numpy().astype("<f4").tobytes())
            out.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())  # the interpreter's final flush of stdout must not fail again
        os.close(devnull)
        print("tonecraft generate: stopped: the reader of stdout closed the pipe", file=sys.stderr)
        return 141
    return 0
