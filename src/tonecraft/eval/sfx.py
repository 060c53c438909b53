"""The measured quality of a sound-effects codec + LM on the SFX corpus (issue 15, "Measured").

Parts (`SfxEvalConfig.parts`), each on held-out clips (never trained on):
1. `codec`: SI-SNR / mel distance of the codec round trip next to Opus at 6 kbps on the same clips (16 kHz), and
   the tokens' shift agreement (`token_stability`: same tokens for the clip a millisecond later?);
2. `ce`: teacher-forced cross-entropy of the LM on the held-out clips with their captions vs the empty
   prompt (`lm_ce`, the trainer's validation);
3. `probe`: the category probe (`sfx_probe`) trained on real held-out clips through the codec (its
   cross-validated accuracy is the ceiling), run on clips generated from held-out captions and, with
   `prompts`, from a file of freely phrased prompts (`sfx_prompts`);
4. `envelope`: energy-envelope statistics (`envelope`) per category, generated vs real, in the same window;
5. `speed`: wall time to generate `speed_seconds` of sound (`tonecraft sfx`'s path: one thread for a small LM);
6. `glide`: the share of sounds that slide in pitch (`glide.pitch_glide`) among the held-out synthesiser lasers,
   jumps and power-ups: raw, through the codec, generated from their captions, and generated from a few free
   laser prompts (`GLIDE_PROMPTS`): what makes a laser a laser and not a gunshot. Each count comes with the tonal
   reading made for decoded audio, and prompts for sounds without a glide (`GLIDE_CONTROL_PROMPTS`) are
   generated the same way as controls.
Seeded and deterministic for a given corpus, models and settings; `bench/eval_sfx.py` is the command line.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..audio import load_audio
from ..errors import ConfigError
from . import classifier as clf
from .envelope import compare, summarize_by_category
from .glide import pitch_glides
from .token_stability import shift_agreement
from .labels import Clip
from .sfx_prompts import load_sfx_prompts, prompt_summary
from .sfx_probe import SAMPLE_RATE, category, clip_features, laser_recognition, load_sfx_clips, source_group, \
    stratified, train_category_probe

PARTS = ("codec", "ce", "probe", "envelope", "speed", "glide")
GLIDE_GENERATORS = ("laser", "zap", "jump", "powerup")
GLIDE_PROMPTS = ("a laser shot", "pew pew laser gun", "a sci-fi laser zap")
# controls: prompts for sounds without a pitch glide, generated the same way (what either reading calls a sweep
# here is a false alarm)
GLIDE_CONTROL_PROMPTS = ("heavy rain on a tin roof", "footsteps on gravel", "a loud explosion", "a car engine idling")
GLIDE_SECONDS = 2.0  # the synthesiser's sweeps last 0.1-0.8 s
SPEED_TARGET_S = 2.0
SPEED_PROMPT = "a laser shot"


@dataclass
class SfxEvalConfig:
    corpus: str                          # `tonecraft corpus sfx --out` folder (train/valid/test.jsonl)
    model: str | None = None             # LM export folder / shipped name / LM checkpoint.pt; None: no LM parts
    codec: str | None = None             # codec folder / name / codec checkpoint.pt; None: the model's codec
    parts: list[str] = field(default_factory=lambda: list(PARTS))
    max_clips: int | None = None         # held-out clips per part (codec, ce, generation captions); None: all
    seeds: int = 1                       # generated clips per caption (seed, seed + 1, ...)
    duration: float = 5.0                # generated length = measurement window of probe and envelope (s)
    heldout_split: str = "test"          # clips of the codec and ce parts, captions of the generated clips
    probe_splits: str = "valid,test"     # real clips the probe is trained and cross-validated on
    probe_clips: int | None = None       # at most this many of them (stratified by category); None: all
    probe_extra: list[str] = field(default_factory=list)  # more corpora whose every clip the probe learns from:
    #                                      recordings the LM never trained on (e.g. the arcade packages' lasers)
    min_class_count: int = 5             # categories with fewer real probe clips are left out
    folds: int = 5
    opus_kbps: list[float] = field(default_factory=lambda: [6.0])
    batch_size: int = 8
    seed: int = 0
    top_k: int | None = None             # None: the model's
    temperature: float | None = None     # None: the model's
    cfg_coef: float | None = None        # None: the model's
    time_budget_s: float | None = None   # stop generating new batches after this long (reported)
    save_audio_dir: str | None = None
    ce_cache: str | None = None          # token cache of the held-out clips (else encoded into a temp folder)
    ce_seconds: float | None = None      # CE on the first this many seconds of each clip; None: the model's window
    speed_seconds: float = 5.0
    speed_runs: int = 3
    speed_dtypes: list[str] = field(default_factory=lambda: ["float32"])
    prompts: str | None = None           # free-language prompt file (`sfx_prompts`), scored by the probe
    prompt_seeds: int = 2                # clips per prompt


def _log(msg: str) -> None:
    print(msg, flush=True)


def load_sfx_model(spec: str, codec_spec: str | None = None):
    """AudioGen / MusicGen from an export folder or name (`models.load_model`), or an LM training checkpoint
    (`.pt`); `codec_spec`: the codec its tokens came from, when the folder's own reference does not resolve here
    (an export records its training codec's path as given to the trainer)."""
    from .runner import load_lm_checkpoint

    if Path(spec).is_file() and Path(spec).suffix == ".pt":
        return load_lm_checkpoint(spec, codec_spec)
    from ..models import load_model

    return load_model(spec, **({"codec": codec_spec} if codec_spec else {}))


def _real_features(clips: list[Clip], codec, seconds: float) -> tuple[np.ndarray, list[dict]]:
    """Probe features and envelope statistics of real clips (through `codec` when given)."""
    from .codec_metrics import codec_roundtrip

    X, env = [], []
    for c in clips:
        wav, _ = load_audio(c.path, sample_rate=SAMPLE_RATE, channels=1, duration=seconds)
        x = wav[0].numpy()
        if codec is not None:
            x = codec_roundtrip(codec, x, SAMPLE_RATE)
        f, e = clip_features(x, SAMPLE_RATE, seconds)
        X.append(f)
        env.append(e)
    return (np.stack(X) if X else np.zeros((0, 1), np.float32)), env


def generate_for_captions(model, clips: list[Clip], cfg: SfxEvalConfig) -> tuple[list[np.ndarray], list[Clip], dict]:
    """`cfg.seeds` clips per caption (`runner.generate_clips`, seeds seed + 1000 * s + batch), within the
    time budget."""
    from .runner import generate_clips

    audio, done, infos, t0 = [], [], [], time.perf_counter()
    for s in range(cfg.seeds):
        left = None if cfg.time_budget_s is None else cfg.time_budget_s - (time.perf_counter() - t0)
        if left is not None and left <= 0 and done:
            break
        sub = replace(cfg, seed=cfg.seed + 1000 * s, time_budget_s=left,
                      save_audio_dir=str(Path(cfg.save_audio_dir) / f"seed{s}") if cfg.save_audio_dir else None)
        a, d, info = generate_clips(model, clips, sub)
        audio += a
        done += d
        infos.append(info)
        if info.get("stopped"):
            break
    el = time.perf_counter() - t0
    info = {**infos[-1], "n": len(done), "captions": len(clips), "seeds": len(infos), "seconds": el,
            "seconds_per_clip": el / max(len(done), 1)}
    if len(infos) < cfg.seeds or infos[-1].get("stopped"):
        info["stopped"] = infos[-1].get("stopped") or f"time budget reached after {len(infos)} seed(s)"
    return audio, done, info


def time_generation(model, seconds: float = 5.0, runs: int = 3, dtype: str = "float32",
                    prompt: str = SPEED_PROMPT) -> dict:
    """Wall time of `model.generate([prompt])` for `seconds` of sound, as `tonecraft sfx` runs it (one thread
    for a small LM, `genmodel.tune_cpu_threads`; `dtype` "int8": the int8 decoding fast path where the CPU has
    it). One warm-up run of 1 s, then the median of `runs`. Changes the model's decoding for int8."""
    from ..models.genmodel import tune_cpu_threads

    threads = torch.get_num_threads()
    try:
        tune_cpu_threads(model)
        if dtype == "int8":
            model.lm.optimize_decoding(dtype="int8")
        elif dtype != "float32":
            raise ConfigError(f"speed dtype {dtype!r}: use float32 or int8")
        model.set_generation_params(duration=1.0)
        with torch.inference_mode():
            model.generate([prompt], seed=0)
            model.set_generation_params(duration=seconds)
            times, cpu = [], []
            for r in range(runs):
                t0, c0 = time.perf_counter(), time.process_time()
                model.generate([prompt], seed=r)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        wall = float(np.median(times))
        # CPU seconds of this process: on a busy machine (training alongside) the wall time of an idle one is
        # closer to this than to the wall time measured
        return {"dtype": dtype, "seconds_of_audio": seconds, "wall_s": wall, "min_s": float(min(times)),
                "cpu_s": float(np.median(cpu)), "runs": times, "cpu_runs": cpu, "realtime_factor": seconds / wall,
                "target_s": SPEED_TARGET_S,
                "meets_target": wall <= SPEED_TARGET_S, "threads": torch.get_num_threads(),
                "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    finally:
        torch.set_num_threads(threads)


def per_category(ceiling: dict | None, generated: dict | None, env_real: dict, env_gen: dict) -> dict:
    """One row per category: ceiling recall (real via codec, CV), generated recall, envelope medians."""
    cats = sorted(set(env_real) | set(env_gen) | set((ceiling or {}).get("recall", {})))
    rows = {}
    for c in cats:
        r, g = env_real.get(c, {}), env_gen.get(c, {})
        rows[c] = {"n_real": r.get("n", 0), "n_generated": g.get("n", 0),
                   "ceiling_recall": (ceiling or {}).get("recall", {}).get(c),
                   "generated_recall": (generated or {}).get("recall", {}).get(c),
                   **{f"real_{k}": r.get(k) for k in ("active_s", "span_s", "onsets_per_s", "decay_s")},
                   **{f"generated_{k}": g.get(k) for k in ("active_s", "span_s", "onsets_per_s", "decay_s")}}
    return rows


def run_sfx(cfg: SfxEvalConfig) -> dict:
    unknown = sorted(set(cfg.parts) - set(PARTS))
    if unknown:
        raise ConfigError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if not (Path(cfg.corpus) / f"{cfg.heldout_split.split(',')[0]}.jsonl").is_file():
        raise ConfigError(f"{cfg.corpus}: no {cfg.heldout_split}.jsonl (give the folder of `tonecraft corpus sfx`)")
    torch.manual_seed(cfg.seed)
    t_start = time.perf_counter()
    res: dict = {"config": asdict(cfg), "versions": {"torch": torch.__version__}}
    held = load_sfx_clips(cfg.corpus, cfg.heldout_split)
    if not held:
        raise ConfigError(f"{cfg.corpus}: no {cfg.heldout_split} clips with a caption and a category")
    res["corpus"] = {"path": str(cfg.corpus), "heldout_split": cfg.heldout_split, "heldout_clips": len(held)}
    prompts = load_sfx_prompts(cfg.prompts) if cfg.prompts else None  # a bad file fails before any work
    model = None
    lm_parts = {"ce", "probe", "envelope", "speed", "glide"} & set(cfg.parts)
    if cfg.model and lm_parts:
        _log(f"loading model {cfg.model}")
        model = load_sfx_model(cfg.model, cfg.codec)
        res["model"] = {"path": str(cfg.model), "name": getattr(model, "name", None),
                        "sample_rate": model.sample_rate, "frame_rate": model.frame_rate,
                        "lm_params": sum(p.numel() for p in model.lm.parameters())}
    from .runner import evaluate_codec, load_eval_codec

    codec = load_eval_codec(cfg.codec, model)

    if "codec" in cfg.parts and codec is None:
        _log("codec part skipped: give --codec (or a --model, whose codec is used)")
    if "codec" in cfg.parts and codec is not None:
        clips = stratified(held, cfg.max_clips, cfg.seed)
        _log(f"codec vs Opus on {len(clips)} held-out clips")
        t0 = time.perf_counter()
        res["codec"] = evaluate_codec(codec, clips, cfg.opus_kbps, sample_rate=SAMPLE_RATE)
        # recorded vs procedural clips apart: the synthesiser's tonal sweeps and chimes are what a small codec
        # smears into noise first
        res["codec"]["by_source"] = {kind: evaluate_codec(codec, sub, (), sample_rate=SAMPLE_RATE)["codec"]
                                     for kind in ("debian", "procedural")
                                     if (sub := [c for c in clips if _source_kind(c) == kind])}
        # does the same sound, a millisecond later, give the same tokens? (token_stability: an LM can only learn
        # a tonal sound whose tokens follow the sound, not its phase)
        res["codec"]["shift_agreement"] = {kind: shift_agreement(codec, [
            load_audio(c.path, sample_rate=codec.sample_rate, channels=1)[0][0].numpy() for c in sub])
            for kind in ("debian", "procedural") if (sub := [c for c in clips if _source_kind(c) == kind])}
        res["codec"]["seconds"] = time.perf_counter() - t0

    if "ce" in cfg.parts and model is not None:
        clips = stratified(held, cfg.max_clips, cfg.seed)
        _log(f"LM cross-entropy on {len(clips)} held-out clips, captions vs empty prompt")
        from .lm_ce import heldout_cross_entropy

        t0 = time.perf_counter()
        res["ce"] = heldout_cross_entropy(model, [c.path for c in clips], cfg.ce_seconds, cfg.batch_size,
                                          cache=cfg.ce_cache)
        res["ce"]["seconds"] = time.perf_counter() - t0

    if {"probe", "envelope"} & set(cfg.parts):
        _probe_and_envelope(cfg, res, held, prompts, model, codec)

    if "glide" in cfg.parts:
        res["glide"] = glide_part(cfg, held, model, codec)

    if "speed" in cfg.parts and model is not None:
        res["speed"] = []
        for dtype in cfg.speed_dtypes:
            _log(f"speed: {cfg.speed_seconds:g} s of sound, {dtype}, median of {cfg.speed_runs}")
            res["speed"].append(time_generation(model, cfg.speed_seconds, cfg.speed_runs, dtype))
    res["total_seconds"] = time.perf_counter() - t_start
    return res


def probe_clips(cfg: SfxEvalConfig) -> list[Clip]:
    """The real clips the probe learns from: the corpus's held-out splits, then every clip of each extra corpus
    (recordings kept out of the LM's training altogether)."""
    clips = load_sfx_clips(cfg.corpus, cfg.probe_splits)
    for extra in cfg.probe_extra:
        if not (Path(extra) / "train.jsonl").is_file():
            raise ConfigError(f"{extra}: no train.jsonl (give the folder of `tonecraft corpus sfx`)")
        clips += load_sfx_clips(extra, "train,valid,test")
    return clips


def _probe_and_envelope(cfg: SfxEvalConfig, res: dict, held: list[Clip], prompts: list[Clip] | None, model,
                        codec) -> None:
    real = stratified(probe_clips(cfg), cfg.probe_clips, cfg.seed)
    domain = "real clips through the codec" if codec is not None else "raw real clips"
    extra = "".join(f" + all of {Path(c).name}" for c in cfg.probe_extra)
    _log(f"probe: features of {len(real)} real clips ({cfg.probe_splits}{extra}, {domain}, {cfg.duration:g} s window)")
    t0 = time.perf_counter()
    X, env_rows = _real_features(real, codec, cfg.duration)
    labels = [category(c) for c in real]
    probe, info = train_category_probe(X, labels, [source_group(c) for c in real], cfg.min_class_count, cfg.folds)
    if "cv_predictions" in info:
        info["real_lasers"] = laser_recognition(real, info.pop("cv_predictions"))
    env_real = summarize_by_category(env_rows, labels)
    res["probe"] = {"domain": domain, "splits": cfg.probe_splits, "extra": [str(c) for c in cfg.probe_extra],
                    "window_s": cfg.duration, "real": info,
                    "seconds": time.perf_counter() - t0}
    res["envelope"] = {"window_s": cfg.duration, "real": env_real}
    res["per_category"] = per_category(info.get("ceiling"), None, env_real, {})
    if model is None:
        return
    known = set(probe.classes) if probe is not None else set(env_real)
    captions = stratified([c for c in held if category(c) in known], cfg.max_clips, cfg.seed + 1)
    if captions:
        _caption_clips(cfg, res, captions, model, probe, env_real)
    if prompts and probe is not None:
        _prompt_clips(cfg, res, prompts, model, probe)


def _caption_clips(cfg: SfxEvalConfig, res: dict, captions: list[Clip], model, probe, env_real: dict) -> None:
    _log(f"generating {cfg.seeds} x {len(captions)} clips of {cfg.duration:g} s from held-out captions")
    audio, done, ginfo = generate_for_captions(model, captions, cfg)
    res["generation"] = ginfo
    feats = [_features(w, model.sample_rate, cfg.duration) for w in audio]
    truth = [category(c) for c in done]
    gen_rows = [e for _, e in feats]
    res["envelope"]["generated"] = summarize_by_category(gen_rows, truth)
    res["envelope"]["compare"] = {s: compare(env_real, gen_rows, truth, s)
                                  for s in ("active_fraction", "span_s", "onsets_per_s", "decay_s")}
    pred = probe.predict(np.stack([f for f, _ in feats])) if (probe is not None and feats) else [None] * len(done)
    if probe is not None and feats:
        res["probe"]["generated"] = clf.score(pred, truth, probe)
    res["per_category"] = per_category(res["probe"]["real"].get("ceiling"), res["probe"].get("generated"),
                                       env_real, res["envelope"]["generated"])
    res["generated_clips"] = [{"caption_of": c.path, "description": c.description, "category": t,
                               "predicted": p, **e} for c, t, p, e in zip(done, truth, pred, gen_rows)]


def _prompt_clips(cfg: SfxEvalConfig, res: dict, clips: list[Clip], model, probe) -> None:
    """The free-language prompts, `cfg.prompt_seeds` clips each, scored by the same probe."""
    _log(f"generating {cfg.prompt_seeds} x {len(clips)} clips of {cfg.duration:g} s from {cfg.prompts}")
    sub = replace(cfg, seeds=cfg.prompt_seeds, time_budget_s=None,
                  save_audio_dir=str(Path(cfg.save_audio_dir) / "prompts") if cfg.save_audio_dir else None)
    audio, done, ginfo = generate_for_captions(model, clips, sub)
    pred = list(probe.predict(np.stack([_features(w, model.sample_rate, cfg.duration)[0] for w in audio])))
    res["prompts"] = {"file": str(cfg.prompts), "seeds": cfg.prompt_seeds, "generation": ginfo,
                      **prompt_summary(done, pred, set(probe.classes))}


def _source_kind(clip: Clip) -> str:
    return "debian" if (clip.info.get("source") or {}).get("kind") == "debian" else "procedural"


def _features(wav: np.ndarray, sample_rate: int, seconds: float):
    return clip_features(wav.reshape(-1) if wav.ndim == 1 else wav.mean(0), sample_rate, seconds)


def _sweeps(audio: list[np.ndarray], sample_rate: int) -> dict:
    """Both readings of `glide.pitch_glide`: the default one, and the tonal one made for decoded audio."""
    readings = [pitch_glides(w.reshape(-1) if w.ndim == 1 else w.mean(0), sample_rate) for w in audio]
    glides = [default for default, _ in readings]
    tonal = sum(t.sweep for _, t in readings)
    return {"sweeps": sum(g.sweep for g in glides), "n": len(glides),
            "share": sum(g.sweep for g in glides) / max(len(glides), 1), "sweeps_tonal": tonal,
            "median_abs_semitones": float(np.median([abs(g.semitones) for g in glides])) if glides else 0.0}


def glide_part(cfg: SfxEvalConfig, held: list[Clip], model, codec) -> dict:
    """Sweep shares (see the module docstring, part 6) per generator: raw / codec / generated, and the free
    laser prompts (`cfg.prompt_seeds` clips each)."""
    from .codec_metrics import codec_roundtrip
    from .sfx_prompts import prompt_clip

    clips = [c for c in held if (c.info.get("source") or {}).get("generator") in GLIDE_GENERATORS]
    _log(f"glide: {len(clips)} held-out synthesiser sweeps ({', '.join(GLIDE_GENERATORS)})")
    raw = [load_audio(c.path, sample_rate=SAMPLE_RATE, channels=1)[0][0].numpy() for c in clips]
    out: dict = {"window_s": GLIDE_SECONDS, "by_generator": {}}
    gen_audio = gen_done = None
    if model is not None and clips:
        sub = replace(cfg, duration=GLIDE_SECONDS, time_budget_s=None, save_audio_dir=None)
        gen_audio, gen_done, _ = generate_for_captions(model, clips, sub)
    for g in GLIDE_GENERATORS:
        idx = [i for i, c in enumerate(clips) if c.info["source"]["generator"] == g]
        row = {"raw": _sweeps([raw[i] for i in idx], SAMPLE_RATE)}
        if codec is not None:
            row["codec"] = _sweeps([codec_roundtrip(codec, raw[i], SAMPLE_RATE) for i in idx], SAMPLE_RATE)
        if gen_audio is not None:
            row["generated"] = _sweeps([a for a, c in zip(gen_audio, gen_done)
                                        if c.info["source"]["generator"] == g], model.sample_rate)
        out["by_generator"][g] = row
    if model is not None:
        sub = replace(cfg, duration=GLIDE_SECONDS, seeds=cfg.prompt_seeds, time_budget_s=None, save_audio_dir=None)
        for key, texts in (("laser_prompts", GLIDE_PROMPTS), ("control_prompts", GLIDE_CONTROL_PROMPTS)):
            audio, _, _ = generate_for_captions(model, [prompt_clip(p, "", i) for i, p in enumerate(texts)], sub)
            out[key] = {"prompts": list(texts), "seeds": cfg.prompt_seeds, **_sweeps(audio, model.sample_rate)}
    return out
