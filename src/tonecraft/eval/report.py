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
        lines += [f"Codec reconstruction ({c['n_clips']} held-out clips, {c.get('sample_rate', 32_000) / 1000:g} kHz)",
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
            for where in ("real_heldout", "real_same_captions", "generated", "generated_watermarked", "paraphrases"):
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
        slow = t.get("real_heldout", {}).get("slow_captions", {})
        if slow.get("n"):
            lines.append(f"  real held-out clips captioned <= {slow['prompt_max_bpm']:g} bpm (n {slow['n']}; the slow "
                         f"test's ceiling): measured <= {slow['measured_max_bpm']:g} bpm "
                         f"{_f(slow['share_measured_slow'])}, allowing an octave error "
                         f"{_f(slow['share_measured_slow_octave'])}; median estimate "
                         f"{_f(slow['median_estimated_bpm'], '{:.0f}')} bpm")
    w = res.get("tempo_words")
    if w:
        lines.append(f"Tempo words ({w['n_pairs']} captions as 'Slow ...' / 'Fast ...', same seed): fast clip faster "
                     f"in {_f(w['fast_faster'])} of pairs (chance 0.5); median bpm slow {_f(w['median_bpm_slow'], '{:.0f}')}"
                     f", fast {_f(w['median_bpm_fast'], '{:.0f}')}")
    m = res.get("watermark_check")
    if m:
        lines.append(f"Watermark on the generated clips: SNR {_f(m['snr_db_min'], '{:.1f}')} dB min, "
                     f"{_f(m['snr_db_median'], '{:.1f}')} median; probe predictions changed by the mark: "
                     + ", ".join(f"{t} {_f(v)}" for t, v in m["prediction_changed"].items()))
    if res.get("paraphrases"):
        lines += format_paraphrases(res["paraphrases"])
    g = res.get("generation")
    if g:
        lines.append(f"Generation: {g['n']} clips x {g['duration']:g} s in {g['seconds']:.0f} s "
                     f"({g['seconds_per_clip']:.1f} s/clip), cfg {g['cfg_coef']}, top_k {g['top_k']}"
                     + (f"; {g['stopped']}" if g.get("stopped") else ""))
    lines.append(f"Total {res.get('total_seconds', 0):.0f} s")
    return "\n".join(lines)


def format_paraphrases(r: dict) -> list[str]:
    """The "Paraphrases" block: family probe vs its ceiling with per-family recall, slow prompts, onsets."""
    read = r.get("bpm_read_by_conditioner", {})
    g = r.get("generation", {})
    seeds = f"{r['seeds']} seed{'s' if r['seeds'] != 1 else ''}"
    lines = [f"Paraphrases ({r['n_prompts']} free-language prompts x {seeds} from {r['file']}; "
             f"{g.get('n', 0)} clips in {g.get('seconds', 0):.0f} s; stated bpm read as a number by the tempo "
             f"conditioning in {read.get('read', 0)}/{read.get('stated', 0)})",
             f"  family accuracy {_f(r.get('accuracy'))} = {_f(r.get('fraction_of_ceiling'))} of the probe ceiling "
             f"{_f(r.get('ceiling_accuracy'))} (balanced {_f(r.get('balanced_accuracy'))} = "
             f"{_f(r.get('fraction_of_ceiling_balanced'))} of {_f(r.get('ceiling_balanced_accuracy'))})"]
    recall, ceiling = r.get("family_recall", {}), r.get("ceiling_recall", {})
    if recall:
        lines.append("  recall per family (ceiling): " + ", ".join(
            f"{fam} {_f(v)} ({_f(ceiling.get(fam))})" for fam, v in recall.items()))
    if r.get("unscored"):
        lines.append("  not scored (the probe has no such class): " + ", ".join(
            f"{fam} {n}" for fam, n in r["unscored"].items()))
    s, f = r.get("slow_prompts", {}), r.get("fast_prompts", {})
    if s.get("n"):
        lines.append(f"  slow prompts (<= {s['prompt_max_bpm']:g} bpm, n {s['n']}): measured <= "
                     f"{s['measured_max_bpm']:g} bpm {_f(s['share_measured_slow'])}, allowing an octave error "
                     f"(estimate / 2 <= {s['measured_max_bpm']:g}) {_f(s['share_measured_slow_octave'])}; "
                     f"median estimate {_f(s['median_estimated_bpm'], '{:.0f}')} bpm, no beat {s['no_beat']}")
    if f.get("n"):
        lines.append(f"  control, fast prompts (>= {f['prompt_min_bpm']:g} bpm, n {f['n']}): measured <= "
                     f"{f['measured_max_bpm']:g} bpm {_f(f.get('share_measured_slow'))}, allowing an octave error "
                     f"{_f(f.get('share_measured_slow_octave'))}; median estimate "
                     f"{_f(f['median_estimated_bpm'], '{:.0f}')} bpm")
    o = r.get("onsets", {})
    if o:
        p, q = o.get("percussive", {}), o.get("sustained", {})
        lines.append(f"  onsets (median): strength percussive {_f(p.get('median_onset_strength'))} (n {p.get('n', 0)})"
                     f" vs sustained {_f(q.get('median_onset_strength'))} (n {q.get('n', 0)}), ratio "
                     f"{_f(o.get('strength_ratio'))}; onsets/s {_f(p.get('median_onsets_per_s'), '{:.1f}')} vs "
                     f"{_f(q.get('median_onsets_per_s'), '{:.1f}')}")
    return lines


def write_json(path: str | os.PathLike, res: dict) -> Path:
    return atomic_write_text(path, json.dumps(res, indent=2, default=float) + "\n")


# -- sound effects (eval/sfx.py) ------------------------------------------------------------------------------

def format_sfx_markdown(res: dict) -> str:
    """The SFX evaluation as markdown tables, ready for a model card (only the parts that ran)."""
    out = []
    c = res.get("codec")
    if c:
        out += [f"**Codec on held-out clips** ({c['n_clips']} clips of the {res['corpus']['heldout_split']} split, "
                f"{c.get('sample_rate', 16_000) / 1000:g} kHz mono; mean, median SI-SNR in brackets)", "",
                "| system | kbps | SI-SNR (dB) | mel distance | multi-scale mel |",
                "| --- | ---: | ---: | ---: | ---: |"]
        for k, v in c.items():
            if isinstance(v, dict) and "sisnr" in v:
                name = f"ours ({v.get('n_q')} codebooks, {_f(v.get('frame_rate'), '{:g}')} Hz)" if k == "codec" \
                    else k.replace("_", " ")
                out.append(f"| {name} | {_f(v.get('kbps'))} | {_f(v['sisnr']['mean'])} ({_f(v['sisnr']['median'])}) "
                           f"| {_f(v['mel']['mean'], '{:.3f}')} | {_f(v['msspec']['mean'], '{:.3f}')} |")
        for kind, v in c.get("by_source", {}).items():
            out.append(f"| ours, {kind} clips only ({v['n']}) | {_f(v.get('kbps'))} | {_f(v['sisnr']['mean'])} "
                       f"({_f(v['sisnr']['median'])}) | {_f(v['mel']['mean'], '{:.3f}')} "
                       f"| {_f(v['msspec']['mean'], '{:.3f}')} |")
        if "opus_skipped" in c:
            out.append(f"\nOpus skipped: {c['opus_skipped']}")
        for kind, v in c.get("shift_agreement", {}).items():
            per = ", ".join(f"{x:.2f}" for x in v["per_codebook"])
            out.append(f"\nTokens kept when the {kind} clips are delayed {v['shift']} samples ({v['n_frames']} active "
                       f"frames of {v['n_clips']} clips), per codebook: {per}")
        out.append("")
    ce = res.get("ce")
    if ce and ce.get("n_clips"):
        out += [f"**LM cross-entropy on held-out clips** ({ce['n_clips']} clips, first {ce['segment_duration']:g} s, "
                f"{ce['n_tokens']} tokens; nats per token, mean over codebooks)", "",
                "| prompt | cross-entropy | perplexity |", "| --- | ---: | ---: |",
                f"| the clip's caption | {_f(ce['ce'], '{:.3f}')} | {_f(ce.get('ppl'), '{:.1f}')} |"]
        if "ce_null" in ce:
            ppl_null = math.exp(min(ce["ce_null"], 50.0))
            out += [f"| empty prompt | {_f(ce['ce_null'], '{:.3f}')} | {_f(ppl_null, '{:.1f}')} |",
                    f"| gain from the caption | {_f(ce['cond_gain'], '{:+.3f}')} | |"]
        out.append("")
    p = res.get("probe", {})
    ceiling = p.get("real", {}).get("ceiling")
    gen = p.get("generated")
    if p.get("real", {}).get("skipped"):
        out += [f"Category probe skipped: {p['real']['skipped']}", ""]
    if ceiling:
        out += [f"**Category probe** (linear, LM-independent log-mel + envelope features, {p['window_s']:g} s window; "
                f"trained on {p['real']['n']} {p['domain']} ({p['splits']}"
                + "".join(f" + all of {Path(e).name}" for e in p.get("extra", []))
                + f"), {p['real']['folds']}-fold CV by source recording = its ceiling)", "",
                "| clips | n | accuracy | balanced accuracy | chance (uniform) | chance (majority) |",
                "| --- | ---: | ---: | ---: | ---: | ---: |",
                _probe_row(f"real{' via codec' if 'codec' in p['domain'] else ''} (CV ceiling)", ceiling)]
        if gen:
            out.append(_probe_row("generated from held-out captions", gen))
        out.append("")
        lasers = p["real"].get("real_lasers")
        if lasers and lasers.get("n"):
            out += [f"Real recorded lasers among the probe's clips (caption names a laser, plasma, phaser, pulse gun, "
                    f"energy weapon or blaster; CV predictions): {lasers['weapon']} of {lasers['n']} filed as weapon ("
                    + ", ".join(f"{k} {v}" for k, v in lasers["filed_as"].items()) + ")", ""]
        if gen and gen.get("top_confusions"):
            out += ["Most frequent confusions on generated clips (caption's category -> probe): " + ", ".join(
                f"{t} -> {q} ({n})" for t, q, n in gen["top_confusions"]), ""]
    rows = res.get("per_category")
    if rows:
        out += [f"**Per category** (recall of the probe; envelope medians in the window, {p.get('domain', 'real')} "
                "vs generated: active seconds, onsets per second, decay seconds)", "",
                "| category | real n | ceiling | gen n | generated | active s real / gen | onsets/s real / gen "
                "| decay s real / gen |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for cat, r in rows.items():
            out.append(f"| {cat} | {r['n_real']} | {_f(r['ceiling_recall'])} | {r['n_generated']} "
                       f"| {_f(r['generated_recall'])} | {_f(r['real_active_s'])} / {_f(r['generated_active_s'])} "
                       f"| {_f(r['real_onsets_per_s'], '{:.1f}')} / {_f(r['generated_onsets_per_s'], '{:.1f}')} "
                       f"| {_f(r['real_decay_s'])} / {_f(r['generated_decay_s'])} |")
        out.append("")
    cmp_ = res.get("envelope", {}).get("compare")
    if cmp_:
        out += ["**Length-appropriateness** (generated clips whose statistic lies in the 10-90 % range of real clips "
                "of their category; rank correlation of the category medians, real vs generated)", "",
                "| statistic | in range | Spearman r (categories) |", "| --- | ---: | ---: |"]
        for s, v in cmp_.items():
            out.append(f"| {s} | {_f(v.get('in_range'))} | {_f(v.get('spearman_r'))} |")
        out.append("")
    g = res.get("generation")
    if g:
        out += [f"Generated {g['n']} clips ({g['captions']} captions x {g['seeds']} seeds) of {g['duration']:g} s in "
                f"{g['seconds']:.0f} s, cfg {g['cfg_coef']}, top_k {g['top_k']}"
                + (f"; {g['stopped']}" if g.get("stopped") else ""), ""]
    out += _sfx_prompt_lines(res.get("prompts"))
    out += _sfx_glide_lines(res.get("glide"))
    for s in res.get("speed", []):
        out += [f"**Speed**: {s['seconds_of_audio']:g} s of sound in {s['wall_s']:.2f} s wall, "
                f"{_f(s.get('cpu_s'))} s CPU ({s['dtype']}, "
                f"{s['threads']} thread(s), median of {len(s['runs'])}; target <= {s['target_s']:g} s: "
                f"{'met' if s['meets_target'] else 'not met'}; "
                f"load average {_f((s.get('load_average') or [None])[0])})", ""]
    return "\n".join(out).rstrip() + "\n"


def _sfx_glide_lines(gl: dict | None) -> list[str]:
    """The pitch-sweep table of the SFX evaluation (`eval.sfx.glide_part`)."""
    if not gl:
        return []

    def cell(row: dict | None) -> str:
        if not row:
            return "-"
        tonal = f" (tonal {row['sweeps_tonal']})" if "sweeps_tonal" in row else ""
        return f"{row['sweeps']}/{row['n']}{tonal}"

    out = [f"**Pitch sweeps** (sounds that slide >= 4 semitones in pitch, `eval.glide`; in brackets its tonal "
           f"reading, made for decoded audio; generated clips {gl['window_s']:g} s)", "",
           "| held-out clips of | raw | through the codec | generated from their captions |",
           "| --- | ---: | ---: | ---: |"]
    for g, row in gl["by_generator"].items():
        out.append(f"| {g} | {cell(row.get('raw'))} | {cell(row.get('codec'))} | {cell(row.get('generated'))} |")
    for key, what in (("laser_prompts", "Free laser prompts"),
                      ("control_prompts", "Controls, prompts without a glide")):
        lp = gl.get(key)
        if lp:
            tonal = f" (tonal reading {lp['sweeps_tonal']})" if "sweeps_tonal" in lp else ""
            out += ["", f"{what} ({', '.join(repr(p) for p in lp['prompts'])}, {lp['seeds']} seeds each): "
                        f"{lp['sweeps']}/{lp['n']} sweep{tonal}"]
    return out + [""]


def _sfx_prompt_lines(pr: dict | None) -> list[str]:
    """The free-language prompt table of the SFX evaluation (`eval.sfx_prompts.prompt_summary`)."""
    if not pr:
        return []
    out = [f"**Free-language prompts** (`{pr['file']}`, {pr['seeds']} seeds each; the category probe on "
           f"{pr['n_scored']} scored clips: accuracy {_f(pr['accuracy'])}, balanced {_f(pr['balanced_accuracy'])}"
           + (f"; not scored, the probe does not know: {', '.join(pr['unscored'])}" if pr["unscored"] else "")
           + ")", "", "| prompt | category | recognised | the probe heard |", "| --- | --- | ---: | --- |"]
    for r in pr["prompts"]:
        heard = ", ".join(f"{k} {v}" for k, v in r["heard"])
        recognised = f"{r['hits']}/{r['n']}" if r["scored"] else "-"
        out.append(f"| {r['prompt']} | {r['category']} | {recognised} | {heard} |")
    out += ["", "| category | clips | recall |", "| --- | ---: | ---: |"]
    out += [f"| {k} | {v['n']} | {_f(v['recall'])} |" for k, v in pr["categories"].items()]
    return out + [""]


def _probe_row(name: str, s: dict) -> str:
    return (f"| {name} | {s['n']} | {_f(s['accuracy'])} | {_f(s['balanced_accuracy'])} | {_f(s['chance_uniform'])} "
            f"| {_f(s['chance_majority'])} |")
