"""Memorisation: how often a model's output holds a near copy (>= 2 s) of a training clip, next to real clips
the model never saw (the baseline: what the same check finds between two independent pieces of this corpus).

For each of --n held-out (test split) clips, the model generates a clip from that clip's caption; both the
generated clip and the real held-out clip (its first --duration seconds) are checked against the training
split with `tonecraft similar`'s machinery (`eval/similar.py`): codec-token n-gram stretches against a token
cache of the train split made with the model's own codec, then chroma (any transposition) against the 20 best
token candidates. A near copy is a stretch of >= 2 s with >= 50 % of its token frames matched, or a chroma
cosine >= 0.9 over 2 s.

    .venv/bin/python bench/memorisation.py --model tonecraft-default --corpus ~/tonecraft-data/corpus-v1 --n 100
    .venv/bin/python bench/memorisation.py --model tonecraft-sfx-default --corpus ~/tonecraft-data/sfx-v1 --n 100 --duration 5

The train-split token cache is built on first use (--train-cache, default CORPUS/memorisation-cache-MODEL).
Nothing is asserted: it prints, and writes --out as JSON.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import torch

from tonecraft.audio import load_audio
from tonecraft.data.info import read_info
from tonecraft.data.manifest import read_manifest
from tonecraft.data.token_cache import TokenCache, build_token_cache, encode_codes
from tonecraft.eval.similar import CHROMA_NEAR, NEAR_COPY_S, TOKEN_NEAR, NgramIndex, find_similar
from tonecraft.models import load_model


def train_cache(model, corpus: Path, path: Path) -> TokenCache:
    if not (path / "index.json").exists():
        metas = read_manifest(corpus / "train.jsonl")
        t0 = time.perf_counter()
        print(f"encoding the train split ({len(metas)} clips) with {model.name}'s codec -> {path}", flush=True)
        build_token_cache(metas, model.codec, path, progress=sys.stderr.isatty())
        print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    return TokenCache(path)


def check(model, wav: torch.Tensor, cache: TokenCache, index: NgramIndex) -> dict:
    """The closest training clip of one clip [C, T] at the model's rate: longest token stretch, best chroma."""
    codes = encode_codes(model.codec, wav[None])[0]
    found = find_similar(wav, model.sample_rate, cache=cache, query_codes=codes, top=1, index=index)
    tokens = max((s.tokens.seconds for s in found if s.tokens and s.tokens.score >= TOKEN_NEAR), default=0.0)
    chroma = max((s.chroma.score for s in found if s.chroma), default=float("nan"))
    best = found[0] if found else None
    return {"near_copy": bool(best and best.near_copy), "token_seconds": tokens, "chroma": chroma,
            "closest": best.path if best else None}


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    chroma = [r["chroma"] for r in rows if r["chroma"] == r["chroma"]]
    return {"clips": n, "near_copy": sum(r["near_copy"] for r in rows) / n,
            "token_near_2s": sum(r["token_seconds"] >= NEAR_COPY_S for r in rows) / n,
            "chroma_near_0.9": sum(c >= CHROMA_NEAR for c in chroma) / n,
            "longest_token_stretch_median_s": statistics.median(r["token_seconds"] for r in rows),
            "longest_token_stretch_max_s": max(r["token_seconds"] for r in rows),
            "best_chroma_median": statistics.median(chroma) if chroma else None}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tonecraft-default")
    p.add_argument("--corpus", required=True, type=Path, help="corpus folder with train.jsonl and test.jsonl")
    p.add_argument("--train-cache", type=Path, default=None)
    p.add_argument("--n", type=int, default=100, help="held-out captions (one generated clip each) and real clips")
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    model.set_generation_params(**{**model.generation_params(), "duration": args.duration})
    cache = train_cache(model, args.corpus, args.train_cache or args.corpus / f"memorisation-cache-{model.name}")
    t0 = time.perf_counter()
    index = NgramIndex.build(cache)
    print(f"train split: {len(cache)} clips, {cache.index['total_frames'] / cache.frame_rate / 3600:.2f} h; "
          f"n-gram index {time.perf_counter() - t0:.1f} s", flush=True)

    test = read_manifest(args.corpus / "test.jsonl")
    captioned = [(m, read_info(m).description) for m in test]
    captioned = [(m, c) for m, c in captioned if c]  # real clips shorter than --duration are checked whole
    random.Random(args.seed).shuffle(captioned)
    chosen = captioned[:args.n]
    length = int(round(args.duration * model.sample_rate))

    real = []
    for meta, _ in chosen:
        wav, _ = load_audio(meta.path, sample_rate=model.sample_rate, channels=model.audio_channels)
        real.append(check(model, wav[:, :length], cache, index))
    seconds = sum(min(m.duration, args.duration) for m, _ in chosen) / max(1, len(chosen))
    print(f"held-out real clips (mean {seconds:.1f} s checked): {json.dumps(summary(real))}", flush=True)

    generated, t_gen = [], 0.0
    for i in range(0, len(chosen), args.batch):
        captions = [c for _, c in chosen[i:i + args.batch]]
        t = time.perf_counter()
        wavs = model.generate(captions, seed=args.seed + i)
        t_gen += time.perf_counter() - t
        generated += [check(model, w, cache, index) for w in wavs]
        print(f"  {len(generated)}/{len(chosen)} generated", flush=True)
    print(f"generated ({model.name}, {args.duration:g} s, held-out captions, {t_gen:.0f} s sampling): "
          f"{json.dumps(summary(generated))}", flush=True)
    copies = [(c, r["closest"], r["token_seconds"], r["chroma"]) for (_, c), r in zip(chosen, generated) if r["near_copy"]]
    for caption, closest, tok, chroma in copies[:10]:
        print(f"  near copy: {caption!r} -> {closest} (tokens {tok:.1f} s, chroma {chroma:.2f})")
    if args.out:
        args.out.write_text(json.dumps({"model": args.model, "corpus": str(args.corpus), "n": len(chosen),
                                        "duration": args.duration, "seed": args.seed,
                                        "real": summary(real), "generated": summary(generated),
                                        "rows_real": real, "rows_generated": generated}, indent=1))


if __name__ == "__main__":
    main()
