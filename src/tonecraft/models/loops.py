"""Seamless loops: exactly N bars at B bpm that repeat without a click, with the seam seen by the model.

    loop = generate_loop(model, "calm exploration music for a fantasy game", bars=8, bpm=90, seed=0)
    loop.audio          # [C, round(8 bars * sample_rate)] samples, loops end -> start
    loops = generate_loops(model, prompt, bars=4, variations=3)   # each continues from the previous one

How (docs/LOOPS.md says why):
1. Take: generate `preroll_bars` + N bars (less the last bar) on the bar grid; `takes` of them side by side,
   keeping the one whose measured tempo is nearest the asked bpm. The default model's beat grid
   puts a downbeat at frame 0; other models get the tempo from the prompt ("90 bpm" is appended when --bpm
   is given) and the first downbeat is estimated from the audio. Warp: a take that keeps a steady tempo a few
   percent off the asked one is cut in whole bars as played and time-stretched to the asked length at the end
   (`time_stretch.cyclic_stretch`), so its seam falls on the music's own bar line.
2. Ending seen by the model (token wrap-around): the last bar is sampled `candidates` times (one batch)
   after the take; each candidate is followed by the loop's own first tokens (continuation from the loop
   start: s_f.. after e_f) and the LM scores those start tokens. The ending under which the LM finds the
   loop start most likely wins: the end now leads into the start in the model's own judgement. Checked by
   ear (`seam_check`): every candidate is rendered as in step 3 and the LM's best whose seam measures like
   an interior beat line is kept (else the smoothest seam), since good tokens can still decode to a click.
3. Decode the winning sequence followed by the loop's start tokens, so the codec renders the ending leading
   into the start. The loop's first `fade` samples blend from that rendering of the start (after the end)
   into the original one (after the preroll): same tokens, nearly the same audio, so the blend is
   inaudible, and at the wrap the audio continues sample for sample. A streamed loop cannot wait for the
   end before its first samples: it blends its last samples into the lead-in instead (blend="tail").
4. Exact length: the token body is a whole number of frames; it is resampled (windowed sinc, < 0.1 % speed
   change) to round(N * bar * sample_rate) samples, then rotated by at most 1 ms so it starts on a rising
   zero crossing (`loop_assembly.LoopAssembler`, which also assembles the streamed loop: `stream_loop`).

Why this file is long: planning, the token wrap-around, rendering, variations, loops from a clip and the
streamed loop are one pipeline sharing its private steps (take, ending choice, render); split, those steps
would become public API for no user.
"""
from __future__ import annotations

import math
import queue
import threading
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np
import torch

from ..conditioning.tempo import BPM_PATTERN, parse_bpm
from ..errors import ConfigError
from ..lm.generate import ConditionTensors, generate_tokens
from ..lm.patterns import get_pattern
from .frames import GenerationCancelled
from .long_form import generate_frames
from .loop_assembly import LoopAssembler, assemble_loop
from .loop_audio import (BarGrid, beat_phase, check_bars, crossfade, estimate_key, estimate_tempo, mono,
                         nearest_zero_crossing, seam_report)
from .prompts import text_conditions
from .streaming import StreamDecoder
from .time_stretch import cyclic_stretch

ZERO_CROSSING_RADIUS_S = 0.001
STEADY_SPREAD = 0.015  # a take's halves must measure within 1.5 % of the whole for the loop to be warped


@dataclass
class LoopSettings:
    """How a loop is made (the defaults are what `tonecraft generate --loop` uses)."""

    candidates: int = 8  # endings sampled for the last bar; the LM picks the one leading best into the start
    preroll_bars: int = 1  # bars generated before the loop (intros are weak; the lead-in of the seam)
    fade_seconds: float = 0.03  # blend from the wrapped rendering into the loop start
    wrap_seconds: float = 0.5  # start tokens placed after the end, scored and decoded
    keep_take: bool = False  # also keep the plain N-bar cut of the take (first ending, no seam work): Loop.take
    blend: str = "head"  # head: blend the start's rendering after the end into the start; tail: end -> lead-in
    seam_check: bool = True  # render every candidate and keep the LM's best whose seam is like a beat line
    seam_threshold: float = 1.0  # ... whose seam score is at most this (1: no worse than the worst interior beat)
    takes: int = 4  # takes sampled side by side (one batch); the one whose measured tempo is nearest the bpm wins
    #                 (whole loops only: a streamed loop plays its bars as they are sampled)
    warp: bool = True  # cut whole bars at the take's measured tempo, then time-stretch them to the asked bpm
    max_warp: float = 0.08  # ... when the two differ by at most this fraction (more is a misread beat, or a
    #                         change a stretch would colour); whole loops only, like takes

    def validate(self) -> "LoopSettings":
        if not isinstance(self.candidates, int) or not 1 <= self.candidates <= 32:
            raise ConfigError(f"candidates must be 1..32, got {self.candidates!r}")
        if not isinstance(self.preroll_bars, int) or not 1 <= self.preroll_bars <= 8:
            raise ConfigError(f"preroll_bars must be 1..8 (the seam blends into the lead-in), got "
                              f"{self.preroll_bars!r}")
        if not 0.0 <= self.fade_seconds <= 0.5:
            raise ConfigError(f"fade_seconds must be in [0, 0.5], got {self.fade_seconds!r}")
        if self.blend not in ("head", "tail"):
            raise ConfigError(f"blend must be 'head' or 'tail', got {self.blend!r}")
        if not isinstance(self.takes, int) or isinstance(self.takes, bool) or not 1 <= self.takes <= 16:
            raise ConfigError(f"takes must be 1..16, got {self.takes!r}")
        if not isinstance(self.seam_check, bool):
            raise ConfigError(f"seam_check must be true or false, got {self.seam_check!r}")
        if not 0.1 <= self.seam_threshold <= 2.0:
            raise ConfigError(f"seam_threshold must be in [0.1, 2], got {self.seam_threshold!r}")
        if not isinstance(self.warp, bool):
            raise ConfigError(f"warp must be true or false, got {self.warp!r}")
        if not 0.0 <= self.max_warp <= 0.25:
            raise ConfigError(f"max_warp must be in [0, 0.25], got {self.max_warp!r}")
        if not 0.05 <= self.wrap_seconds <= 2.0:
            raise ConfigError(f"wrap_seconds must be in [0.05, 2], got {self.wrap_seconds!r}")
        return self


@dataclass
class Loop:
    """One loop: `audio` [C, length] plays seamlessly from its last sample back to its first."""

    audio: torch.Tensor
    sample_rate: int
    bpm: float
    bars: int
    meter: str
    tokens: torch.Tensor  # [K, frames] the loop's token frames, loop start first (the next variation's prompt)
    seam_logprob: float = math.nan  # mean log-prob of the loop's start tokens after its chosen ending
    first_logprob: float = math.nan  # the same after the first sampled ending (what no selection would give)
    bpm_source: str = "given"  # given | prompt | estimated
    description: str | None = None
    key: str = "unknown"
    info: dict = field(default_factory=dict)
    take: torch.Tensor | None = None  # with LoopSettings.keep_take: the naive cut, for comparisons

    @property
    def length(self) -> int:
        return int(self.audio.shape[-1])

    def sidecar(self) -> dict:
        """What the JSON sidecar holds for this loop (loop points in samples, end exclusive)."""
        return {"bpm": round(self.bpm, 4), "bpm_source": self.bpm_source, "bars": self.bars, "meter": self.meter,
                "sample_rate": self.sample_rate, "length_samples": self.length, "loop_start": 0,
                "loop_end": self.length, "key": self.key, "description": self.description,
                "seam_logprob": None if math.isnan(self.seam_logprob) else round(self.seam_logprob, 4),
                "first_ending_logprob": None if math.isnan(self.first_logprob) else round(self.first_logprob, 4),
                **self.info}


def prompt_with_bpm(description: str | None, bpm: float) -> str:
    """The prompt with its tempo set to `bpm` (an explicit "N bpm" replaced, else ", N bpm" appended)."""
    text = BPM_PATTERN.sub("", description or "").strip(" ,")
    return f"{text}, {bpm:g} bpm" if text else f"{bpm:g} bpm"


# --- token machinery ------------------------------------------------------------------------------------------

def _window_frames(model) -> int:
    return int(round(model.max_duration * model.frame_rate))


def _with_params(model, frames: int, fn):
    """Run fn() with the model's duration set to `frames` frames (and a usable long-form stride)."""
    saved = model.params
    stride = min(saved.extend_stride, 0.6 * model.max_duration)
    model.params = replace(saved, duration=frames / model.frame_rate, extend_stride=stride)
    try:
        model.params.validate(model.max_duration)
        return fn()
    finally:
        model.params = saved


def _generate(model, conditions, prompt: torch.Tensor | None, frames: int, generator, progress: bool,
              bar_f: float = 1.0, on_frames=None, cancelled=None) -> torch.Tensor:
    """Codes [1, K, frames] continuing `prompt` [1, K, Tp]. When sliding windows need a shorter prompt, whole
    bars (`bar_f` frames each) are set aside from its start, so a beat grid keeps its phase. `on_frames(codes)`
    gets every frame once, in order (the prompt's first); `cancelled()` stops sampling (streaming)."""
    if prompt is not None and prompt.shape[-1] >= frames:
        if on_frames is not None:
            on_frames(prompt[..., :frames])
        return prompt[..., :frames]
    keep, half = 0, _window_frames(model) // 2
    if prompt is not None and frames > _window_frames(model) and prompt.shape[-1] >= half:
        keep = int(round(math.ceil((prompt.shape[-1] - half) / bar_f) * bar_f))
        keep = min(keep, prompt.shape[-1] - 1)
    head = None if prompt is None else prompt[..., keep:]
    if on_frames is not None and keep:
        on_frames(prompt[..., :keep])
    hook = None if on_frames is None else (lambda t0, codes: on_frames(codes))
    out = _with_params(model, frames - keep,
                       lambda: generate_frames(model, conditions, head, progress, generator, on_frames=hook,
                                               cancelled=cancelled))
    return out if keep == 0 else torch.cat([prompt[..., :keep], out], dim=-1)


def _repeat(cond: ConditionTensors, n: int) -> ConditionTensors:
    def rep(t):
        return None if t is None else t.expand(n, *t.shape[1:]).contiguous()
    return ConditionTensors(cross=rep(cond.cross), prefix=rep(cond.prefix), bpm=rep(cond.bpm))


@torch.inference_mode()
def wrap_logprob(model, codes: torch.Tensor, condition: ConditionTensors, scored: int, first_frame: int = 0
                 ) -> torch.Tensor:
    """Mean log-probability [B] the LM gives the last `scored` frames of codes [B, K, T] (teacher forced,
    conditional, all codebooks): how well what came before leads into them."""
    lm = model.lm
    cfg = lm.cfg
    B, K, T = codes.shape
    pattern = get_pattern(cfg.pattern, K, T, cfg.delays)
    seq, _ = pattern.build(codes.to(lm.device), cfg.special_token)
    logits = lm(seq[..., :-1], cross=condition.cross, prefix=condition.prefix,
                bpm=None if lm.beat_grid is None else condition.bpm, first_frame=first_frame)
    logits, valid = pattern.revert_logits(logits, fill=0.0)
    logp = torch.log_softmax(logits[..., T - scored:, :].float(), dim=-1)
    picked = logp.gather(-1, codes[..., T - scored:, None].to(logp.device))[..., 0]  # [B, K, scored]
    mask = valid[:, T - scored:].to(picked.device)[None].expand_as(picked)
    return (picked * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1)


def choose_ending(model, head: torch.Tensor, start_tokens: torch.Tensor, ending: int, cond: ConditionTensors,
                  null: ConditionTensors, candidates: int, generator, cancelled=None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample `candidates` endings of `ending` frames after head [1, K, T] (one batch) and score the loop's
    start tokens [1, K, w] after each. Returns (endings [n, K, ending], scores [n]). `cancelled()` true ->
    GenerationCancelled within a decoding step."""
    p = model.params
    window = _window_frames(model)
    wrap = start_tokens.shape[-1]
    offset = max(0, head.shape[-1] + ending - window)
    prompt = head[..., offset:].expand(candidates, -1, -1).contiguous()
    c, n = _repeat(cond, candidates), _repeat(null, candidates)

    def check(_offset, _seq):
        if cancelled is not None and cancelled():
            raise GenerationCancelled()

    with torch.inference_mode():
        out = generate_tokens(model.lm, c, n, prompt=prompt, max_gen_len=prompt.shape[-1] + ending,
                              use_sampling=p.use_sampling, temp=p.temperature, top_k=p.top_k, top_p=p.top_p,
                              cfg_coef=p.cfg_coef, generator=generator, first_frame=offset,
                              on_step=None if cancelled is None else check)
    endings = out[..., prompt.shape[-1]:]
    full = torch.cat([head.expand(candidates, -1, -1), endings, start_tokens.expand(candidates, -1, -1)], dim=-1)
    lo = max(0, full.shape[-1] - window)
    return endings, wrap_logprob(model, full[..., lo:], c, wrap, first_frame=lo)


def render_loop(model, head, ending, start_f: int, end_f: int, length: int, settings: LoopSettings) -> torch.Tensor:
    """Decode head + ending + the wrapped start tokens (so the codec renders the ending leading into the
    start) and assemble the loop (`loop_assembly.assemble_loop`: the blend, exact length, zero-crossing start).
    head [1, K, T], ending [n, K, e] -> loops [n, C, length] (n candidates decoded as one batch)."""
    n = ending.shape[0]
    wrap = head[..., start_f:start_f + _wrap_frames(model, settings)]
    full = torch.cat([head.expand(n, -1, -1), ending, wrap.expand(n, -1, -1)], dim=-1)
    decoded = model.generate_audio(full).cpu()
    return torch.stack([assemble_loop(decoded[i], start_f * model.hop_length, end_f * model.hop_length, length,
                                      _fade(model, settings), _radius(model), settings.blend) for i in range(n)])


@dataclass
class EndingChoice:
    """Which sampled ending a loop keeps, and why (`pick_ending`)."""

    index: int
    lm_scores: list[float]  # the LM's log-prob of the loop start after each ending (higher leads in better)
    seam_scores: list[float] | None  # each rendered loop's seam score (<= 1: like an interior beat line)
    audio: torch.Tensor | None  # the chosen loop [C, length] when it was rendered to check its seam


def pick_ending(model, head, endings, lm_scores: torch.Tensor, start_f: int, end_f: int, length: int,
                settings: LoopSettings, bars: int, beats_per_bar: int, finish=None) -> EndingChoice:
    """The LM's order, checked by ear: the LM ranks the endings by how well they lead into the loop start, but
    its tokens can still decode to a click or a jump at the seam. With `seam_check`, every candidate is
    rendered (and passed through `finish`, e.g. the warp's stretch: the seam measured is the one delivered)
    and the best-ranked one whose seam measures like an interior beat line (`seam_report`) wins; if none
    does, the one with the smallest seam score."""
    scores = [float(v) for v in lm_scores]
    ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
    if not settings.seam_check or len(scores) == 1:
        return EndingChoice(ranked[0], scores, None, None)
    loops = render_loop(model, head, endings, start_f, end_f, length, settings)
    if finish is not None:
        loops = torch.stack([finish(loop) for loop in loops])
    seams = [seam_report(loop, model.sample_rate, bars, beats_per_bar)["score"] for loop in loops]
    within = [i for i in ranked if seams[i] <= settings.seam_threshold]
    best = within[0] if within else min(ranked, key=lambda i: seams[i])
    return EndingChoice(best, scores, seams, loops[best])


def _wrap_frames(model, settings: LoopSettings) -> int:
    return max(1, int(round(settings.wrap_seconds * model.frame_rate)))


def _fade(model, settings: LoopSettings) -> int:
    return int(round(settings.fade_seconds * model.sample_rate))


def _radius(model) -> int:
    return max(1, int(round(ZERO_CROSSING_RADIUS_S * model.sample_rate)))


def _bar_frames(grid: BarGrid, frame_rate: float) -> float:
    return grid.bar_seconds * frame_rate


def _loop_frames(model, grid: BarGrid, bars: int) -> tuple[int, int]:
    """(frames of the loop's token body, frames of its ending: the last bar, at most half the loop / window)."""
    loop_f = max(2, int(round(bars * _bar_frames(grid, model.frame_rate))))
    ending = int(round(min(_bar_frames(grid, model.frame_rate), loop_f / 2, _window_frames(model) / 2)))
    return loop_f, max(1, ending)


def _loop_from_tokens(model, tokens, start_f: int, grid: BarGrid, bars: int, cond, null, settings, generator,
                      progress: bool):
    """Given tokens [1, K, >= start_f] with the loop starting at frame start_f, finish the take, choose the
    ending and render. Returns (audio [C, L], loop tokens [K, frames], chosen score, first score, naive cut
    or None)."""
    loop_f, ending = _loop_frames(model, grid, bars)
    asked_length = grid.samples(bars, model.sample_rate)
    head, take_info, take_audio = _best_take(model, cond, null, tokens, start_f, start_f + loop_f - ending, grid,
                                             settings, generator, progress)
    played = _warp_grid(model, head, take_audio, start_f, grid, settings, take_info)
    if played is not grid:  # whole bars at the tempo the music has; stretched to the asked length below
        grid = played
        loop_f, ending = _loop_frames(model, grid, bars)
        head = _generate(model, lambda _offset: (cond, null), head, start_f + loop_f - ending, generator, progress,
                         _bar_frames(grid, model.frame_rate))
        take_info["warp_bpm"] = round(grid.bpm, 2)
    end_f = start_f + loop_f
    wrap = _wrap_frames(model, settings)
    start_tokens = head[..., start_f:start_f + wrap]
    if start_tokens.shape[-1] < wrap:  # the loop is shorter than the wrap: score what there is
        wrap = start_tokens.shape[-1]
    endings, scores = choose_ending(model, head, start_tokens, ending, cond, null, settings.candidates, generator)
    length = grid.samples(bars, model.sample_rate)

    def finish(loop):  # bars as played -> the asked length
        return loop if length == asked_length else cyclic_stretch(loop, asked_length, model.sample_rate,
                                                                   _fade(model, settings))

    choice = pick_ending(model, head, endings, scores, start_f, end_f, length, settings, bars, grid.beats_per_bar,
                         finish)
    best = choice.index
    audio = choice.audio
    if audio is None:
        audio = finish(render_loop(model, head, endings[best:best + 1], start_f, end_f, length, settings)[0])
    loop_tokens = torch.cat([head, endings[best:best + 1]], dim=-1)[0, :, start_f:end_f]
    take = None
    if settings.keep_take:
        plain = model.generate_audio(torch.cat([head, endings[:1]], dim=-1))[0].cpu()
        a = start_f * model.hop_length  # the naive cut: N bars at the asked tempo, as the take plays
        a = max(0, min(a, plain.shape[-1] - asked_length))  # the take ends at end_f: cut from there when shorter
        take = plain[:, a:a + asked_length]
    info = {**take_info, **_choice_info(choice), "bar_frames": _bar_frames(grid, model.frame_rate)}
    return audio, loop_tokens.cpu(), float(scores[best]), float(scores[0]), take, info


def _warp_grid(model, head, audio, start_f: int, grid: BarGrid, settings: LoopSettings,
               take_info: dict) -> BarGrid:
    """The bar grid the take plays: at its measured tempo when `settings.warp`, the take keeps that tempo
    (`steady_tempo`) and it is within `settings.max_warp` of the asked one (and off by more than the estimate's
    own 0.3 %); else `grid`. `audio`: the take decoded from start_f when `_best_take` already did, else None."""
    if not settings.warp or settings.max_warp <= 0:
        return grid
    if audio is None:
        audio = model.generate_audio(head[..., start_f:])[0].cpu()
    played = steady_tempo(audio, model.sample_rate, grid.bpm)
    take_info["played_bpm"] = round(played, 2) if played > 0 else None  # None: no steady tempo to read
    if played <= 0 or not 0.003 < abs(math.log(played / grid.bpm)) <= math.log1p(settings.max_warp):
        return grid
    return BarGrid(float(played), grid.beats_per_bar, grid.beat_unit)


def steady_tempo(audio: torch.Tensor, sample_rate: int, prior_bpm: float, spread: float = STEADY_SPREAD) -> float:
    """The clip's tempo when its two halves measure the same as the whole (within `spread`), else 0.0: a tempo
    worth cutting bars by, not a reading of music that drifts or has no clear beat."""
    whole = estimate_tempo(audio, sample_rate, prior_bpm=prior_bpm)
    half = audio.shape[-1] // 2
    parts = [estimate_tempo(a, sample_rate, prior_bpm=prior_bpm) for a in (audio[..., :half], audio[..., half:])]
    if whole <= 0 or min(parts) <= 0 or max(abs(math.log(p / whole)) for p in parts) > math.log1p(spread):
        return 0.0
    return whole


def _best_take(model, cond, null, tokens, start_f: int, frames: int, grid: BarGrid, settings: LoopSettings,
               generator, progress: bool) -> tuple[torch.Tensor, dict, torch.Tensor | None]:
    """(the take [1, K, frames] continuing tokens [1, K, Tp], its sidecar info, its decoded loop part [C, T] or
    None when not decoded). With `settings.takes` > 1, that many are sampled as one batch and the one whose
    decoded loop part (from start_f) has the tempo nearest the grid's wins: an LM follows an asked tempo only
    roughly, and a loop's bar grid is only right if the music keeps it."""
    n = settings.takes
    bar_f = _bar_frames(grid, model.frame_rate)
    if n == 1 or (tokens is not None and tokens.shape[-1] >= frames):  # nothing left to sample
        return _generate(model, lambda _offset: (cond, null), tokens, frames, generator, progress, bar_f), {}, None
    batch = (_repeat(cond, n), _repeat(null, n))
    heads = _generate(model, lambda _offset: batch, tokens.expand(n, -1, -1).contiguous(), frames, generator,
                      progress, bar_f)
    audio = model.generate_audio(heads[..., start_f:]).cpu()
    tempi = [estimate_tempo(a, model.sample_rate, prior_bpm=grid.bpm) for a in audio]
    misses = [abs(math.log(t / grid.bpm)) if t > 0 else math.inf for t in tempi]
    best = min(range(n), key=lambda i: misses[i])
    return heads[best:best + 1], {"take": best, "take_tempi": [round(t, 2) for t in tempi]}, audio[best]


def _choice_info(choice: EndingChoice) -> dict:
    """The ending choice for the sidecar: the LM's scores and, when checked, each candidate's seam score."""
    info = {"ending": choice.index, "ending_lm_scores": list(choice.lm_scores)}
    if choice.seam_scores is not None:
        info["ending_seam_scores"] = list(choice.seam_scores)
    return info


def _conditions_for(model, description: str | None):
    if getattr(model, "is_melody", False):
        raise ConfigError(f"{model.name}: loops are made with text models (melody conditioning is not supported)")
    cond, null = text_conditions(model, [description])
    return cond, null, (lambda offset: (cond, null))


def _resolve_tempo(description, bpm):
    """(bpm or None, its source, the prompt the model gets)."""
    if bpm is not None:
        BarGrid.parse(bpm)
        return float(bpm), "given", prompt_with_bpm(description, bpm)
    asked = parse_bpm(description)
    if asked is not None:
        return asked, "prompt", description
    return None, "estimated", description


def _start_frame(model, tokens, grid: BarGrid, preroll_bars: int) -> int:
    """Frame of the first downbeat at or after `preroll_bars` bars: the beat grid's bars for a gridded model,
    else estimated from the decoded take."""
    bar_f = _bar_frames(grid, model.frame_rate)
    if model.lm.beat_grid is not None:
        return int(round(preroll_bars * bar_f))
    audio = model.generate_audio(tokens)[0]
    phase_f = beat_phase(audio, model.sample_rate, grid.bpm, grid.beats_per_bar) * model.frame_rate
    k = max(0, math.ceil((preroll_bars * bar_f - phase_f) / bar_f - 1e-6))
    return int(round(phase_f + k * bar_f))


def generate_loop(model, description: str | None, bars: int, bpm: float | None = None, meter: str = "4/4", *,
                  seed: int | None = None, generator: torch.Generator | None = None,
                  settings: LoopSettings | None = None, progress: bool = False) -> Loop:
    """One seamless loop of `bars` bars (see the module docstring). `bpm`: given, else the prompt's tempo,
    else estimated from a first take."""
    return generate_loops(model, description, bars, bpm, meter, variations=1, seed=seed, generator=generator,
                          settings=settings, progress=progress)[0]


@dataclass
class _Plan:
    """What every loop of one request shares: the grid, the text and its conditions, the tokens before the
    first loop (preroll) and where that loop starts."""

    grid: BarGrid
    source: str
    text: str | None
    cond: ConditionTensors
    null: ConditionTensors
    conditions: object
    prompt: torch.Tensor | None
    start_f: int
    generator: torch.Generator | None
    settings: LoopSettings


def _plan(model, description, bars, bpm, meter, seed, generator, settings, progress, need_tempo=False,
          cancelled=None) -> _Plan:
    check_bars(bars)
    if description is not None and not isinstance(description, str):
        raise ConfigError(f"the description must be a string or None, got {type(description).__name__}")
    settings = (settings or LoopSettings()).validate()
    BarGrid.parse(120.0, meter)  # fail on a bad meter before any work
    model.params.validate(model.max_duration)
    generator = model.make_generator(seed, generator)
    tempo, source, text = _resolve_tempo(description, bpm)
    if tempo is None and need_tempo:
        raise ConfigError("a streamed loop needs its tempo before it starts: pass bpm or put 'N bpm' in the prompt")
    cond, null, conditions = _conditions_for(model, text)
    prompt = None
    if tempo is None:  # a first take at 120 bpm-sized length, then the measured tempo
        guess = BarGrid.parse(120.0, meter)
        frames = int(round((settings.preroll_bars + bars) * _bar_frames(guess, model.frame_rate)))
        prompt = _generate(model, conditions, None, frames, generator, progress, cancelled=cancelled)
        tempo = estimate_tempo(model.generate_audio(prompt)[0], model.sample_rate)
        if tempo <= 0:
            raise ConfigError("no beat found in the generated audio to set the loop's tempo; pass bpm (--bpm)")
    grid = BarGrid.parse(tempo, meter)
    bar_f = _bar_frames(grid, model.frame_rate)
    if prompt is None:  # the preroll (+ a bar to find the downbeat in, for a model without a beat grid)
        extra = 0 if model.lm.beat_grid is not None else 1
        prompt = _generate(model, conditions, None, int(round((settings.preroll_bars + extra) * bar_f)), generator,
                           progress, cancelled=cancelled)
    start_f = _start_frame(model, prompt, grid, settings.preroll_bars)
    if start_f > prompt.shape[-1]:
        prompt = _generate(model, conditions, prompt, start_f, generator, progress, bar_f, cancelled=cancelled)
    return _Plan(grid, source, text, cond, null, conditions, prompt, start_f, generator, settings)


def generate_loops(model, description: str | None, bars: int, bpm: float | None = None, meter: str = "4/4", *,
                   variations: int = 1, seed: int | None = None, generator: torch.Generator | None = None,
                   settings: LoopSettings | None = None, progress: bool = False) -> list[Loop]:
    """`variations` loops of the same length, tempo and bar grid; loop i+1 continues from the end of loop i
    (its last bars are the prompt), so playing 0, 1, 2 ... switches at the loop boundary without a jump."""
    if not isinstance(variations, int) or isinstance(variations, bool) or not 1 <= variations <= 64:
        raise ConfigError(f"variations must be 1..64, got {variations!r}")
    plan = _plan(model, description, bars, bpm, meter, seed, generator, settings, progress)
    grid, prompt, start_f = plan.grid, plan.prompt, plan.start_f
    loops = []
    for i in range(variations):
        audio, tokens, score, first, take, choice = _loop_from_tokens(model, prompt, start_f, grid, bars, plan.cond,
                                                                      plan.null, plan.settings, plan.generator,
                                                                      progress)
        bar_f = choice.pop("bar_frames")  # bars as played (warped loops: at the take's tempo)
        loops.append(Loop(audio, model.sample_rate, grid.bpm, bars, grid.meter, tokens, score, first, plan.source,
                          plan.text, estimate_key(audio, model.sample_rate), {"variation": i, **choice}, take))
        # the next one continues from this loop's last whole bars (which end on a bar line)
        keep_bars = max(1, min(bars, int(_window_frames(model) // 2 // bar_f)))
        keep = min(tokens.shape[-1], int(round(keep_bars * bar_f)))
        prompt, start_f = tokens[None, :, tokens.shape[-1] - keep:].to(model.device), keep
    return loops


def stream_loop(model, description: str | None, bars: int, bpm: float | None = None, meter: str = "4/4", *,
                chunk_seconds: float = 1.0, seed: int | None = None, generator: torch.Generator | None = None,
                settings: LoopSettings | None = None, cancelled=None) -> Iterator[torch.Tensor]:
    """Yield one loop in chunks [C, n] while its tokens are sampled; joined, they are `generate_loop`'s audio
    for the same seed, `blend="tail"` and `takes=1` (same tokens and assembly; the streaming decoder differs
    by float rounding). A streamed loop's seam is the tail blend (its end into the lead-in): the head blend of a
    whole loop needs the end before the first samples.

    What streams: the loop's bars are decoded and resampled as soon as their tokens are sampled. Limits: the
    tempo must be known up front (given or in the prompt); the preroll is sampled before the first chunk;
    the last bar arrives at the end, after its candidate endings are sampled and scored (a pause of about
    one bar's sampling time x candidates / batch speed-up); the chunk size is fixed except the last.
    `cancelled()` is polled every decoding step (preroll, bars, endings); once true, GenerationCancelled is
    raised (by this call during the preroll, else by the iterator)."""
    if not isinstance(chunk_seconds, (int, float)) or isinstance(chunk_seconds, bool) or \
            not math.isfinite(chunk_seconds) or chunk_seconds <= 0:
        raise ConfigError(f"chunk_seconds must be a positive number, got {chunk_seconds!r}")
    settings = replace(settings or LoopSettings(), blend="tail")
    plan = _plan(model, description, bars, bpm, meter, seed, generator, settings, False, need_tempo=True,
                 cancelled=cancelled)
    return _stream(model, plan, bars, max(1, int(round(chunk_seconds * model.sample_rate))), cancelled)


def _stream(model, plan: _Plan, bars: int, chunk: int, cancelled) -> Iterator[torch.Tensor]:
    grid, start_f = plan.grid, plan.start_f
    loop_f, ending = _loop_frames(model, grid, bars)
    end_f, wrap = start_f + loop_f, _wrap_frames(model, plan.settings)
    hop, length = model.hop_length, grid.samples(bars, model.sample_rate)
    results: queue.Queue = queue.Queue()
    stop = threading.Event()

    def should_stop() -> bool:
        return stop.is_set() or (cancelled is not None and bool(cancelled()))

    def work():
        try:
            with torch.inference_mode():
                head = _generate(model, plan.conditions, plan.prompt, end_f - ending, plan.generator, False,
                                 _bar_frames(grid, model.frame_rate),
                                 on_frames=lambda codes: results.put(("frames", codes)), cancelled=should_stop)
                start_tokens = head[..., start_f:start_f + wrap]
                endings, scores = choose_ending(model, head, start_tokens, ending, plan.cond, plan.null,
                                                plan.settings.candidates, plan.generator, should_stop)
                best = pick_ending(model, head, endings, scores, start_f, end_f, length, plan.settings, bars,
                                   grid.beats_per_bar).index
                results.put(("frames", endings[best:best + 1]))
                results.put(("frames", start_tokens))
            results.put(("done", None))
        except GenerationCancelled:
            results.put(("cancelled", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            results.put(("error", exc))

    decoder = StreamDecoder(model)
    assembler = LoopAssembler(start_f * hop, end_f * hop, length,
                              _fade(model, plan.settings), _radius(model), model.audio_channels)
    worker = threading.Thread(target=work, name=f"tonecraft-{model.name}-loop", daemon=True)
    worker.start()
    pending = np.zeros((model.audio_channels, 0))
    try:
        while True:
            kind, payload = results.get()
            if kind == "error":
                raise payload
            if kind == "cancelled":
                raise GenerationCancelled()
            audio = decoder.push(payload) if kind == "frames" else decoder.flush()
            out = assembler.push(audio[0].detach().cpu().double().numpy())
            if kind == "done":
                out = np.concatenate([out, assembler.finish()], axis=1)
            pending = np.concatenate([pending, out], axis=1)
            while pending.shape[1] >= chunk or (kind == "done" and pending.shape[1]):
                piece, pending = pending[:, :chunk], pending[:, chunk:]
                yield torch.from_numpy(piece).float()
            if kind == "done":
                return
    finally:
        stop.set()
        worker.join()


def loop_from_audio(wav: torch.Tensor, sample_rate: int, bars: int | None = None, bpm: float | None = None,
                    meter: str = "4/4", *, model=None, description: str | None = None, seed: int | None = None,
                    settings: LoopSettings | None = None) -> Loop:
    """Turn a clip [C, T] into a seamless loop of `bars` bars (default: the most whole bars, a power of two,
    that fit). Without a model: a bar-aligned cut whose first `fade` samples blend from the audio after the
    loop end (or, at the end of the clip, whose last ones blend into the lead-in). With a model: the clip is
    encoded and the seam is regenerated and chosen as in `generate_loop`."""
    settings = (settings or LoopSettings()).validate()
    wav = torch.as_tensor(wav).float()
    if wav.dim() == 1:
        wav = wav[None]
    tempo = float(bpm) if bpm is not None else estimate_tempo(wav, sample_rate)
    if tempo <= 0:
        raise ConfigError("no beat found in the clip; pass its tempo (--bpm)")
    grid = BarGrid.parse(tempo, meter)
    bar = grid.bar_seconds * sample_rate
    phase = beat_phase(wav, sample_rate, grid.bpm, grid.beats_per_bar) * sample_rate
    fade = int(round(settings.fade_seconds * sample_rate))
    fits = int((wav.shape[-1] - phase - fade) // bar)
    if bars is None:
        if fits < 1:
            raise ConfigError(f"the clip ({wav.shape[-1] / sample_rate:.2f} s) holds less than one bar at "
                              f"{grid.bpm:g} bpm {grid.meter}")
        bars = 1 << int(math.log2(fits))
    check_bars(bars)
    length = grid.samples(bars, sample_rate)
    # the latest bar line that still fits, but not later than bar 1 (skip a weak first bar when possible)
    k = min(1, int((wav.shape[-1] - phase - length - fade) // bar))
    if k < 0:
        raise ConfigError(f"the clip ({wav.shape[-1] / sample_rate:.2f} s) is shorter than {bars} bars at "
                          f"{grid.bpm:g} bpm {grid.meter} ({length / sample_rate:.2f} s) plus the seam")
    start = int(round(phase + k * bar))
    source = "given" if bpm is not None else "estimated"
    if model is None:
        x = mono(wav)
        start = nearest_zero_crossing(x, start, max(1, int(ZERO_CROSSING_RADIUS_S * sample_rate)))
        out = wav[:, start:start + length].clone()
        if start + length + fade <= wav.shape[-1]:
            out[:, :fade] = crossfade(wav[:, start + length:start + length + fade], wav[:, start:start + fade])
        elif start >= fade:
            out[:, -fade:] = crossfade(out[:, -fade:], wav[:, start - fade:start], from_start=False)
        return Loop(out, sample_rate, grid.bpm, bars, grid.meter, torch.empty(0, 0, dtype=torch.long),
                    bpm_source=source, description=description, key=estimate_key(out, sample_rate),
                    info={"source_start": start, "method": "cut+crossfade"})
    generator = model.make_generator(seed, None)
    text = prompt_with_bpm(description, grid.bpm) if model.lm.beat_grid is not None else description
    cond, null, _ = _conditions_for(model, text)
    # the encoded clip starts on a downbeat (the beat grid's phase 0) when a whole bar precedes the loop
    crop = int(round(phase)) if k >= 1 else 0
    tokens = model.encode_prompt(wav[:, crop:], sample_rate)
    start_f = int(round((start - crop) / sample_rate * model.frame_rate))
    if start_f * model.hop_length < max(_fade(model, settings), 32):
        raise ConfigError("with --model the loop needs some audio before its first downbeat (a lead-in); "
                          "use a clip that starts earlier, or no model")
    audio, loop_tokens, score, first, take, choice = _loop_from_tokens(model, tokens, start_f, grid, bars, cond,
                                                                       null, settings, generator, False)
    return Loop(audio, model.sample_rate, grid.bpm, bars, grid.meter, loop_tokens, score, first, source, text,
                estimate_key(audio, model.sample_rate), {"source_start": int(round(phase + k * bar)),
                                                         "method": "model seam", **choice}, take)
