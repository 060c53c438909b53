"""MusicGen LM decoding speed: tonecraft vs transformers' MusicgenForCausalLM.generate, same weights, same run.

musicgen-small architecture (24 layers, dim 1024, 16 heads, 4 x 2048) with random weights, a T5-base-sized
condition (12 tokens, 768 -> 1024 projected), classifier-free guidance (batch 2), top-k 250 sampling.
5 s of audio = 250 frames = 253 decoding steps. Prints steps/s of each and the ratio (never asserted).

    .venv/bin/python bench/lm.py                      # float32
    .venv/bin/python bench/lm.py --dtype bfloat16     # both in bf16
    .venv/bin/python bench/lm.py --steps 40           # shorter run

"tonecraft" is eager PyTorch; "tonecraft-opt" is after `lm.optimize_decoding()` (float32: torch.compile of the
decoding step, compile time reported separately; bfloat16: oneDNN-prepacked weights).
"""
from __future__ import annotations

import argparse
import time

import torch

from tonecraft.lm.config import preset
from tonecraft.lm.generate import ConditionTensors, generate_tokens
from tonecraft.lm.model import LMModel
from tonecraft.pretrained.lm_convert import lm_state_dict_to_hf


def build_hf(lm: LMModel, dtype: torch.dtype):
    from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

    c = lm.cfg
    hcfg = MusicgenDecoderConfig(vocab_size=c.card, hidden_size=c.dim, num_hidden_layers=c.num_layers,
                                 num_attention_heads=c.num_heads, ffn_dim=c.ffn_dim, num_codebooks=c.n_q,
                                 dropout=0.0, pad_token_id=c.card, bos_token_id=c.card, max_position_embeddings=2048)
    with torch.device("meta"):
        hf = MusicgenForCausalLM(hcfg)
    hf.load_state_dict(lm_state_dict_to_hf(lm.state_dict()), strict=True, assign=True)
    pos = hf.model.decoder.embed_positions  # its non-persistent buffer was left on meta
    pos.weights = pos.get_embedding(pos.num_positions, pos.embedding_dim)
    hf.generation_config.decoder_start_token_id = c.card
    return hf.to(dtype).eval()


def run_hf(hf, cross: torch.Tensor, frames: int, seed: int) -> float:
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    B, K = cross.shape[0], hf.config.num_codebooks
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = hf.generate(input_ids=torch.full((B * K, 1), hf.config.bos_token_id),
                          attention_mask=torch.ones(B, 1, dtype=torch.long),
                          encoder_hidden_states=torch.cat([cross, torch.zeros_like(cross)]),
                          # an EncoderDecoderCache must be passed: the default DynamicCache mixes cross-attention
                          # K/V into the self-attention cache in transformers 5.x (wrong logits).
                          cache=EncoderDecoderCache(DynamicCache(), DynamicCache()),
                          guidance_scale=3.0, do_sample=True, top_k=250, max_length=frames + K,
                          num_return_sequences=1)
    dt = time.perf_counter() - t0
    assert out.shape[-1] == frames, out.shape
    return dt


def run_ours(lm: LMModel, cross: torch.Tensor, frames: int, seed: int) -> float:
    t0 = time.perf_counter()
    out = generate_tokens(lm, ConditionTensors(cross=cross), max_gen_len=frames, top_k=250, cfg_coef=3.0,
                          generator=torch.Generator().manual_seed(seed))
    dt = time.perf_counter() - t0
    assert out.shape[-1] == frames
    return dt


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=253, help="decoding steps (frames + 3); 253 = 5 s of audio")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--threads", type=int, default=None, help="torch threads for both (default: torch's)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs of each (best is reported)")
    p.add_argument("--no-hf", action="store_true", help="only time tonecraft")
    p.add_argument("--no-opt", action="store_true", help="skip the optimize_decoding() run")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    K = 4
    frames = max(1, args.steps - (K - 1))
    steps = frames + K - 1

    torch.manual_seed(0)
    t0 = time.perf_counter()
    cfg = preset("musicgen-small", dtype=args.dtype)
    lm = LMModel(cfg).eval()
    proj = torch.nn.Linear(768, cfg.dim)  # T5-base hidden size -> LM dim, as conditioning/ does
    with torch.no_grad():
        cross = proj(torch.randn(1, 12, 768))
    hf = None if args.no_hf else build_hf(lm, dtype)
    print(f"(set-up {time.perf_counter() - t0:.0f} s)")
    print(f"musicgen-small LM ({lm.num_parameters() / 1e6:.0f}M params), {args.dtype}, {torch.get_num_threads()} "
          f"threads, CFG batch 2, top-k 250, {frames} frames = {steps} steps")

    times = {}
    run_ours(lm, cross, 8, 0)  # warm-up (allocator, oneDNN kernels)
    times["tonecraft"] = min(run_ours(lm, cross, frames, 1) for _ in range(args.repeats))
    print(f"tonecraft      {steps / times['tonecraft']:6.2f} steps/s  ({times['tonecraft']:.1f} s)", flush=True)
    if not args.no_opt:
        t0 = time.perf_counter()
        try:
            lm.optimize_decoding()
            run_ours(lm, cross, 8, 0)  # compiles (float32) on the first call
        except Exception as e:  # e.g. no C++ compiler for inductor
            print(f"tonecraft-opt  unavailable: {type(e).__name__}: {e}")
        else:
            print(f"               (optimize_decoding + first call: {time.perf_counter() - t0:.0f} s)")
            times["tonecraft-opt"] = min(run_ours(lm, cross, frames, 1) for _ in range(args.repeats))
            print(f"tonecraft-opt  {steps / times['tonecraft-opt']:6.2f} steps/s  ({times['tonecraft-opt']:.1f} s)",
                  flush=True)
        lm.optimize_decoding(False)
    if hf is not None:
        run_hf(hf, cross.to(dtype), 8, 0)
        t_hf = min(run_hf(hf, cross.to(dtype), frames, 1) for _ in range(args.repeats))
        print(f"transformers   {steps / t_hf:6.2f} steps/s  ({t_hf:.1f} s)")
        for name, t in times.items():
            print(f"speed-up {name:14s} {t_hf / t:5.2f}x")


if __name__ == "__main__":
    main()
