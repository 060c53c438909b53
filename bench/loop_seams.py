"""Seam quality of generated loops (issue 16): tonecraft's loops vs a naive N-bar cut of the same take.

For each loop the seam (last sample -> first) is compared with every interior bar line (`seam_report`):
spectral flux (log-spectrum distance of the 32 ms either side) and waveform jump (the step across the
boundary over the local median step). A seam is "within" when both are no larger than at the worst interior
bar line. `within_beats_lm_choice`: the same for the ending the LM ranks best, before the seam check
(LoopSettings.seam_check) may swap it for another candidate: the check uses this seam score, so compare the
two to see what it adds; `second_opinion_*` is a seam measure the check does not use (band-energy jump over
80 ms and click energy, `second_opinion`). The naive baseline is the plain cut [bar line, + N bars) of the
same take with its first sampled ending (no ending choice, no wrapped rendering, no crossfade). Also checked:
exact length, tempo of the loop (our estimator on the loop played 3 times) within 2 % of the asked bpm (and
allowing x2 / x0.5).

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 python bench/loop_seams.py --loops 40 --bars 4 --json loops.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch

from tonecraft.models import load_model
from tonecraft.models.loop_audio import BarGrid, estimate_tempo, mono, seam_report
from tonecraft.models.loops import LoopSettings, generate_loop

PROMPTS = [
    ("calm exploration music for a fantasy game", 90),
    ("driving synthwave with a punchy kick", 120),
    ("lofi hip hop beat with mellow piano", 80),
    ("tense orchestral strings for a boss fight", 140),
    ("upbeat chiptune for a platformer level", 150),
    ("ambient pads over a soft pulse", 70),
    ("funky bass groove with drums", 110),
    ("folk guitar and fiddle reel", 130),
    ("dark techno loop", 128),
    ("jazzy piano trio, brushes on the snare", 100),
]


def summarize(rows: list[dict], head: dict) -> dict:
    n = len(rows)

    def share(test):
        k = sum(bool(test(r)) for r in rows)
        return f"{k}/{n} ({100 * k / n:.0f} %)"

    def near(est, bpm, tol, factors=(1.0,)):
        return est is not None and est > 0 and any(abs(est * f - bpm) <= tol * bpm for f in factors)

    octave = (1.0, 2.0, 0.5)
    return {
        **{k: head[k] for k in ("loops", "bars", "model", "candidates", "seam_check", "takes", "warp",
                                "seam_threshold") if k in head},
        "within_beats_ours": share(lambda r: r["ours_within"]), "within_beats_naive": share(lambda r: r["naive_within"]),
        "within_beats_lm_choice": share(lambda r: r.get("lm_within", r["ours_within"])),
        "within_bars_ours": share(lambda r: r["ours_within_bars"]),
        "within_bars_naive": share(lambda r: r["naive_within_bars"]),
        "second_opinion_within_ours": share(lambda r: r.get("ours_within2")),
        "second_opinion_within_naive": share(lambda r: r.get("naive_within2")),
        "median_score_ours": round(statistics.median(r["ours"] for r in rows), 3),
        "median_score_naive": round(statistics.median(r["naive"] for r in rows), 3),
        "median_jump_ours": round(statistics.median(r["ours_jump"] for r in rows), 2),
        "median_jump_naive": round(statistics.median(r["naive_jump"] for r in rows), 2),
        "length_exact": share(lambda r: r["length_ok"]),
        "warped": share(lambda r: r.get("warp_bpm")),
        "tempo_within_2pct": share(lambda r: near(r["est_bpm"], r["bpm"], 0.02)),
        "tempo_within_2pct_octave": share(lambda r: near(r["est_bpm"], r["bpm"], 0.02, octave)),
        "tempo_within_8pct_octave": share(lambda r: near(r["est_bpm"], r["bpm"], 0.08, octave)),
        "librosa_within_2pct_octave": share(lambda r: near(r.get("librosa_bpm"), r["bpm"], 0.02, octave)),
        "librosa_within_8pct_octave": share(lambda r: near(r.get("librosa_bpm"), r["bpm"], 0.08, octave)),
        "ending_choice_gain_logprob": round(statistics.mean(r["seam_logprob"] - r["first_logprob"] for r in rows), 4),
        "seconds_per_loop": head.get("seconds_per_loop"),
    }


def band_energies(x: np.ndarray, sample_rate: int, n_bands: int = 40) -> np.ndarray:
    """Log energies (dB) of `n_bands` log-spaced bands (50 Hz .. Nyquist) of a Hann-windowed stretch."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / sample_rate)
    edges = np.geomspace(50.0, sample_rate / 2, n_bands + 1)
    idx = np.clip(np.searchsorted(freqs, edges), 1, spec.size)
    bands = np.array([spec[a:max(b, a + 1)].sum() for a, b in zip(idx[:-1], idx[1:])])
    return 10 * np.log10(bands + 1e-10)


def second_opinion(loop, sample_rate: int, bars: int, beats_per_bar: int) -> dict:
    """A seam measure the seam check does not use: the band-energy jump (mean |dB| difference of 40 log bands
    over the 80 ms either side) and the click energy (first-difference energy in the 1.5 ms straddling the
    boundary over its median in 1.5 ms windows of the 40 ms around), seam vs every interior beat line."""
    x = mono(loop)
    lines = bars * beats_per_bar
    win, tick, ctx = int(0.080 * sample_rate), max(4, int(0.0015 * sample_rate)), int(0.020 * sample_rate)

    def measure(pos):
        r = np.roll(x, -(pos - win))  # the boundary at index `win`, contiguous across the wrap
        band = float(np.mean(np.abs(band_energies(r[win:2 * win], sample_rate)
                                    - band_energies(r[:win], sample_rate))))
        d = np.diff(r[win - ctx:win + ctx]) ** 2
        windows = [d[i:i + tick].sum() for i in range(0, d.size - tick + 1, tick // 2)]
        at = d[ctx - tick // 2:ctx + tick // 2].sum()
        return band, float(at / (np.median(windows) + 1e-12))

    seam = measure(0)
    inner = [measure(int(round(i * x.size / lines))) for i in range(1, lines)]
    ratio = max(seam[0] / max(m[0] for m in inner), seam[1] / max(m[1] for m in inner))
    return {"score2": ratio, "within2": bool(ratio <= 1.0), "band_jump": seam[0], "click": seam[1]}


def lm_choice(info: dict) -> dict:
    """The seam score of the ending the LM alone would have kept (its best log-prob), from the same run: what
    the seam check adds, with the same candidates."""
    seams = info.get("ending_seam_scores")
    if not seams:
        return {}
    lm = info["ending_lm_scores"]
    score = seams[lm.index(max(lm))]
    return {"lm_choice": score, "lm_within": score <= 1.0, "ending": info["ending"]}


def librosa_tempo(wav, sample_rate):
    """librosa's beat tracker as a second opinion (None where the eval extra is not installed)."""
    try:
        import librosa
    except ImportError:
        return None
    tempo, _ = librosa.beat.beat_track(y=wav.mean(0).numpy(), sr=sample_rate)
    return round(float(tempo if not hasattr(tempo, "__len__") else tempo[0]), 2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tonecraft-default")
    ap.add_argument("--loops", type=int, default=40)
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--candidates", type=int, default=LoopSettings.candidates)
    ap.add_argument("--takes", type=int, default=LoopSettings.takes,
                    help="takes sampled per loop; the one nearest the asked tempo is kept (LoopSettings.takes)")
    ap.add_argument("--no-seam-check", action="store_true",
                    help="keep the LM's best ending without rendering the candidates (LoopSettings.seam_check)")
    ap.add_argument("--seam-threshold", type=float, default=LoopSettings.seam_threshold,
                    help="the seam check keeps the LM's best ending whose seam score is at most this")
    ap.add_argument("--no-warp", action="store_true",
                    help="cut at the asked tempo even when the take plays another (LoopSettings.warp)")
    ap.add_argument("--json", default=None, help="write the per-loop rows here")
    ap.add_argument("--summarize", default=None, metavar="JSON", help="only print the summary of a saved run")
    args = ap.parse_args(argv)
    if args.summarize:
        saved = json.loads(open(args.summarize).read())
        print(json.dumps(summarize(saved["rows"], saved["summary"]), indent=1))
        return 0
    torch.set_num_threads(1)
    model = load_model(args.model)
    rows = []
    t0 = time.time()
    for i in range(args.loops):
        prompt, bpm = PROMPTS[i % len(PROMPTS)]
        t = time.time()
        loop = generate_loop(model, prompt, args.bars, bpm=bpm, seed=i,
                             settings=LoopSettings(candidates=args.candidates, keep_take=True,
                                                   seam_check=not args.no_seam_check, takes=args.takes,
                                                   warp=not args.no_warp, seam_threshold=args.seam_threshold))
        grid = BarGrid.parse(bpm)
        ours = seam_report(loop.audio, loop.sample_rate, args.bars, grid.beats_per_bar)
        naive = seam_report(loop.take, loop.sample_rate, args.bars, grid.beats_per_bar)
        ours2 = second_opinion(loop.audio, loop.sample_rate, args.bars, grid.beats_per_bar)
        naive2 = second_opinion(loop.take, loop.sample_rate, args.bars, grid.beats_per_bar)
        expected = grid.samples(args.bars, loop.sample_rate)
        est = estimate_tempo(loop.audio.repeat(1, 3), loop.sample_rate, prior_bpm=bpm)
        est_lr = librosa_tempo(loop.audio.repeat(1, 3), loop.sample_rate)
        row = {"prompt": prompt, "bpm": bpm, "seed": i, "length_ok": loop.length == expected == loop.take.shape[-1],
               "est_bpm": round(est, 2), "tempo_2pct": abs(est - bpm) <= 0.02 * bpm,
               "tempo_2pct_octave": any(abs(est * f - bpm) <= 0.02 * bpm for f in (1, 2, 0.5)),
               "librosa_bpm": est_lr, "librosa_2pct_octave": est_lr is not None and any(
                   abs(est_lr * f - bpm) <= 0.02 * bpm for f in (1, 2, 0.5)),
               "ours": ours["score"], "ours_within": ours["within_beats"], "naive": naive["score"],
               "naive_within": naive["within_beats"], "ours_within_bars": ours["within_bars"],
               "naive_within_bars": naive["within_bars"], "ours_jump": ours["seam_jump"], "naive_jump": naive["seam_jump"],
               "seam_logprob": loop.seam_logprob, "first_logprob": loop.first_logprob,
               "ours2": ours2["score2"], "ours_within2": ours2["within2"], "naive2": naive2["score2"],
               "naive_within2": naive2["within2"],
               **lm_choice(loop.info), "warp_bpm": loop.info.get("warp_bpm"),
               "ending_seam_scores": loop.info.get("ending_seam_scores"),
               "seconds": round(time.time() - t, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = summarize(rows, {"loops": len(rows), "bars": args.bars, "model": args.model,
                               "candidates": args.candidates, "seam_check": not args.no_seam_check,
                               "takes": args.takes, "warp": not args.no_warp,
                               "seam_threshold": args.seam_threshold,
                               "seconds_per_loop": round((time.time() - t0) / len(rows), 1)})
    print(json.dumps(summary, indent=1))
    if args.json:
        from tonecraft.fileio import atomic_write_json

        atomic_write_json(args.json, {"summary": summary, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
