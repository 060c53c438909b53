"""Teacher-forced cross-entropy of a text-to-audio LM on held-out clips, with their captions and with the empty
prompt: does the text help predict the held-out tokens? (`ce_null - ce` > 0: it does.)

Exactly the trainer's validation (`train.lm_trainer`: `teacher_forced_ce`, `text_ce_metrics`,
`finish_ce_metrics`) on a token cache of the held-out clips encoded by the model's own codec
(`data.token_cache.build_token_cache`, first `segment_duration` seconds of each clip, padding masked), batch
means weighted by batch size as the trainer logs them; in nats per token, averaged over codebooks.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def build_heldout_cache(model, paths: list[str], out_dir: str | os.PathLike) -> Path:
    """Token cache of `paths` (audio files with sidecars) encoded with `model.codec`."""
    from ..data.manifest import AudioMeta
    from ..data.token_cache import build_token_cache

    metas = [AudioMeta(path=str(p), duration=0.0, sample_rate=int(model.sample_rate)) for p in paths]
    out, failures = build_token_cache(metas, model.codec, out_dir, codec_name=str(getattr(model, "name", "")))
    if failures and len(failures) == len(metas):
        from ..errors import AudioError

        raise AudioError(f"none of the {len(metas)} held-out clips could be encoded: {failures[0]}")
    return out


@torch.no_grad()
def heldout_cross_entropy(model, paths: list[str] | None = None, segment_duration: float | None = None,
                          batch_size: int = 8, cache: str | os.PathLike | None = None) -> dict:
    """{"ce", "ce_null", "cond_gain", "ppl", "ce_q1".., "n_clips", "n_tokens", "segment_duration"} of `model`
    (a MusicGen / AudioGen) on the clips `paths` (encoded into a temporary token cache) or on an existing
    token `cache` folder. `segment_duration`: the model's window (its training segment) when None."""
    from ..data.token_cache import TokenDataset, collate_tokens
    from ..lm.patterns import get_pattern
    from ..train.lm_trainer import LMTrainModule, finish_ce_metrics, teacher_forced_ce, text_ce_metrics

    seconds = float(segment_duration or model.max_duration)
    tmp = None
    if cache is None:
        if not paths:
            return {"n_clips": 0}
        tmp = tempfile.TemporaryDirectory(prefix="tonecraft-ce-")
        cache = build_heldout_cache(model, paths, tmp.name)
    try:
        data = TokenDataset(cache, seconds, shuffle=False)  # first crop of each clip, as validation
        lm, cond = model.lm, model.conditioner
        module = LMTrainModule(lm, cond).eval()
        patterns: dict = {}

        def loss_fn(codes, frame_mask, texts, first_frame=0):
            T = codes.shape[-1]
            if T not in patterns:
                patterns[T] = get_pattern(lm.cfg.pattern, lm.cfg.n_q, T, lm.cfg.delays)
            tokens = cond.tokenize(texts) if cond is not None else None
            return teacher_forced_ce(module, patterns[T], codes, frame_mask, tokens, lm.cfg.special_token,
                                     first_frame=first_frame)

        tot: dict[str, float] = {}
        n = n_tokens = 0
        device = next(lm.parameters()).device
        for start in range(0, len(data), batch_size):
            codes, frame_mask, infos = collate_tokens([data[i] for i in range(start, min(start + batch_size,
                                                                                          len(data)))])
            texts = [i.description for i in infos]
            vals = text_ce_metrics(loss_fn, codes.to(device), frame_mask.to(device), texts,
                                   with_null=cond is not None)
            for k, v in vals.items():
                tot[k] = tot.get(k, 0.0) + v * len(infos)
            n += len(infos)
            n_tokens += int(frame_mask.sum()) * lm.cfg.n_q
        out = finish_ce_metrics({k: v / max(n, 1) for k, v in tot.items()})
        return {**out, "n_clips": n, "n_tokens": n_tokens, "segment_duration": seconds}
    finally:
        if tmp is not None:
            tmp.cleanup()
