"""Measure the default model for its model card: codec reconstruction on held-out clips, LM held-out
cross-entropy per codebook, and generation wall time. Prints a JSON object (and writes it with -o).

    python scripts/eval_default_metrics.py --model src/tonecraft/assets/default \
        --test-manifest /root/tonecraft-data/corpus-v1/test.jsonl --test-cache TOKENS/test -o metrics.json

(The prompt-adherence probe and the Opus comparison are bench/eval_default.py.)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch


@torch.no_grad()
def codec_metrics(codec, manifest: str, limit: int) -> dict:
    from tonecraft.audio import load_audio
    from tonecraft.data.manifest import read_manifest
    from tonecraft.train.losses import MelDistance, MultiScaleMelLoss, si_snr

    sr = codec.sample_rate
    msspec = MultiScaleMelLoss(sr, 6, 11, n_mels=64, f_min=64.0)
    mel = MelDistance(sr)
    metas = read_manifest(manifest)[:limit]
    tot = {"sisnr_db": 0.0, "msspec": 0.0, "mel_l1_log10": 0.0}
    n = 0
    for m in metas:
        wav, _ = load_audio(m.path, sample_rate=sr, channels=codec.channels)
        x = torch.as_tensor(wav).float().reshape(1, codec.channels, -1)
        hop = codec.hop_length
        x = x[..., : (x.shape[-1] // hop) * hop]
        codes, scale = codec.encode(x)
        y = codec.decode(codes, scale)[..., : x.shape[-1]]
        tot["sisnr_db"] += si_snr(y, x).mean().item()
        tot["msspec"] += msspec(y, x).item()
        tot["mel_l1_log10"] += mel(y, x).item()
        n += 1
    return {**{k: v / max(n, 1) for k, v in tot.items()}, "clips": n, "manifest": manifest}


@torch.no_grad()
def lm_metrics(model_dir: str, cache: str, limit: int, batch: int = 4, head_s: float = 2.0) -> dict:
    from tonecraft.data.token_cache import TokenDataset, collate_tokens
    from tonecraft.lm.patterns import get_pattern
    from tonecraft.pretrained.export_format import load_lm_export
    from tonecraft.train.lm_trainer import LMTrainModule, codebook_cross_entropy, first_frames

    lm, conditioner, cond_cfg, config = load_lm_export(model_dir)
    module = LMTrainModule(lm, conditioner).eval()
    seg = float(config.get("max_duration") or 10.0)
    ds = TokenDataset(cache, seg, shuffle=False)
    idx = list(range(min(len(ds), limit)))
    out = {"cond": {}, "null": {}}
    if getattr(conditioner, "tempo", False):
        out["other_bpm"] = {}  # the caption with another tempo: does the LM use the bpm it is told?
    for mode in list(out):
        tot, n = {}, 0
        for i in range(0, len(idx), batch):
            codes, frame_mask, infos = collate_tokens([ds[j] for j in idx[i:i + batch]])
            B, K, T = codes.shape
            pattern = get_pattern(lm.cfg.pattern, lm.cfg.n_q, T, lm.cfg.delays)
            seq, _ = pattern.build(codes, lm.cfg.special_token)
            steps = pattern.num_steps - pattern.max_delay
            texts = {"cond": lambda: [x.description for x in infos], "null": lambda: [None] * B,
                     "other_bpm": lambda: [other_bpm(x.description) for x in infos]}[mode]()
            cond = conditioner.tokenize(texts) if conditioner is not None else None
            logits = module(seq[..., : steps - 1], cond, first_frames(infos))
            logits, valid = pattern.revert_logits(logits, fill=0.0)
            mask = valid[None] & frame_mask[:, None, :]
            loss, per_k = codebook_cross_entropy(logits, codes, mask)
            # the opening frames: where a generation from scratch has only the prompt to go on
            head = mask & (torch.arange(T) < int(round(head_s * ds.cache.frame_rate)))[None, None, :]
            head_loss, _ = codebook_cross_entropy(logits, codes, head)
            vals = {"ce": loss.item(), **{f"ce_q{k + 1}": v.item() for k, v in enumerate(per_k)},
                    f"ce_first_{head_s:g}s": head_loss.item()}
            for k, v in vals.items():
                tot[k] = tot.get(k, 0.0) + v * B
            n += B
        out[mode] = {k: round(v / max(n, 1), 4) for k, v in tot.items()}
    out["items"] = len(idx)
    out["cache"] = cache
    out["step"] = config.get("step")
    return out


def other_bpm(description: str) -> str:
    """The caption with its "N bpm" moved 1.6x away (slower when N >= 100, else faster)."""
    from tonecraft.conditioning.tempo import BPM_PATTERN

    def move(m):
        bpm = float(m.group(1))
        return f"{round(bpm / 1.6 if bpm >= 100 else bpm * 1.6)} bpm"

    return BPM_PATTERN.sub(move, description)


def speed(model_dir: str, seconds: float, prompt: str, repeats: int) -> dict:
    from tonecraft.models import load_model

    t0 = time.perf_counter()
    model = load_model(model_dir)
    load_s = time.perf_counter() - t0
    model.set_generation_params(duration=seconds, cfg_coef=model.params.cfg_coef)
    walls = []
    for r in range(repeats):
        t = time.perf_counter()
        with torch.inference_mode():
            wav = model.generate([prompt], seed=r)
        walls.append(time.perf_counter() - t)
    return {"audio_s": wav.shape[-1] / model.sample_rate, "wall_s": [round(w, 2) for w in walls],
            "best_wall_s": round(min(walls), 2), "load_s": round(load_s, 2), "threads": torch.get_num_threads(),
            "cfg_batch": 2}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "src/tonecraft/assets/default"))
    p.add_argument("--test-manifest", default="/root/tonecraft-data/corpus-v1/test.jsonl")
    p.add_argument("--test-cache", default="/root/tonecraft-data/tokens/v2/test")
    p.add_argument("--codec-clips", type=int, default=40)
    p.add_argument("--lm-items", type=int, default=144)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--prompt", default="Upbeat lively Irish folk reel played on fiddle in D major, 120 bpm, 4/4 time")
    p.add_argument("--skip", nargs="*", default=[], choices=["codec", "lm", "speed"])
    p.add_argument("-o", "--output")
    args = p.parse_args(argv)
    res = {}
    if "speed" not in args.skip:
        res["generation"] = speed(args.model, args.seconds, args.prompt, args.repeats)
        print(json.dumps(res["generation"]), flush=True)
    if "codec" not in args.skip:
        from tonecraft.pretrained.codec_loading import load_codec

        res["codec"] = codec_metrics(load_codec(os.path.join(args.model, "codec")).eval(), args.test_manifest,
                                     args.codec_clips)
        print(json.dumps(res["codec"]), flush=True)
    if "lm" not in args.skip:
        res["lm"] = lm_metrics(args.model, args.test_cache, args.lm_items)
        print(json.dumps(res["lm"]), flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
