"""The evaluation's results as a text table (`format_report`) and as JSON (`write_json`)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..fileio import atomic_write_text


def _f(v, fmt="{:.2f}") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return fmt.format(v)


def format_report(res: dict) -> str:
    lines = []
    c = res.get("codec")
    if c:
        lines += [f"Codec reconstruction ({c['n_clips']} held-out clips, 32 kHz)",
                  f"  {'system':<22}{'kbps':>7}{'SI-SNR dB':>12}{'mel L1':>9}{'msspec':>9}   (mean; median SI-SNR)"]
        for k, v in c.items():
            if not isinstance(v, dict) or "sisnr" not in v:
                continue
            name = "ours" if k == "codec" else k
            lines.append(f"  {name[:22]:<22}{_f(v.get('kbps'), '{:.2f}'):>7}{_f(v['sisnr']['mean']):>12}"
                         f"{_f(v['mel']['mean'], '{:.3f}'):>9}{_f(v['msspec']['mean'], '{:.3f}'):>9}"
                         f"   ({_f(v['sisnr']['median'])})")
        if "codec" in c:
            lines.append(f"  ours = {c['codec'].get('name')} ({c['codec']['n_q']} codebooks, "
                         f"{c['codec']['frame_rate']:g} Hz frames)" + ("; libopus does not go below 6 kbps"
                                                                       if any(k.startswith("opus") for k in c) else ""))
        if "opus_skipped" in c:
            lines.append(f"  Opus skipped: {c['opus_skipped']}")
    p = res.get("probe", {})
    if p:
        lines.append(f"Probe (linear, LM-independent features, {p['feature_seconds']:g} s crops; trained and checked "
                     f"on {p.get('domain', 'raw real clips')})")
        lines.append(f"  {'task':<8}{'clips':<19}{'n':>5}{'acc':>8}{'bal.acc':>9}{'majority':>10}{'uniform':>9}")
        for task in ("family", "tempo"):
            tr = p.get("train", {}).get(task, {})
            if "cv_accuracy" in tr:
                lines.append(f"  {task:<8}{'train CV':<19}{tr['n_train']:>5}{_f(tr['cv_accuracy']):>8}")
            for where in ("real_heldout", "real_same_captions", "generated"):
                s = p.get(where, {}).get(task)
                if s and s.get("n"):
                    lines.append(f"  {task:<8}{where:<19}{s['n']:>5}{_f(s['accuracy']):>8}"
                                 f"{_f(s['balanced_accuracy']):>9}{_f(s['chance_majority']):>10}"
                                 f"{_f(s['chance_uniform']):>9}")
    t = res.get("tempo", {})
    if t:
        lines.append("Tempo (librosa beat_track vs caption bpm)")
        lines.append(f"  {'clips':<19}{'n':>5}{'med|err| bpm':>14}{'+-8%':>7}{'octave':>8}{'metrical':>10}"
                     f"{'spearman':>10}")
        for where, s in t.items():
            if s.get("n"):
                lines.append(f"  {where:<19}{s['n']:>5}{_f(s['median_abs_error_bpm'], '{:.1f}'):>14}"
                             f"{_f(s['within_8pct']):>7}{_f(s['within_8pct_octave']):>8}"
                             f"{_f(s['within_8pct_metrical']):>10}{_f(s.get('spearman_r')):>10}")
    w = res.get("tempo_words")
    if w:
        lines.append(f"Tempo words ({w['n_pairs']} captions as 'Slow ...' / 'Fast ...', same seed): fast clip faster "
                     f"in {_f(w['fast_faster'])} of pairs (chance 0.5); median bpm slow {_f(w['median_bpm_slow'], '{:.0f}')}"
                     f", fast {_f(w['median_bpm_fast'], '{:.0f}')}")
    g = res.get("generation")
    if g:
        lines.append(f"Generation: {g['n']} clips x {g['duration']:g} s in {g['seconds']:.0f} s "
                     f"({g['seconds_per_clip']:.1f} s/clip), cfg {g['cfg_coef']}, top_k {g['top_k']}"
                     + (f"; {g['stopped']}" if g.get("stopped") else ""))
    lines.append(f"Total {res.get('total_seconds', 0):.0f} s")
    return "\n".join(lines)


def write_json(path: str | os.PathLike, res: dict) -> Path:
    return atomic_write_text(path, json.dumps(res, indent=2, default=float) + "\n")
