"""MusicGen LM decoding speed and quality per mode, side by side with transformers' MusicgenForCausalLM.

musicgen-small architecture (24 layers, dim 1024, 16 heads, 4 x 2048) with random weights (seeded, the same
in every process), a T5-base-sized condition (12 tokens, 768 -> 1024 projected), classifier-free guidance
(batch 2), top-k 250 sampling. 5 s of audio = 250 frames = 253 decoding steps. Every mode runs in its own
process, so the peak RSS printed is that mode's alone. Nothing is asserted: it prints.

    .venv/bin/python bench/lm.py                          # every mode, 253 steps, torch's default threads
    .venv/bin/python bench/lm.py --threads 1 --steps 60   # shorter
    .venv/bin/python bench/lm.py --modes eager,int8       # some modes

Modes: `eager` (float32, plain PyTorch), `compiled` (float32, `optimize_decoding()`: torch.compile; compile
time printed apart), `bf16` (bfloat16 layers; oneDNN-prepacked where the CPU has native bf16, else emulated:
the line says which), `int8` (`optimize_decoding(dtype="int8")`), `transformers` (float32, the reference), and
`floor`: only the float32 weight products of one step (every linear of the LM and the output heads, 2 rows each,
back to back, no attention or sampling). A float32 decoder cannot beat it, so its speed-up line is the most any
float32 path could gain over transformers on this CPU.
Quality of the non-float32 modes against eager float32, on the same random weights and condition: the
float32 model decodes 250 frames greedily; the mode then decodes the same sequence step by step (teacher
forcing, KV cache, CFG as in generation) and we count the steps whose guided argmax agrees (top-1 agreement)
and the mean KL(p_fp32 || p_mode) of the next-token distributions at temperature 1.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch

from tonecraft import cpu_features
from tonecraft.lm.config import preset
from tonecraft.lm.generate import ConditionTensors, cfg_batch, generate_tokens
from tonecraft.lm.model import LMModel
from tonecraft.lm.patterns import get_pattern

MODES = ("eager", "compiled", "bf16", "int8", "transformers", "floor")
DEFAULT_PROMPTS = ["calm solo piano piece, 70 bpm", "fast irish reel on fiddle with a frame drum",
                   "slow church organ chorale in G minor", "upbeat jazz guitar trio, 120 bpm",
                   "gentle lullaby on a music box", "energetic marimba melody"]
CFG = 3.0


def build_lm(dtype: str = "float32") -> tuple[LMModel, torch.Tensor]:
    """The same random musicgen-small LM and condition in every process."""
    torch.manual_seed(0)
    lm = LMModel(preset("musicgen-small")).eval()
    proj = torch.nn.Linear(768, lm.cfg.dim)  # T5-base hidden size -> LM dim, as conditioning/ does
    with torch.no_grad():
        cross = proj(torch.randn(1, 12, 768))
    if dtype == "bfloat16":
        lm.transformer.to(torch.bfloat16)
    return lm, cross


def build_hf(lm: LMModel):
    from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

    from tonecraft.pretrained.lm_convert import lm_state_dict_to_hf

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
    return hf.eval()


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
                          guidance_scale=CFG, do_sample=True, top_k=250, max_length=frames + K,
                          num_return_sequences=1)
    dt = time.perf_counter() - t0
    assert out.shape[-1] == frames, out.shape
    return dt


def run_ours(lm: LMModel, cross: torch.Tensor, frames: int, seed: int) -> float:
    t0 = time.perf_counter()
    out = generate_tokens(lm, ConditionTensors(cross=cross), max_gen_len=frames, top_k=250, cfg_coef=CFG,
                          generator=torch.Generator().manual_seed(seed))
    dt = time.perf_counter() - t0
    assert out.shape[-1] == frames
    return dt


@torch.no_grad()
def guided_logits(lm: LMModel, cond: ConditionTensors, null: ConditionTensors, seq: torch.Tensor) -> torch.Tensor:
    """CFG-combined logits [S-1, K, card] for every step of the interleaved sequence `seq` [1, K, S], fed one
    step at a time through the KV cache, with the prefix on the first call, as `generate_tokens` does."""
    conds, _ = cfg_batch(cond, null, 1)
    cross = None if conds.cross is None or not conds.cross.any() else conds.cross
    bpm = conds.bpm if lm.beat_grid is not None else None
    P = 0 if conds.prefix is None else conds.prefix.shape[1]
    state = lm.init_state(2, P + seq.shape[-1], cross)
    out = []
    for s in range(1, seq.shape[-1]):
        logits = lm.step(seq[..., s - 1:s].expand(2, -1, -1), state, prefix=conds.prefix if s == 1 else None, bpm=bpm)
        c, u = logits.float().chunk(2)
        out.append((u + (c - u) * CFG)[0])
    return torch.stack(out)


def greedy_sequence(lm: LMModel, cond: ConditionTensors, null: ConditionTensors, frames: int) -> torch.Tensor:
    """The interleaved sequence [1, K, S] of a greedy float32 generation (special token where no code)."""
    seen = {}
    generate_tokens(lm, cond, null, max_gen_len=frames, use_sampling=False, cfg_coef=CFG,
                    on_step=lambda offset, seq: seen.update(seq=seq.clone()))
    return seen["seq"]


def valid_positions(lm: LMModel, frames: int) -> torch.Tensor:
    """[S-1, K]: the steps 1.. and codebooks that carry a real code (delay pattern)."""
    _, mask = get_pattern(lm.cfg.pattern, lm.cfg.n_q, frames, lm.cfg.delays).build(
        torch.zeros(1, lm.cfg.n_q, frames, dtype=torch.long), lm.cfg.card)
    return mask.t()[1:]


def quality(ref_logits: torch.Tensor, logits: torch.Tensor, valid: torch.Tensor) -> dict:
    p = ref_logits[valid].log_softmax(-1)
    q = logits[valid].log_softmax(-1)
    agree = (p.argmax(-1) == q.argmax(-1)).float().mean().item()
    kl = (p.exp() * (p - q)).sum(-1).mean().item()
    return {"top1_agreement": agree, "mean_kl": kl, "positions": int(valid.sum())}


def random_conditions(cross: torch.Tensor) -> tuple[ConditionTensors, ConditionTensors]:
    return ConditionTensors(cross=cross), ConditionTensors(cross=torch.zeros_like(cross))


def step_weights(lm: LMModel) -> list[torch.Tensor]:
    """The float32 weights one decoding step multiplies by (cross-attention keys/values are computed once)."""
    weights = [p.detach() for name, p in lm.named_parameters()
               if p.dim() == 2 and not name.startswith("emb") and "cross_attention.in_proj" not in name]
    return weights + [layer.cross_attention.in_proj_weight[:lm.cfg.dim].detach() for layer in lm.transformer.layers
                      if layer.cross_attention is not None]


def weight_products_seconds(lm: LMModel, steps: int) -> float:
    """Seconds for `steps` decoding steps' worth of float32 weight products alone (see `floor`)."""
    weights = step_weights(lm)
    inputs = {w.shape[1]: torch.randn(2, w.shape[1]) for w in weights}

    def step():
        for w in weights:
            torch.nn.functional.linear(inputs[w.shape[1]], w)

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def child(mode: str, args) -> dict:
    """Time one mode (and its quality against the float32 reference in args.ref) in this process."""
    if args.threads:
        torch.set_num_threads(args.threads)
    frames = max(1, args.steps - 3)
    res: dict = {"mode": mode}
    lm, cross = build_lm("bfloat16" if mode == "bf16" else "float32")
    if mode == "floor":
        res["seconds"] = min(weight_products_seconds(lm, frames + 3) for _ in range(args.repeats))
        res["bytes_per_step"] = sum(w.numel() * 4 for w in step_weights(lm))
    elif mode == "transformers":
        hf = build_hf(lm)
        del lm
        run_hf(hf, cross, 8, 0)
        res["seconds"] = min(run_hf(hf, cross, frames, 1) for _ in range(args.repeats))
    else:
        if mode != "eager":
            t0 = time.perf_counter()
            lm.optimize_decoding(dtype="int8" if mode == "int8" else None)
            res["path"] = lm.decoding_path
            run_ours(lm, cross, 8, 0)  # compiles on the first call in "compiled" mode
            res["setup_seconds"] = time.perf_counter() - t0
        else:
            run_ours(lm, cross, 8, 0)  # warm-up (allocator, oneDNN kernels)
        res["seconds"] = min(run_ours(lm, cross, frames, 1) for _ in range(args.repeats))
        if mode in ("bf16", "int8") and args.ref and os.path.exists(args.ref):
            ref = torch.load(args.ref, weights_only=True)
            cond, null = random_conditions(cross)
            res.update(quality(ref["logits"], guided_logits(lm, cond, null, ref["seq"]), ref["valid"]))
    res["steps_per_s"] = (frames + 3) / res["seconds"]
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def make_reference(path: str, frames: int, threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)
    lm, cross = build_lm()
    cond, null = random_conditions(cross)
    seq = greedy_sequence(lm, cond, null, frames)
    torch.save({"seq": seq, "logits": guided_logits(lm, cond, null, seq), "valid": valid_positions(lm, frames)}, path)


def default_model_quality(frames: int, prompts: list[str]) -> dict:
    """int8 vs float32 on the trained default model (peaked distributions, unlike random weights)."""
    from tonecraft.models import MusicGen
    from tonecraft.models.prompts import text_conditions

    model = MusicGen.from_pretrained("tonecraft-default")
    lm, results = model.lm, []
    for prompt in prompts:
        cond, null = text_conditions(model, [prompt])
        lm.optimize_decoding(False)
        seq = greedy_sequence(lm, cond, null, frames)
        ref = guided_logits(lm, cond, null, seq)
        lm.optimize_decoding(dtype="int8")
        results.append(quality(ref, guided_logits(lm, cond, null, seq), valid_positions(lm, frames)))
    lm.optimize_decoding(False)
    return {k: sum(r[k] for r in results) / len(results) for k in ("top1_agreement", "mean_kl")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=253, help="decoding steps (frames + 3); 253 = 5 s of audio")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    p.add_argument("--threads", type=int, default=None, help="torch threads in every mode (default: torch's)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs of each (best is reported)")
    p.add_argument("--quality-frames", type=int, default=250, help="greedy frames compared for bf16/int8 (0: no quality check)")
    p.add_argument("--default-prompts", type=int, default=4, help="prompts for the default-model int8 quality")
    p.add_argument("--no-default", action="store_true", help="skip the default-model int8 quality check")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--ref", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args)), flush=True)
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        p.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    print(cpu_features.summary())
    print(f"musicgen-small LM shape, random weights, {args.threads or torch.get_num_threads()} threads, CFG batch 2, "
          f"top-k 250, {args.steps} steps; quality over {args.quality_frames} greedy frames vs float32")
    with tempfile.TemporaryDirectory() as tmp:
        ref = os.path.join(tmp, "ref.pt")
        if {"bf16", "int8"} & set(modes) and args.quality_frames > 0:
            t0 = time.perf_counter()
            make_reference(ref, args.quality_frames, args.threads)
            print(f"(float32 reference for quality: {time.perf_counter() - t0:.0f} s)", flush=True)
        results = {}
        for mode in modes:
            cmd = [sys.executable, __file__, "--child", mode, "--steps", str(args.steps), "--repeats",
                   str(args.repeats), "--ref", ref] + (["--threads", str(args.threads)] if args.threads else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{mode:13s} failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            r = results[mode] = json.loads(line[7:])
            extra = f"  path {r['path']}" if "path" in r else ""
            if "setup_seconds" in r:
                extra += f"  (set-up + first call {r['setup_seconds']:.0f} s)"
            if "bytes_per_step" in r:
                extra += f"  ({r['bytes_per_step'] / 1e9:.2f} GB of weights per step: {r['bytes_per_step'] * r['steps_per_s'] / 1e9:.1f} GB/s)"
            if "top1_agreement" in r:
                extra += f"  top-1 agreement {r['top1_agreement']:.3f}  mean KL {r['mean_kl']:.4f}"
            print(f"{mode:13s} {r['steps_per_s']:6.2f} steps/s  ({r['seconds']:.1f} s)  peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB{extra}", flush=True)
    if "int8" in modes and not args.no_default and args.quality_frames > 0:
        prompts = DEFAULT_PROMPTS[:args.default_prompts]
        q = default_model_quality(args.quality_frames, prompts)
        print(f"int8 on tonecraft-default ({len(prompts)} prompts x {args.quality_frames} greedy frames): top-1 "
              f"agreement {q['top1_agreement']:.3f}  mean KL {q['mean_kl']:.4f}", flush=True)
    if "transformers" in results:
        t_hf = results["transformers"]["seconds"]
        for mode, r in results.items():
            if mode != "transformers":
                print(f"speed-up {mode:10s} {t_hf / r['seconds']:5.2f}x")


if __name__ == "__main__":
    main()
