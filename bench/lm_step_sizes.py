"""Decoding-step time of LM sizes, to choose a model size from measured throughput (issue 15: 5 s of sound at
50 Hz is 250 steps, so "5 s in <= 2 s" needs ~7 ms per step with the codec decode included).

    python bench/lm_step_sizes.py                           # dim x heads x layers presets below, 1 thread
    python bench/lm_step_sizes.py --sizes 320x5x6 256x4x4 --steps 253 --threads 1

Random weights, 4 codebooks x 1024, cross-attention on 12 text positions + one prefix position, classifier-free
guidance (batch 2), eager float32: the same work as `tonecraft sfx` per step. Prints ms/step per size and the ratio
to the first size. Times depend on the machine's load; compare sizes within one run.
"""
from __future__ import annotations

import argparse
import time

import torch

from tonecraft.lm.config import LMConfig
from tonecraft.lm.generate import ConditionTensors, generate_tokens
from tonecraft.lm.model import LMModel


def step_ms(dim: int, heads: int, layers: int, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    lm = LMModel(LMConfig(dim=dim, num_heads=heads, num_layers=layers, n_q=4, card=1024)).eval()
    cond = ConditionTensors(cross=torch.randn(1, 12, dim), prefix=torch.randn(1, 1, dim))
    null = ConditionTensors(cross=torch.zeros(1, 12, dim), prefix=torch.zeros(1, 1, dim))
    with torch.inference_mode():
        generate_tokens(lm, cond, null, max_gen_len=20)  # warm-up
        t = time.perf_counter()
        generate_tokens(lm, cond, null, max_gen_len=steps)
        dt = time.perf_counter() - t
    return sum(p.numel() for p in lm.parameters()) / 1e6, dt / steps * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["320x5x6", "256x4x6", "256x4x4", "384x6x4"],
                   help="DIMxHEADSxLAYERS")
    p.add_argument("--steps", type=int, default=253, help="decoding steps (5 s at 50 Hz + 3 delay steps)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    first = None
    for size in args.sizes:
        dim, heads, layers = (int(v) for v in size.split("x"))
        params, ms = step_ms(dim, heads, layers, args.steps)
        first = first or ms
        print(f"dim {dim:4d} heads {heads:2d} layers {layers:2d}: {params:5.1f} M params, {ms:6.1f} ms/step, "
              f"{ms * args.steps / 1000:5.2f} s for {args.steps} steps, {ms / first:.2f}x the first", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
