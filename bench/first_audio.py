"""Time to first audio with streaming, and model load time.

1. The default model through the real command line, as a user runs it:
       tonecraft generate PROMPT -d 10 --stream -o - --chunk 1 -v [--dtype D]
   timed from the process start to the first full second of audio on stdout ("start -> 1st s"), and from
   the "loaded in" line on stderr to that second ("loaded -> 1st s"); the load time is the one the command
   prints. Median of --repeats runs per dtype.
2. The musicgen-small architecture (random weights: a 420 M-parameter LM, the 32 kHz codec, the MiniLM text
   encoder projected to 1024) through `MusicGen.generate_stream`, in this process: model built -> first
   second of audio, float32 and int8. transformers cannot stream: as the reference we time its LM alone
   sampling the 53 steps of a 1 s clip (the earliest it could return any audio), and print the ratio.

    .venv/bin/python bench/first_audio.py                # both parts
    .venv/bin/python bench/first_audio.py --skip-small   # only the default model (~1 min)
Nothing is asserted: it prints.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

PROMPT = "calm solo piano piece, 70 bpm"
ROOT = Path(__file__).resolve().parents[1]


def time_cli(dtype: str, sample_rate: int = 32000) -> dict:
    """One `tonecraft generate --stream -o -` run: seconds to first second of audio, from start and from load."""
    cmd = [sys.executable, "-m", "tonecraft.cli", "generate", PROMPT, "-d", "10", "--stream", "-o", "-",
           "--chunk", "1", "-v", "--dtype", dtype, "--seed", "0"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    loaded: dict = {}

    def read_stderr():
        for line in proc.stderr:
            text = line.decode(errors="replace")
            if " loaded in " in text and "t" not in loaded:
                loaded["t"] = time.perf_counter() - t0
                loaded["reported"] = float(text.split(" loaded in ")[1].split(" s")[0])
            loaded.setdefault("log", []).append(text.strip())

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    need, got, first = sample_rate * 4, 0, None  # one second of float32 mono
    while chunk := proc.stdout.read1(1 << 16):
        got += len(chunk)
        if first is None and got >= need:
            first = time.perf_counter() - t0
    proc.wait()
    reader.join()
    done = time.perf_counter() - t0
    if proc.returncode != 0 or first is None or "t" not in loaded:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {loaded.get('log', [])[-3:]}")
    return {"start_to_first": first, "loaded_to_first": first - loaded["t"], "load": loaded["reported"],
            "total": done, "audio_s": got / 4 / sample_rate}


def default_model(repeats: int) -> None:
    print(f"default model, `tonecraft generate '{PROMPT}' -d 10 --stream -o - --chunk 1`, median of {repeats}:")
    for dtype in ("float32", "int8"):
        runs = [time_cli(dtype) for _ in range(repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"  {dtype:8s} load {med['load']:.2f} s   start -> 1st s {med['start_to_first']:.2f} s   "
              f"loaded -> 1st s {med['loaded_to_first']:.2f} s   all {med['audio_s']:.0f} s of audio in "
              f"{med['total']:.1f} s", flush=True)


def small_architecture(threads: int | None) -> None:
    import torch

    from tonecraft.codec.configs import musicgen_32khz
    from tonecraft.codec.model import Codec
    from tonecraft.conditioning.base import TextConditioner
    from tonecraft.conditioning.minilm import MiniLMEncoder
    from tonecraft.lm.config import preset
    from tonecraft.lm.model import LMModel
    from tonecraft.models import MusicGen

    sys.path.insert(0, str(Path(__file__).parent))
    from lm import build_hf, run_hf

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    lm = LMModel(preset("musicgen-small")).eval()
    conditioner = TextConditioner(MiniLMEncoder.from_pretrained(), output_dim=lm.cfg.dim)
    model = MusicGen("musicgen-small (random weights)", Codec(musicgen_32khz()).eval(), lm, conditioner)
    model.set_generation_params(duration=5.0)
    print(f"musicgen-small architecture, random weights, {torch.get_num_threads()} threads, generate_stream "
          f"(chunks of 1 s), model built -> first second of audio:")
    results = {}
    for mode in ("float32", "int8"):
        if mode == "int8":
            lm.optimize_decoding(dtype="int8")
        t0 = time.perf_counter()
        stream = model.generate_stream(PROMPT, chunk_seconds=1.0, seed=0)
        first = next(stream)
        results[mode] = time.perf_counter() - t0
        stream.close()
        print(f"  {mode:8s} {results[mode]:.2f} s  ({first.shape[-1] / model.sample_rate:.2f} s of audio)", flush=True)
    lm.optimize_decoding(False)
    hf = build_hf(lm)
    cross = torch.randn(1, 12, lm.cfg.dim)
    run_hf(hf, cross, 4, 0)
    t_hf = run_hf(hf, cross, 50, 1)
    print(f"  transformers LM alone, 1 s clip (53 steps, no decode): {t_hf:.2f} s")
    for mode, t in results.items():
        print(f"speed-up first-audio {mode:8s} {t_hf / t:5.2f}x")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch threads for part 2 (default: torch's)")
    p.add_argument("--skip-small", action="store_true", help="skip the musicgen-small part")
    args = p.parse_args()
    default_model(args.repeats)
    if not args.skip_small:
        small_architecture(args.threads)


if __name__ == "__main__":
    main()
