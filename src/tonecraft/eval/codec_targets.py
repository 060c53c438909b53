"""Issue 18's codec targets in one measure: does a codec keep what a listener (and the instrument probe) hears?

For real held-out clips, raw and through each codec:
- the instrument-family probe, trained on *raw* train clips: its accuracy through the codec as a share of its
  accuracy on the raw clips (target >= 0.90: the codec keeps the timbre that tells the instruments apart);
  and a probe trained on train clips *through the codec* (what is still there to tell apart, however changed:
  the ceiling of an LM on the codec's tokens), its accuracy on the coded held-out clips as a share of the raw one;
- onsets per second (librosa `onset_detect`, as in the probe features) through the codec vs raw, per clip
  (target within 15 %: no smeared or spurious attacks);
- SI-SNR and the log-mel distance of the round trip (target SI-SNR >= 6 dB).
Stationary tonal artefacts, the fourth target, are `bench/codec_tonal.py`.
"""
from __future__ import annotations

import numpy as np

from ..audio import load_audio
from .codec_metrics import ReconstructionMetrics, codec_roundtrip
from .features import SAMPLE_RATE, probe_features_and_bpm
from .labels import Clip
from .paraphrases import onset_stats
from .runner import score_probes, train_probes

TASK = "family"


def heldout_rows(clips: list[Clip], codecs: dict, seconds: float) -> dict[str, dict]:
    """Probe features and onset rates of `clips` raw (key "raw") and through each codec, with the round trip's
    reconstruction metrics: {name: {"X": [N, D], "onsets_per_s": [N], "metrics": [row per clip]}}."""
    metrics = ReconstructionMetrics(SAMPLE_RATE)
    out = {name: {"X": [], "metrics": []} for name in ("raw", *codecs)}
    for clip in clips:
        wav, _ = load_audio(clip.path, sample_rate=SAMPLE_RATE, channels=1, duration=seconds)
        x = wav[0].numpy()
        out["raw"]["X"].append(probe_features_and_bpm(x, SAMPLE_RATE)[0])
        for name, codec in codecs.items():
            y = codec_roundtrip(codec, x, SAMPLE_RATE)
            out[name]["X"].append(probe_features_and_bpm(y, SAMPLE_RATE)[0])
            out[name]["metrics"].append(metrics(x, y))
    for row in out.values():
        row["X"] = np.stack(row["X"]) if row["X"] else np.zeros((0, 1), np.float32)
        row["onsets_per_s"] = onset_stats(row["X"])[1]
    return out


def probe_accuracy(probe, X: np.ndarray, clips: list[Clip]) -> dict:
    """The instrument probe's scores on features `X` of `clips` (`runner.score_probes`)."""
    return score_probes({TASK: probe}, X, clips)[TASK]


def onset_comparison(raw: np.ndarray, coded: np.ndarray, tolerance: float = 0.15) -> dict:
    """Per-clip onset-rate ratio codec / raw (clips with at least one raw onset per second)."""
    sel = raw >= 1.0
    ratio = coded[sel] / raw[sel]
    return {"n": int(sel.sum()), "median_raw": float(np.median(raw)) if raw.size else None,
            "median_codec": float(np.median(coded)) if coded.size else None,
            "median_ratio": float(np.median(ratio)) if ratio.size else None,
            "share_within": float(np.mean(np.abs(ratio - 1) <= tolerance)) if ratio.size else None,
            "tolerance": tolerance}


def measure(codecs: dict, train_clips: list[Clip], heldout: list[Clip], seconds: float,
            min_class_count: int = 10, codec_trained: bool = True) -> dict:
    """The report: the raw-trained probe's raw accuracy, and per codec its accuracy, keep ratio, the codec-trained
    probe's accuracy and keep ratio (`codec_trained`), onsets and reconstruction metrics (medians over clips)."""
    probes, info = train_probes(train_clips, seconds, None, min_class_count)
    if TASK not in probes:
        raise ValueError(f"no instrument probe: {info.get(TASK)}")
    probe = probes[TASK]
    rows = heldout_rows(heldout, codecs, seconds)
    raw = probe_accuracy(probe, rows["raw"]["X"], heldout)
    report = {"probe": {"n_train": info[TASK]["n_train"], "cv_accuracy": info[TASK]["cv_accuracy"]},
              "raw": raw, "codecs": {}}
    for name in codecs:
        acc = probe_accuracy(probe, rows[name]["X"], heldout)
        report["codecs"][name] = {
            "probe": acc,
            "probe_keep": acc["accuracy"] / raw["accuracy"] if raw.get("accuracy") else None,
            "onsets": onset_comparison(rows["raw"]["onsets_per_s"], rows[name]["onsets_per_s"]),
            **{k: float(np.median([m[k] for m in rows[name]["metrics"]])) for k in ("sisnr", "mel")},
        }
        if codec_trained:
            through = train_probes(train_clips, seconds, codecs[name], min_class_count)[0].get(TASK)
            acc = probe_accuracy(through, rows[name]["X"], heldout) if through is not None else {"n": 0}
            report["codecs"][name]["codec_trained_probe"] = acc
            report["codecs"][name]["codec_trained_keep"] = (acc["accuracy"] / raw["accuracy"]
                                                            if acc.get("n") and raw.get("accuracy") else None)
    return report


def format_table(report: dict) -> str:
    raw = report["raw"]
    lines = [f"instrument probe on {raw['n']} raw held-out clips: accuracy {raw['accuracy']:.3f} "
             f"(balanced {raw['balanced_accuracy']:.3f}; chance {raw['chance_majority']:.3f})", "",
             "| codec | probe accuracy (balanced) | keeps (target >= 0.90) | probe trained through the codec: "
             "accuracy, keeps | onsets/s raw -> codec, median ratio | clips within 15 % | SI-SNR dB (target >= 6) | "
             "mel |",
             "| --- | --- | ---: | --- | --- | ---: | ---: | ---: |"]
    for name, r in report["codecs"].items():
        o, t = r["onsets"], r.get("codec_trained_probe", {})
        through = f"{t['accuracy']:.3f}, {r['codec_trained_keep']:.2f}" if t.get("n") else "-"
        lines.append(f"| {name} | {r['probe']['accuracy']:.3f} ({r['probe']['balanced_accuracy']:.3f}) | "
                     f"{r['probe_keep']:.2f} | {through} | {o['median_raw']:.2f} -> {o['median_codec']:.2f}, "
                     f"{o['median_ratio']:.2f} | {o['share_within']:.2f} | {r['sisnr']:.2f} | {r['mel']:.3f} |")
    return "\n".join(lines)
