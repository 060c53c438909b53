"""Measured quality of the default codec + LM (issue 6): codec vs Opus, probe accuracy, tempo.

    .venv/bin/python bench/eval_default.py --model src/tonecraft/assets/default --n-clips 100 --out results.json

--model: a MusicGen folder or name (`MusicGen.from_pretrained`), a tonecraft-lm export (lm/ + codec/), or
`tiny-random` (a random tiny model: chance-level numbers, for smoke runs). Default: the shipped
src/tonecraft/assets/default when it has weights, else no generation (codec + probe sanity only).
--codec: codec folder/name for the codec comparison (default: the model's codec).
--paraphrases bench/paraphrases.jsonl: also generate hand-written free-language prompts and score them with the
same probes (per-family recall vs the probe ceiling, tempo, slow prompts, onsets; issue 18).
Single-threaded on purpose (shares the machine with training); deterministic for a given corpus and seed.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import torch  # noqa: E402


def main(argv=None) -> int:
    from tonecraft.errors import TonecraftError
    from tonecraft.eval.report import format_report, write_json
    from tonecraft.eval.runner import CORPUS_ENV, EvalConfig, default_model_path, run

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model dir/name, 'tiny-random', or 'none' (default: shipped)")
    p.add_argument("--codec", default=None, help="codec dir/name (default: the model's codec)")
    p.add_argument("--corpus", default=os.environ.get(CORPUS_ENV), required=CORPUS_ENV not in os.environ,
                   help=f"corpus folder of `tonecraft corpus music` (default: ${CORPUS_ENV})")
    p.add_argument("--n-clips", type=int, default=100, help="clips generated from held-out captions")
    p.add_argument("--n-train", type=int, default=300, help="real train clips for the probe")
    p.add_argument("--n-heldout", type=int, default=200, help="real held-out clips for the probe sanity check")
    p.add_argument("--n-codec-clips", type=int, default=50, help="held-out clips for codec vs Opus (0: skip)")
    p.add_argument("--heldout-splits", default="test", help="comma-separated held-out splits (default test)")
    p.add_argument("--duration", type=float, default=8.0, help="seconds generated (and probe crop of real clips)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--opus-kbps", type=float, nargs="+", default=[6.0])
    p.add_argument("--codec-seconds", type=float, default=None, help="crop for the codec comparison")
    p.add_argument("--time-budget-min", type=float, default=None, help="stop generating after this many minutes")
    p.add_argument("--top-k", type=int, default=None, help="default: the model's")
    p.add_argument("--temperature", type=float, default=None, help="default: the model's")
    p.add_argument("--cfg-coef", type=float, default=None)
    p.add_argument("--save-audio", default=None, help="folder for the generated clips")
    p.add_argument("--probe-domain", choices=["auto", "codec", "raw"], default="auto",
                   help="real clips through the codec before the probe (auto: when a codec is loaded) or raw")
    p.add_argument("--min-class-count", type=int, default=10, help="probe classes with fewer train clips are left out")
    p.add_argument("--watermark-check", action="store_true",
                   help="also score the generated clips after the watermark (its effect on the probe and tempo)")
    p.add_argument("--word-pairs", type=int, default=0,
                   help="held-out captions generated as a 'Slow ...' / 'Fast ...' pair (tempo words only)")
    p.add_argument("--paraphrases", default=None,
                   help="free-language prompt file (e.g. bench/paraphrases.jsonl): generated and scored too")
    p.add_argument("--paraphrase-seeds", type=int, default=1, help="clips per paraphrase prompt")
    p.add_argument("--decoding", choices=["float32", "int8"], default="float32",
                   help="int8: the LM's dynamic int8 decoding path (where the CPU supports it), to measure its effect")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="results.json")
    a = p.parse_args(argv)

    torch.set_num_threads(a.threads)
    tmp = None
    model = a.model
    if model is None:
        model = default_model_path()
        if model is None:
            print("no shipped model in src/tonecraft/assets/default yet: codec + probe sanity only")
    elif model.lower() == "none":
        model = None
    elif model == "tiny-random":
        from tonecraft.eval.tiny import save_tiny_random_model

        tmp = tempfile.TemporaryDirectory(prefix="tonecraft-tiny-")
        model = str(save_tiny_random_model(tmp.name, seed=a.seed))
    cfg = EvalConfig(corpus=a.corpus, model=model, codec=a.codec, n_clips=a.n_clips, n_train=a.n_train,
                     n_heldout=a.n_heldout, n_codec_clips=a.n_codec_clips, heldout_splits=a.heldout_splits,
                     duration=a.duration, batch_size=a.batch_size, seed=a.seed, opus_kbps=list(a.opus_kbps),
                     codec_seconds=a.codec_seconds,
                     time_budget_s=a.time_budget_min * 60 if a.time_budget_min else None, top_k=a.top_k,
                     temperature=a.temperature, cfg_coef=a.cfg_coef, save_audio_dir=a.save_audio,
                     probe_domain=a.probe_domain, min_class_count=a.min_class_count, n_word_pairs=a.word_pairs,
                     watermark_check=a.watermark_check, paraphrases=a.paraphrases,
                     paraphrase_seeds=a.paraphrase_seeds, decoding=a.decoding)
    try:
        res = run(cfg)
    except TonecraftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if tmp is not None:
            tmp.cleanup()
    if a.model == "tiny-random":
        res["config"]["model"] = "tiny-random"
    print()
    print(format_report(res))
    print(f"\nwrote {write_json(a.out, res)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
