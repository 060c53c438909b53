"""`tonecraft generate "PROMPT" --model NAME|DIR -o out.wav`: text-to-music (or sound) from the shell.

    tonecraft generate "lofi beat" -m musicgen-small -d 8 -o beat.wav
    tonecraft generate "80s pop" -m musicgen-melody --melody tune.mp3 -o pop.wav      # follow a melody
    tonecraft generate "add drums" -m musicgen-small --continue intro.wav -d 20       # continue audio
    tonecraft generate "rain on a roof" -m audiogen-medium -d 5 -o rain.wav            # AudioGen (or `tonecraft sfx`)
    tonecraft generate "ambient" -m musicgen-small -d 120 --stream -o - | play -t f32 -r 32k -c 1 -

With `-n COUNT` > 1 the samples are generated in one batch and written as out_0.wav, out_1.wav, ...
The same `--seed` gives the same audio; the variations of one batch differ from each other.
The model class (MusicGen or AudioGen) follows the checkpoint.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import ConfigError

# The model used when --model is not given: tonecraft's own small model, shipped in the package
# (src/tonecraft/assets/default, see pretrained/default_model.py).
DEFAULT_MODEL: str | None = "tonecraft-default"
DEFAULT_DURATION = {"musicgen": 10.0, "audiogen": 5.0}


def add_arguments(p: argparse.ArgumentParser, default_model: str | None = None) -> None:
    p.add_argument("prompt", nargs="?", default=None,
                   help="text description; omit (or pass '') for unconditional generation")
    p.add_argument("--model", "-m", default=default_model,
                   help="official name (musicgen-small, musicgen-melody, musicgen-stereo-small, audiogen-medium, ...) "
                        "or a local checkpoint directory" + (f" (default: {default_model})" if default_model else ""))
    p.add_argument("--duration", "-d", type=float, default=None,
                   help="seconds of audio, prompt included (default: 10 for MusicGen, 5 for AudioGen)")
    p.add_argument("--melody", metavar="FILE", default=None,
                   help="reference audio whose melody (chroma) to follow; needs a melody model. Chroma comes from "
                        "the full mix (no stem separation)")
    p.add_argument("--continue", dest="continue_from", metavar="FILE", default=None,
                   help="audio to continue: it is encoded and the model carries on from its end")
    p.add_argument("--drop-prompt", action="store_true",
                   help="with --continue: write only the new part (default: the prompt re-decoded + continuation)")
    p.add_argument("--seed", type=int, default=None, help="random seed for reproducible output")
    p.add_argument("--top-k", type=int, default=250, help="sample among the k most likely tokens (0: off)")
    p.add_argument("--top-p", type=float, default=0.0, help="nucleus sampling mass (0: off; wins over top-k)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (0: greedy)")
    p.add_argument("--cfg", type=float, default=None, help="classifier-free guidance scale (default: the model's, 3)")
    p.add_argument("--extend-stride", type=float, default=None,
                   help="seconds added per window when the duration exceeds the model's maximum "
                        "(default: 18 for MusicGen, 2 for AudioGen)")
    p.add_argument("-n", "--num-samples", type=int, default=1, help="number of samples (one batch)")
    p.add_argument("-o", "--output", default="generated.wav",
                   help="output audio file (.wav, .flac, ...); with --stream, '-' writes raw float32 to stdout")
    p.add_argument("--stream", action="store_true",
                   help="write audio while it is generated (into OUTPUT.part, renamed at the end; or raw "
                        "little-endian float32 interleaved samples to stdout with -o -). No normalisation")
    p.add_argument("--chunk", type=float, default=1.0, help="with --stream: seconds per written chunk")
    p.add_argument("--normalize", choices=("loudness", "peak", "none"), default="loudness",
                   help="output level strategy (audiocraft's demos use loudness)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: cuda if available)")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), default="auto",
                   help="LM precision (auto: bfloat16 on CUDA, float32 elsewhere)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


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
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
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


def run(args: argparse.Namespace) -> int:
    model_name = args.model or DEFAULT_MODEL
    if not model_name:
        raise ConfigError("no model given: pass --model musicgen-small (or another official name, "
                          "or a local checkpoint directory)")
    _check_args(args)
    paths = output_paths(args.output, args.num_samples)
    from .. import audio

    formats = getattr(audio, "_WRITE_FORMATS", None)  # fail before the (slow) generation on a bad extension
    if args.output != "-" and formats and paths[0].suffix.lower() not in formats:
        raise ConfigError(f"{paths[0]}: unsupported output extension; use one of {', '.join(sorted(formats))}")

    from .genmodel import GenerationParams

    def params(duration: float, cfg_coef: float, max_duration: float, stride: float) -> GenerationParams:
        return GenerationParams(duration=duration, top_k=args.top_k, top_p=args.top_p, temperature=args.temperature,
                                cfg_coef=cfg_coef, use_sampling=args.temperature > 0,
                                extend_stride=stride).validate(max_duration)

    # Reject bad values (and unreadable reference audio) before the (slow) model load.
    params(args.duration if args.duration is not None else 1.0, args.cfg if args.cfg is not None else 3.0,
           float("inf"), 1.0)
    melody = audio.load_audio(args.melody) if args.melody else None
    prompt = audio.load_audio(args.continue_from) if args.continue_from else None
    device = _device(args.device)
    dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")

    from . import load_model
    from .genmodel import tune_cpu_threads

    model = load_model(model_name, device=device, dtype=dtype)
    tune_cpu_threads(model)
    if melody is not None and not getattr(model, "is_melody", False):
        raise ConfigError(f"--melody needs a melody model (musicgen-melody, musicgen-stereo-melody, ...); "
                          f"{model_name} is not one")
    duration = args.duration if args.duration is not None else min(DEFAULT_DURATION[model.family],
                                                                    model.max_duration)
    stride = args.extend_stride if args.extend_stride is not None else model.default_extend_stride
    model.set_generation_params(**vars(params(duration, args.cfg if args.cfg is not None else model.params.cfg_coef,
                                              model.max_duration, stride)))
    text = args.prompt or None
    progress = not args.quiet and sys.stderr.isatty()
    kw = dict(progress=progress, seed=args.seed)
    if prompt is not None:
        kw.update(prompt=(prompt[0], prompt[1]), drop_prompt=args.drop_prompt)
    if melody is not None:
        kw.update(melody_wavs=[melody[0]], melody_sample_rate=melody[1])
    if args.stream:
        return _stream(model, text, args, kw)
    wavs = model._run([text] * args.num_samples, **kw)
    for wav, path in zip(wavs, paths):
        audio.save_audio(path, wav.cpu(), model.sample_rate, normalize=args.normalize)
        print(path)
    return 0


def _stream(model, text, args, kw) -> int:
    """Write chunks as they come: raw float32 to stdout (-o -) or OUTPUT.part renamed at the end."""
    import soundfile as sf

    from .. import audio

    prompt = kw.pop("prompt", None)
    if prompt is not None:
        kw.update(prompt=prompt[0], prompt_sample_rate=prompt[1])
    chunks = model.generate_stream(text, chunk_seconds=args.chunk, **kw)
    if args.output == "-":
        out = sys.stdout.buffer
        for chunk in chunks:
            out.write(chunk.float().clamp(-1, 1).T.contiguous().cpu().numpy().astype("<f4").tobytes())
            out.flush()
        return 0
    path = Path(args.output)
    fmt, subtype = audio._WRITE_FORMATS[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with sf.SoundFile(str(part), "w", samplerate=model.sample_rate, channels=model.audio_channels, format=fmt,
                          subtype=subtype) as f:
            for chunk in chunks:
                f.write(chunk.float().clamp(-1, 1).T.contiguous().cpu().numpy())
                f.flush()
        os.replace(part, path)
    finally:
        if part.exists():
            part.unlink()
    print(path)
    return 0
