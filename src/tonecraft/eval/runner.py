"""The measured-quality evaluation of a codec + MusicGen-style model on the corpus (issue 6).

1. codec: SI-SNR / mel / multi-scale mel of the codec round trip and of Opus at `opus_kbps` on held-out clips;
2. probe: a linear classifier on LM-independent features (instrument family, tempo bucket), trained on real
   train-split clips, scored on real held-out clips (sanity) and on clips generated from held-out captions;
3. tempo: librosa beat tracking on the same clips against the caption's bpm;
4. tempo words (optional, `n_word_pairs`): held-out captions with their tempo removed, generated once as
   "Slow ..." and once as "Fast ..." with the same seed; how often the fast one has the faster beat;
5. paraphrases (optional, `paraphrases`): hand-written free-language prompts (`bench/paraphrases.jsonl`),
   scored with the same probes and beat tracker (`eval/paraphrases.py`).
Everything is seeded; `bench/eval_default.py` is the command line.

Why this file is long: it is the one place that runs the five parts in order on one loaded model, one probe and one
set of clips (each part's measures live in their own modules: features, tempo, paraphrases, watermark_effect).
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
from . import paraphrases as para
from .features import SAMPLE_RATE, TASK_FEATURES, probe_features_and_bpm
from .labels import load_split, subset
from .tempo import tempo_summary
from .watermark_effect import mark_clips, mark_effect

ASSETS_DEFAULT = Path(__file__).resolve().parents[1] / "assets" / "default"
CORPUS_ENV = "TONECRAFT_CORPUS"  # where `tonecraft corpus music --out` wrote the corpus, when --corpus is not given


@dataclass
class EvalConfig:
    corpus: str                         # corpus folder (train/valid/test.jsonl of `tonecraft corpus music`)
    model: str | None = None            # MusicGen dir or name; None: skip generation
    codec: str | None = None            # codec dir/name; None: the model's codec
    n_clips: int = 100                  # generated clips (held-out captions)
    n_train: int = 300                  # real train clips for the probe
    n_heldout: int = 200                # real held-out clips for the probe sanity check (at most)
    n_codec_clips: int = 50             # held-out clips for codec vs Opus
    heldout_splits: str = "test"
    duration: float = 8.0               # measurement crop (s): generated length and probe crop of real clips;
                                        # the model card's numbers use 8 s (not a generation default)
    batch_size: int = 8
    seed: int = 0
    opus_kbps: list[float] = field(default_factory=lambda: [6.0])
    codec_seconds: float | None = None  # crop of the clips for the codec comparison (None: whole clip)
    time_budget_s: float | None = None  # stop generating new batches after this long (reported)
    top_k: int | None = None            # None: the checkpoint's (sampling defaults chosen by this probe)
    temperature: float | None = None    # None: the checkpoint's
    cfg_coef: float | None = None       # None: the checkpoint's
    save_audio_dir: str | None = None   # write generated clips here (optional)
    probe_domain: str = "auto"          # "codec": real clips go through the codec before the probe; "raw"; auto:
                                        # codec when a model/codec is loaded (generated audio is codec output)
    min_class_count: int = 10           # probe classes with fewer train clips are left out (train and scoring)
    n_word_pairs: int = 0               # captions generated as a "Slow ..." / "Fast ..." pair (tempo words only)
    watermark_check: bool = False       # also score the generated clips after the watermark (its effect on the probe)
    paraphrases: str | None = None      # free-language prompt file (eval/paraphrases.py); needs a model
    paraphrase_seeds: int = 1           # clips generated per paraphrase prompt
    decoding: str = "float32"           # "int8": the LM decodes through dynamic int8 linears where the CPU has them


def _log(msg: str) -> None:
    print(msg, flush=True)


# -- model loading: the shared loaders (MusicGen.from_pretrained, train.export) -----------------------------

def load_generator(spec: str | os.PathLike, codec_spec: str | None = None):
    """`MusicGen.from_pretrained(spec)` (a folder, an official name, "tonecraft-default", a `tonecraft train
    export` folder), or an LM training checkpoint (`checkpoint.pt`, see `load_lm_checkpoint`); `codec_spec`
    replaces the codec the checkpoint names."""
    from ..models.musicgen import MusicGen

    path = Path(spec)
    if path.is_file() and path.suffix == ".pt":
        return load_lm_checkpoint(path, codec_spec)
    return MusicGen.from_pretrained(spec, **({"codec": load_eval_codec(codec_spec)} if codec_spec else {}))


def load_lm_checkpoint(path: str | os.PathLike, codec_spec: str | None = None):
    """A MusicGen from an LM *training* checkpoint (`checkpoint.pt` of `tonecraft train lm`; the weights
    `tonecraft train export` would write), to measure a run before it is exported."""
    from ..models.musicgen import MusicGen
    from ..train.export import lm_from_checkpoint

    if not codec_spec:
        raise ValueError(f"{path}: an LM training checkpoint needs --codec (the codec its tokens came from)")
    lm, cond, _cond_cfg, state = lm_from_checkpoint(path)
    return MusicGen(f"{Path(path).parent.name}@{state.get('step', '?')}", load_eval_codec(codec_spec), lm.eval(),
                    cond, max_duration=10.0)


def load_eval_codec(spec: str | None, model=None):
    """The codec named by `spec` (a codec or shipped model name, a codec folder, a model folder with a `codec/`
    subfolder, or a codec training checkpoint), else the model's."""
    if not spec:
        return model.codec if model is not None else None
    from ..train.export import load_training_codec

    spec = str(Path(spec) / "codec") if (Path(spec) / "codec" / "config.json").is_file() else spec

    codec = load_training_codec(spec)
    if hasattr(codec, "fold_weight_norm"):
        codec.fold_weight_norm()  # training checkpoints come with weight-norm parametrisations
    if not hasattr(codec, "name_or_path"):
        codec.name_or_path = str(spec)
    return codec


def default_model_path() -> str | None:
    p = ASSETS_DEFAULT
    return str(p) if (p / "config.json").is_file() and (p / "model.safetensors").is_file() else None


# -- parts ---------------------------------------------------------------------------------------------------

def evaluate_codec(codec, clips, opus_kbps=(6.0,), seconds: float | None = None,
                   sample_rate: int = SAMPLE_RATE) -> dict:
    """Codec and Opus round trips of `clips` (loaded at `sample_rate`, the rate the metrics run at)."""
    from .codec_metrics import (ReconstructionMetrics, codec_kbps, codec_roundtrip, opus_available,
                                opus_roundtrip, summarize)

    metrics = ReconstructionMetrics(sample_rate)
    rows: dict[str, list[dict]] = {}
    real_kbps: dict[str, list[float]] = {}
    ok, why = opus_available()
    t_codec = 0.0
    for clip in clips:
        wav, _ = load_audio(clip.path, sample_rate=sample_rate, channels=1, duration=seconds)
        x = wav[0].numpy()
        if codec is not None:
            t0 = time.perf_counter()
            y = codec_roundtrip(codec, x, sample_rate)
            t_codec += time.perf_counter() - t0
            rows.setdefault("codec", []).append(metrics(x, y))
        if ok:
            for kb in opus_kbps:
                y, real = opus_roundtrip(x, sample_rate, kb)
                rows.setdefault(f"opus_{kb:g}kbps", []).append(metrics(x, y))
                real_kbps.setdefault(f"opus_{kb:g}kbps", []).append(real)
    out: dict = {"n_clips": len(clips), "seconds_per_clip": seconds, "sample_rate": sample_rate}
    if codec is not None:
        out["codec"] = {**summarize(rows.get("codec", [])), "kbps": codec_kbps(codec),
                        "name": str(getattr(codec, "name_or_path", getattr(codec.config, "name", "codec"))),
                        "sample_rate": codec.sample_rate, "n_q": codec.n_q, "frame_rate": codec.frame_rate,
                        "seconds_per_clip_roundtrip": t_codec / max(len(clips), 1)}
    if ok:
        for k, v in real_kbps.items():
            out[k] = {**summarize(rows[k]), "kbps": float(np.mean(v)) if v else None,
                      "kbps_note": "Ogg/Opus file size incl. container overhead"}
    else:
        out["opus_skipped"] = why
    return out


def _features(clips, seconds, codec=None):
    """-> (features [N, D], bpm estimates [N]) of real clips (first `seconds` of each; through `codec` if given)."""
    from .codec_metrics import codec_roundtrip

    X, bpms = [], []
    for c in clips:
        wav, sr = load_audio(c.path, sample_rate=SAMPLE_RATE, channels=1, duration=seconds)
        if codec is not None:
            wav = torch.from_numpy(codec_roundtrip(codec, wav[0].numpy(), sr))[None]
        f, bpm = probe_features_and_bpm(wav, sr)
        X.append(f)
        bpms.append(bpm)
    return (np.stack(X) if X else np.zeros((0, 1), np.float32)), bpms


def train_probes(train_clips, seconds, codec=None, min_class_count: int = 1) -> tuple[dict, dict]:
    """-> ({task: LinearProbe}, info) for tasks 'family' and 'tempo'. Classes with fewer than
    `min_class_count` train clips are left out (a probe cannot learn them, and they attract off-domain audio)."""
    from collections import Counter

    X, _ = _features(train_clips, seconds, codec)
    clips = train_clips
    probes, info = {}, {}
    for task in ("family", "tempo"):
        counts = Counter(getattr(c, task) for c in clips if getattr(c, task) is not None)
        rare = sorted(k for k, v in counts.items() if v < min_class_count)
        sel = [i for i, c in enumerate(clips) if getattr(c, task) is not None and getattr(c, task) not in rare]
        labels = [getattr(clips[i], task) for i in sel]
        groups = [clips[i].piece for i in sel]
        if len(set(labels)) < 2:
            info[task] = {"skipped": f"fewer than 2 classes in {len(sel)} train clips"}
            continue
        Xt = X[sel][:, TASK_FEATURES[task]]
        l2, cv = clf.select_l2(Xt, labels, groups)
        probes[task] = clf.LinearProbe(l2).fit(Xt, labels)
        info[task] = {"n_train": len(sel), "l2": l2, "cv_accuracy": cv[l2],
                      "train_counts": dict(sorted(probes[task].counts.items())),
                      "left_out_classes": {k: counts[k] for k in rare}}
    return probes, info


def score_probes(probes, X, clips) -> dict:
    out = {}
    for task, probe in probes.items():
        sel = [i for i, c in enumerate(clips) if getattr(c, task) in probe.classes]
        if not sel:
            out[task] = {"n": 0}
            continue
        pred = probe.predict(X[sel][:, TASK_FEATURES[task]])
        out[task] = clf.score(pred, [getattr(clips[i], task) for i in sel], probe)
    return out


def generate_clips(model, clips, cfg: EvalConfig) -> tuple[list[np.ndarray], list, dict]:
    """Audio for each clip's description (batches of `batch_size`, seed + batch index)."""
    model.set_generation_params(duration=cfg.duration, top_k=cfg.top_k, temperature=cfg.temperature,
                                cfg_coef=cfg.cfg_coef)  # None: the model's
    p = model.params
    audio, done, t0 = [], [], time.perf_counter()
    stopped = None
    for b, start in enumerate(range(0, len(clips), cfg.batch_size)):
        if cfg.time_budget_s is not None and done and time.perf_counter() - t0 > cfg.time_budget_s:
            stopped = f"time budget {cfg.time_budget_s:.0f} s reached after {len(done)} clips"
            break
        batch = clips[start:start + cfg.batch_size]
        with torch.inference_mode():
            wav = model.generate([c.description for c in batch], seed=cfg.seed + b)
        for c, w in zip(batch, wav):
            audio.append(w.float().cpu().numpy())
            done.append(c)
        el = time.perf_counter() - t0
        _log(f"  generated {len(done)}/{len(clips)} clips in {el:.0f} s ({el / len(done):.1f} s/clip)")
        if cfg.save_audio_dir:
            from ..audio import save_audio

            for i, (c, w) in enumerate(zip(batch, wav)):
                save_audio(Path(cfg.save_audio_dir) / f"{start + i:04d}_{Path(c.path).stem}.wav", w.cpu(),
                           model.sample_rate)
    el = time.perf_counter() - t0
    info = {"n": len(done), "seconds": el, "seconds_per_clip": el / max(len(done), 1),
            "duration": cfg.duration, "cfg_coef": p.cfg_coef, "top_k": p.top_k, "temperature": p.temperature,
            "sample_rate": model.sample_rate}
    if stopped:
        info["stopped"] = stopped
    return audio, done, info


def audio_features(audio, sample_rate: int) -> tuple[np.ndarray, list[float]]:
    """-> (probe features [N, D], beat-tracker bpm [N]) of generated clips."""
    feats, bpms = [], []
    for w in audio:
        f, bpm = probe_features_and_bpm(w, sample_rate)
        feats.append(f)
        bpms.append(bpm)
    return (np.stack(feats) if feats else np.zeros((0, 1), np.float32)), bpms


def probe_predictions(probes, X: np.ndarray) -> dict:
    """{task: predicted class per clip} (empty lists when there are no clips)."""
    return {t: p.predict(X[:, TASK_FEATURES[t]]) if len(X) else [] for t, p in probes.items()}


def evaluate_tempo_words(model, clips, cfg: EvalConfig) -> dict:
    """Generate each caption as a "Slow ..." and a "Fast ..." prompt (same seed), track both beats.
    `fast_faster` is the share of pairs whose fast clip has the higher librosa tempo (chance 0.5)."""
    from .tempo import estimate_bpm, tempo_word_prompt

    out = {}
    for word in ("slow", "fast"):
        variants = [replace(c, description=tempo_word_prompt(c.description, word)) for c in clips]
        audio, _, info = generate_clips(model, variants, cfg)
        out[word] = {"prompts": [c.description for c in variants],
                     "estimated_bpm": [estimate_bpm(w, model.sample_rate) for w in audio], "seconds": info["seconds"]}
    slow, fast = np.array(out["slow"]["estimated_bpm"]), np.array(out["fast"]["estimated_bpm"])
    return {"n_pairs": int(len(slow)), "fast_faster": float(np.mean(fast > slow)), "ties": int(np.sum(fast == slow)),
            "median_bpm_slow": float(np.median(slow)), "median_bpm_fast": float(np.median(fast)), **out}


def evaluate_paraphrases(model, prompts, probes, ceiling: dict, cfg: EvalConfig) -> tuple[dict, dict, dict]:
    """Generate every paraphrase prompt `paraphrase_seeds` times (copies land in other batches, so other
    seeds), score with the probes -> (probe scores, tempo rows, res["paraphrases"]). Tempo rows: all prompts
    that state a bpm, and (when it differs) only those whose bpm the tempo conditioning reads."""
    clips = [c for _ in range(max(cfg.paraphrase_seeds, 1)) for c in prompts]
    save = str(Path(cfg.save_audio_dir) / "paraphrases") if cfg.save_audio_dir else None
    _log(f"paraphrases: {len(prompts)} prompts x {max(cfg.paraphrase_seeds, 1)} seeds from {cfg.paraphrases}")
    audio, clips, ginfo = generate_clips(model, clips, replace(cfg, save_audio_dir=save))
    X, bpms = audio_features(audio, model.sample_rate)
    scores = score_probes(probes, X, clips) if audio else {}
    pred = probe_predictions(probes, X)
    summary = {"file": str(cfg.paraphrases), "n_prompts": len(prompts), "seeds": max(cfg.paraphrase_seeds, 1),
               "generation": ginfo, **para.summarize(clips, X, bpms, scores, ceiling, pred)}
    for i, row in enumerate(summary["clips"]):
        row["seed_copy"] = i // len(prompts)
    unread = set(summary["bpm_read_by_conditioner"]["unread_prompts"])
    stated = [i for i, c in enumerate(clips) if c.bpm is not None]
    read = [i for i in stated if clips[i].description not in unread]
    rows = {"paraphrases": tempo_summary([bpms[i] for i in stated], [clips[i].bpm for i in stated])}
    if len(read) < len(stated):
        rows["paraphrases_read"] = tempo_summary([bpms[i] for i in read], [clips[i].bpm for i in read])
    return scores, rows, summary


# -- whole run -----------------------------------------------------------------------------------------------

def run(cfg: EvalConfig) -> dict:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    t_start = time.perf_counter()
    res: dict = {"config": asdict(cfg), "versions": {"torch": torch.__version__}}
    try:
        import librosa

        res["versions"]["librosa"] = librosa.__version__
    except ImportError:
        pass
    prompts = para.load_paraphrases(cfg.paraphrases) if cfg.paraphrases else None  # a bad file fails here
    heldout_all = load_split(cfg.corpus, cfg.heldout_splits)
    train_clips = load_split(cfg.corpus, "train", cfg.n_train, cfg.seed)
    res["corpus"] = {"path": cfg.corpus, "heldout_available": len(heldout_all), "train_used": len(train_clips)}
    _log(f"corpus {cfg.corpus}: {len(heldout_all)} held-out clips ({cfg.heldout_splits}), "
         f"{len(train_clips)} train clips used for the probe")

    model = None
    if cfg.model:
        _log(f"loading model {cfg.model}")
        model = load_generator(cfg.model, cfg.codec)
        if cfg.decoding == "int8":
            model.lm.optimize_decoding(dtype="int8")  # float32 where unsupported: `decoding_path` says which
        elif cfg.decoding != "float32":
            raise ConfigError(f"decoding {cfg.decoding!r}: use float32 or int8")
        res["model"] = {"path": str(cfg.model), "sample_rate": model.sample_rate, "frame_rate": model.frame_rate,
                        "lm_params": sum(p.numel() for p in model.lm.parameters()),
                        "decoding": model.lm.decoding_path}

    # 1. codec vs Opus
    if cfg.n_codec_clips > 0:
        codec = load_eval_codec(cfg.codec, model)
        clips = subset(heldout_all, cfg.n_codec_clips, cfg.seed)
        _log(f"codec vs Opus on {len(clips)} held-out clips")
        t0 = time.perf_counter()
        res["codec"] = evaluate_codec(codec, clips, cfg.opus_kbps, cfg.codec_seconds)
        res["codec"]["seconds"] = time.perf_counter() - t0

    generate = model is not None and cfg.n_clips > 0
    paraphrase = model is not None and bool(prompts)
    if not (generate or paraphrase or cfg.n_train > 0 or cfg.n_heldout > 0):  # codec comparison only
        res["total_seconds"] = time.perf_counter() - t_start
        return res

    # 2. probe: train on real train clips, sanity on real held-out clips
    _log(f"probe features of {len(train_clips)} train clips ({cfg.duration:g} s crops)")
    t0 = time.perf_counter()
    domain_codec = None
    if cfg.probe_domain in ("auto", "codec"):
        domain_codec = load_eval_codec(cfg.codec, model)
        if domain_codec is None and cfg.probe_domain == "codec":
            raise ValueError("probe_domain 'codec' needs a model or a codec")
    probes, info = train_probes(train_clips, cfg.duration, domain_codec, cfg.min_class_count)
    res["probe"] = {"train": info, "feature_seconds": cfg.duration,
                    "domain": "real clips through the codec" if domain_codec is not None else "raw real clips"}
    held = subset(heldout_all, cfg.n_heldout, cfg.seed)
    Xh, held_bpms = _features(held, cfg.duration, domain_codec)
    res["probe"]["real_heldout"] = score_probes(probes, Xh, held)
    res["tempo"] = {"real_heldout": {**tempo_summary(held_bpms, [c.bpm for c in held]),  # + the slow test's ceiling
                                     "slow_captions": para.slow_prompt_check([c.bpm for c in held], held_bpms)}}
    res["probe"]["seconds"] = time.perf_counter() - t0

    # 3. generated clips from held-out captions
    if generate:
        # captions of the real held-out clips scored above (repeated round-robin when n_clips is larger)
        order = subset(list(range(len(held))), min(cfg.n_clips, len(held)), cfg.seed + 1)
        gen_idx = [order[i % len(order)] for i in range(cfg.n_clips)] if order else []
        gen_clips = [held[i] for i in gen_idx]
        _log(f"generating {len(gen_clips)} clips of {cfg.duration:g} s from {len(order)} held-out captions")
        audio, gen_clips, ginfo = generate_clips(model, gen_clips, cfg)
        gen_idx = gen_idx[: len(gen_clips)]
        res["generation"] = ginfo
        res["probe"]["real_same_captions"] = score_probes(probes, Xh[gen_idx], gen_clips) if gen_idx else {}
        res["tempo"]["real_same_captions"] = tempo_summary([held_bpms[i] for i in gen_idx],
                                                           [c.bpm for c in gen_clips])
        Xg, bpms = audio_features(audio, model.sample_rate)
        res["probe"]["generated"] = score_probes(probes, Xg, gen_clips) if audio else {}
        res["tempo"]["generated"] = tempo_summary(bpms, [c.bpm for c in gen_clips])
        pred = probe_predictions(probes, Xg)
        if cfg.watermark_check and audio:
            marked, snrs = mark_clips(audio, gen_clips, model.sample_rate)
            Xw, bpms_w = audio_features(marked, model.sample_rate)
            res["probe"]["generated_watermarked"] = score_probes(probes, Xw, gen_clips)
            res["tempo"]["generated_watermarked"] = tempo_summary(bpms_w, [c.bpm for c in gen_clips])
            res["watermark_check"] = mark_effect(pred, probe_predictions(probes, Xw), snrs)
        res["generated_clips"] = [
            {"caption_of": c.path, "description": c.description, "family": c.family, "tempo": c.tempo,
             "bpm": c.bpm, "estimated_bpm": b, **{f"predicted_{t}": pred[t][i] for t in pred}}
            for i, (c, b) in enumerate(zip(gen_clips, bpms))]
    if model is not None and cfg.n_word_pairs > 0:
        pairs = [held[i] for i in subset(list(range(len(held))), min(cfg.n_word_pairs, len(held)), cfg.seed + 2)]
        _log(f"tempo words: {len(pairs)} captions as 'Slow ...' and 'Fast ...'")
        res["tempo_words"] = evaluate_tempo_words(model, pairs, cfg)
    if paraphrase:
        scores, tempo, res["paraphrases"] = evaluate_paraphrases(model, prompts, probes, res["probe"]["real_heldout"],
                                                                 cfg)
        res["probe"]["paraphrases"] = scores
        res["tempo"].update(tempo)
    elif prompts:
        _log(f"paraphrases in {cfg.paraphrases} skipped: no model loaded")
    res["total_seconds"] = time.perf_counter() - t_start
    return res
