"""Measured quality of a sound-effects codec + LM (issue 15): codec vs Opus, LM cross-entropy with captions vs
the empty prompt, category probe, envelope statistics per category, speed. JSON report + markdown tables.

    .venv/bin/python bench/eval_sfx.py --corpus /root/tonecraft-data/sfx-v1 \\
        --codec /root/tonecraft-data/runs/sfx_codec/export --parts codec --max-clips 60
    .venv/bin/python bench/eval_sfx.py --corpus /root/tonecraft-data/sfx-v1 --model RUN/export --seeds 2
    .venv/bin/python bench/eval_sfx.py --corpus /root/tonecraft-data/sfx-v1 --model tonecraft-sfx-default \
        --parts probe --max-clips 0 --prompts bench/sfx_prompts.jsonl --prompt-seeds 3 --spectrograms sheet.png

--model: an LM export folder (`tonecraft train export`, its config names the codec), a shipped name
(tonecraft-sfx-default), an LM training checkpoint.pt (with --codec), or `tiny-random` (a random tiny 16 kHz
model: chance-level numbers, for smoke runs). --codec: the codec of the codec part (folder, name or codec
checkpoint.pt; default: the model's). Without --model only the codec part and the probe's ceiling run.
Single-threaded by default (shares the machine with training); deterministic for a given corpus and seed.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

SFX_CORPUS_ENV = "TONECRAFT_SFX_CORPUS"


def parse_args(argv=None) -> argparse.Namespace:
    from tonecraft.eval.sfx import PARTS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=os.environ.get(SFX_CORPUS_ENV), required=SFX_CORPUS_ENV not in os.environ,
                   help=f"folder of `tonecraft corpus sfx` (default: ${SFX_CORPUS_ENV})")
    p.add_argument("--model", default=None, help="LM export folder / name / checkpoint.pt, or 'tiny-random'")
    p.add_argument("--codec", default=None, help="codec folder / name / checkpoint.pt (default: the model's)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--max-clips", type=int, default=None,
                   help="held-out clips per part (codec, ce, generation captions; stratified by category)")
    p.add_argument("--seeds", type=int, default=1, help="generated clips per caption")
    p.add_argument("--duration", type=float, default=5.0, help="generated seconds = probe/envelope window")
    p.add_argument("--heldout-split", default="test")
    p.add_argument("--probe-splits", default="valid,test", help="real clips the probe learns from")
    p.add_argument("--probe-extra", nargs="*", default=[],
                   help="corpus folders whose every clip the probe also learns from (recordings the LM never "
                        "trained on, e.g. `tonecraft corpus sfx --packages arcade`)")
    p.add_argument("--probe-clips", type=int, default=None, help="at most this many real probe clips")
    p.add_argument("--min-class-count", type=int, default=5)
    p.add_argument("--opus-kbps", type=float, nargs="+", default=[6.0])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top-k", type=int, default=None, help="default: the model's")
    p.add_argument("--temperature", type=float, default=None, help="default: the model's")
    p.add_argument("--cfg-coef", type=float, default=None, help="default: the model's")
    p.add_argument("--time-budget-min", type=float, default=None, help="stop generating after this many minutes")
    p.add_argument("--save-audio", default=None, help="folder for the generated clips")
    p.add_argument("--ce-cache", default=None,
                   help="token cache of the held-out clips, encoded with the LM's codec (all its clips; "
                        "default: encode --max-clips held-out clips)")
    p.add_argument("--ce-seconds", type=float, default=None,
                   help="CE on the first N s of each clip (default: the model's window, its training segment; "
                        "give the run's data.segment_duration for an LM checkpoint.pt)")
    p.add_argument("--speed-runs", type=int, default=3)
    p.add_argument("--speed-seconds", type=float, default=5.0)
    p.add_argument("--speed-dtype", nargs="+", default=["float32"], choices=["float32", "int8"])
    p.add_argument("--threads", type=int, default=1, help="torch threads outside the speed part")
    p.add_argument("--prompts", default=None,
                   help="free-language prompt file (JSON lines: prompt, category; bench/sfx_prompts.jsonl), "
                        "generated and scored by the probe (part 'probe'; --max-clips 0 skips the held-out captions)")
    p.add_argument("--prompt-seeds", type=int, default=2, help="clips per free-language prompt")
    p.add_argument("--spectrograms", default=None,
                   help="PNG sheet of the free-language clips' spectrograms (first seed; needs matplotlib)")
    p.add_argument("--out", default="sfx_eval.json", help="JSON report")
    p.add_argument("--md", default=None, help="markdown tables (default: next to --out, .md)")
    return p.parse_args(argv)


def spectrogram_sheet(audio_dir: Path, prompts: dict, out: str) -> None:
    """One log-mel panel per free-language prompt (its first seed), titled with the prompt and what the probe
    heard: what a reader checks by eye next to the probe's verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tonecraft.audio import load_audio
    from tonecraft.eval.sfx_probe import _log_mel

    files = sorted(audio_dir.glob("*.wav"))
    rows = prompts["prompts"]
    cols = 4
    n_rows = (len(files) + cols - 1) // cols
    fig, axes = plt.subplots(n_rows, cols, figsize=(4 * cols, 2.2 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, f, r in zip(axes.flat, files, rows):
        wav, sr = load_audio(f, sample_rate=16_000, channels=1)
        ax.imshow(_log_mel(wav[0].numpy()), origin="lower", aspect="auto", cmap="magma")
        ax.set_title(f"{r['prompt'][:34]}\n{r['category']}: {r['hits']}/{r['n']} seeds recognised", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


def main(argv=None) -> int:
    from tonecraft.errors import TonecraftError
    from tonecraft.eval.report import format_sfx_markdown, write_json
    from tonecraft.eval.sfx import SfxEvalConfig, run_sfx
    from tonecraft.fileio import atomic_write_text

    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    tmp = tmp_audio = None
    model = a.model
    try:
        if model == "tiny-random":
            from tonecraft.eval.tiny import save_tiny_random_model

            tmp = tempfile.TemporaryDirectory(prefix="tonecraft-tiny-")
            model = str(save_tiny_random_model(tmp.name, seed=a.seed, sample_rate=16_000))
        cfg = SfxEvalConfig(
            corpus=a.corpus, model=model, codec=a.codec, parts=[s for s in a.parts.split(",") if s],
            max_clips=a.max_clips, seeds=a.seeds, duration=a.duration, heldout_split=a.heldout_split,
            probe_splits=a.probe_splits, probe_extra=a.probe_extra, probe_clips=a.probe_clips,
            min_class_count=a.min_class_count,
            opus_kbps=list(a.opus_kbps), batch_size=a.batch_size, seed=a.seed, top_k=a.top_k,
            temperature=a.temperature, cfg_coef=a.cfg_coef,
            time_budget_s=a.time_budget_min * 60 if a.time_budget_min else None, save_audio_dir=a.save_audio,
            ce_cache=a.ce_cache, ce_seconds=a.ce_seconds, speed_seconds=a.speed_seconds, speed_runs=a.speed_runs,
            speed_dtypes=list(a.speed_dtype), prompts=a.prompts, prompt_seeds=a.prompt_seeds)
        if a.spectrograms and not a.save_audio:
            tmp_audio = tempfile.TemporaryDirectory(prefix="tonecraft-sfx-audio-")
            cfg.save_audio_dir = tmp_audio.name
        res = run_sfx(cfg)
        if a.spectrograms and res.get("prompts"):
            spectrogram_sheet(Path(cfg.save_audio_dir) / "prompts" / "seed0", res["prompts"], a.spectrograms)
    except TonecraftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for t in (tmp, tmp_audio):
            if t is not None:
                t.cleanup()
    if a.model == "tiny-random":
        res["config"]["model"] = "tiny-random"
    md = format_sfx_markdown(res)
    print()
    print(md)
    out = write_json(a.out, res)
    md_path = a.md or (str(out)[: -len(".json")] if str(out).endswith(".json") else str(out)) + ".md"
    atomic_write_text(md_path, md)
    print(f"wrote {out} and {md_path} ({res['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
