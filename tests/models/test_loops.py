"""models/loops.py end to end on the tiny random MusicGen: exact lengths, the wrap-around (ending choice by the
LM's score of the loop start, the wrapped rendering at the seam), variations, seeds, and loops from audio."""
import math

import numpy as np
import pytest
import torch

from helpers_loops import tiny_loop_model
from tonecraft.errors import ConfigError
from tonecraft.lm.generate import generate_tokens
from tonecraft.models import loop_assembly as lasm
from tonecraft.models import loop_audio as la
from tonecraft.models import loops
from tonecraft.models.prompts import text_conditions

SR = 1600  # tiny codec: 50 frames/s, hop 32


@pytest.fixture(scope="module")
def grid_model():
    return tiny_loop_model(True)


@pytest.fixture(scope="module")
def plain_model():
    return tiny_loop_model(False)


@pytest.fixture(params=["grid", "plain"])
def model(request, grid_model, plain_model):
    return grid_model if request.param == "grid" else plain_model


@pytest.mark.parametrize("bars,bpm,meter", [(2, 97, "4/4"), (1, 150, "3/4")])
def test_exact_length_to_the_sample(model, bars, bpm, meter):
    loop = loops.generate_loop(model, "a tiny tune", bars, bpm=bpm, meter=meter, seed=0,
                               settings=loops.LoopSettings(candidates=2))
    assert loop.length == round(bars * la.BarGrid.parse(bpm, meter).bar_seconds * SR)
    assert loop.audio.shape[0] == 1 and torch.isfinite(loop.audio).all()
    assert (loop.bpm, loop.bars, loop.meter, loop.bpm_source) == (bpm, bars, meter, "given")
    assert loop.description.endswith(f"{bpm:g} bpm")
    side = loop.sidecar()
    assert (side["loop_start"], side["loop_end"], side["length_samples"]) == (0, loop.length, loop.length)


def test_the_chosen_ending_is_the_one_the_lm_scores_best(model):
    settings = loops.LoopSettings(candidates=6, seam_check=False)
    loop = loops.generate_loop(model, "a tiny tune", 2, bpm=120, seed=3, settings=settings)
    assert loop.seam_logprob >= loop.first_logprob and math.isfinite(loop.seam_logprob)
    lm = loop.info["ending_lm_scores"]
    assert len(lm) == 6 and loop.info["ending"] == lm.index(max(lm)) and "ending_seam_scores" not in loop.info


def test_the_seam_check_keeps_the_lms_best_ending_whose_seam_is_like_a_beat_line(model):
    """With the seam check every candidate is rendered: the kept one is the best-ranked by the LM among those
    whose seam score is <= 1, else the smoothest; its seam score is the finished loop's own."""
    loop = loops.generate_loop(model, "a tiny tune", 2, bpm=120, seed=3,
                               settings=loops.LoopSettings(candidates=6, warp=False))
    lm, seams, best = loop.info["ending_lm_scores"], loop.info["ending_seam_scores"], loop.info["ending"]
    within = [i for i in sorted(range(6), key=lambda i: -lm[i]) if seams[i] <= 1.0]
    assert best == (within[0] if within else seams.index(min(seams)))
    assert la.seam_report(loop.audio, SR, 2)["score"] == pytest.approx(seams[best], abs=1e-3)
    unchecked = loops.generate_loop(model, "a tiny tune", 2, bpm=120, seed=3,
                                    settings=loops.LoopSettings(candidates=6, seam_check=False, warp=False))
    assert unchecked.info["ending_lm_scores"] == lm  # same candidates: only the choice differs
    strict = loops.generate_loop(model, "a tiny tune", 2, bpm=120, seed=3,
                                 settings=loops.LoopSettings(candidates=6, warp=False, seam_threshold=0.5))
    assert strict.info["ending_seam_scores"] == seams
    within = [i for i in sorted(range(6), key=lambda i: -lm[i]) if seams[i] <= 0.5]
    assert strict.info["ending"] == (within[0] if within else seams.index(min(seams)))
    with pytest.raises(ConfigError, match="seam_threshold"):
        loops.LoopSettings(seam_threshold=0).validate()


def test_takes_keep_the_one_nearest_the_asked_tempo(grid_model):
    """Three takes sampled as one batch: the kept one is the take whose measured tempo is nearest the bpm
    (a take with no beat found is never preferred over one with a tempo)."""
    loop = loops.generate_loop(grid_model, "a tiny tune", 2, bpm=120, seed=5,
                               settings=loops.LoopSettings(candidates=2, takes=3))
    tempi, take = loop.info["take_tempi"], loop.info["take"]
    misses = [abs(math.log(t / 120)) if t > 0 else math.inf for t in tempi]
    assert len(tempi) == 3 and misses[take] == min(misses)
    assert loop.length == la.BarGrid.parse(120).samples(2, SR)
    one = loops.generate_loop(grid_model, "a tiny tune", 2, bpm=120, seed=5,
                              settings=loops.LoopSettings(candidates=2, takes=1))
    assert "take" not in one.info
    with pytest.raises(ConfigError, match="takes"):
        loops.LoopSettings(takes=0).validate()


def test_warp_cuts_whole_bars_at_the_played_tempo_and_stretches_them_to_the_asked_one(grid_model, monkeypatch):
    """When the take plays at 126 bpm for an asked 120 (5 % off), the loop is cut as 2 bars at 126 and
    stretched to exactly 2 bars at 120, and the seam check measures the stretched loops; 30 % off is a misread
    beat and is left alone."""
    played = {"bpm": 126.0}
    monkeypatch.setattr(loops, "estimate_tempo", lambda *a, **k: played["bpm"])
    stretched = []
    real_stretch = loops.cyclic_stretch
    monkeypatch.setattr(loops, "cyclic_stretch",
                        lambda a, n, sr, fade=0: stretched.append((a.shape[-1], n)) or real_stretch(a, n, sr, fade))
    settings = loops.LoopSettings(candidates=2, takes=2)
    loop = loops.generate_loop(grid_model, "a tiny tune", 2, bpm=120, seed=5, settings=settings)
    asked = la.BarGrid.parse(120).samples(2, SR)
    assert loop.length == asked and loop.bpm == 120 and loop.info["warp_bpm"] == loop.info["played_bpm"] == 126.0
    assert "bar_frames" not in loop.info  # private: not in the sidecar
    assert stretched == [(la.BarGrid.parse(126).samples(2, SR), asked)] * 2  # each candidate, then measured
    seams = loop.info["ending_seam_scores"]
    assert la.seam_report(loop.audio, SR, 2)["score"] == pytest.approx(seams[loop.info["ending"]], abs=1e-3)
    plain = loops.generate_loop(grid_model, "a tiny tune", 2, bpm=120, seed=5,
                                settings=loops.LoopSettings(candidates=2, takes=2, warp=False))
    assert "warp_bpm" not in plain.info and plain.length == asked
    played["bpm"] = 156.0
    stretched.clear()
    far = loops.generate_loop(grid_model, "a tiny tune", 2, bpm=120, seed=5, settings=settings)
    assert "warp_bpm" not in far.info and stretched == []
    with pytest.raises(ConfigError, match="max_warp"):
        loops.LoopSettings(max_warp=0.5).validate()


def test_wrap_logprob_is_aligned_with_the_pattern(grid_model):
    """Greedy (cfg 1) tokens are each the LM's argmax, so they score the best a sequence can; changing one
    scored token lowers the score, changing one outside the scored frames does not change it."""
    cond, null = text_conditions(grid_model, ["a tiny tune"])
    codes = generate_tokens(grid_model.lm, cond, null, max_gen_len=40, use_sampling=False, cfg_coef=1.0)
    best = loops.wrap_logprob(grid_model, codes, cond, scored=10)
    changed = codes.clone()
    changed[0, 2, 35] = (changed[0, 2, 35] + 1) % grid_model.lm.cfg.card
    assert loops.wrap_logprob(grid_model, changed, cond, scored=10) < best
    outside = codes.clone()
    outside[0, 0, 29] = (outside[0, 0, 29] + 1) % grid_model.lm.cfg.card
    logits_moved = loops.wrap_logprob(grid_model, outside, cond, scored=10)
    assert logits_moved != best  # the context changed, so the scores of the later frames did too
    assert float(loops.wrap_logprob(grid_model, codes, cond, scored=40)) <= 0


def test_render_decodes_the_ending_leading_into_the_start(plain_model):
    """The seam: the take is decoded with the loop's start tokens after the chosen ending, and the loop is
    assembled from that decode (the last samples blend into the lead-in, which flows into the start)."""
    model = plain_model
    torch.manual_seed(0)
    tokens = torch.randint(0, model.lm.cfg.card, (1, 4, 160))
    start_f, end_f = 30, 130  # 100 frames = 2 s = 3200 samples at 1600 Hz
    settings = loops.LoopSettings(fade_seconds=0.05)
    out = loops.render_loop(model, tokens[..., :120], tokens[..., 120:130], start_f, end_f, 3200, settings)[0]
    wrap = int(settings.wrap_seconds * 50)
    full = torch.cat([tokens[..., :130], tokens[..., start_f:start_f + wrap]], dim=-1)
    decoded = model.generate_audio(full)[0]
    expected = lasm.assemble_loop(decoded, start_f * 32, end_f * 32, 3200, 80, 2, blend="head")
    assert torch.equal(out, expected)
    assert torch.allclose(out[:, 0], decoded[:, end_f * 32], atol=1e-6) or \
        any(torch.allclose(out[:, 0], decoded[:, end_f * 32 + k]) for k in range(1, 3))  # the wrapped rendering
    without_wrap = model.generate_audio(tokens[..., :130])[0]  # the wrapped start tokens change the ending
    assert not torch.allclose(decoded[:, (end_f - 2) * 32:end_f * 32], without_wrap[:, (end_f - 2) * 32:])


def test_streamed_loop_equals_the_one_shot_loop(grid_model):
    chunks = list(loops.stream_loop(grid_model, "a tiny tune", 1, bpm=100, seed=5, chunk_seconds=0.3,
                                    settings=loops.LoopSettings(candidates=2)))
    one = loops.generate_loop(grid_model, "a tiny tune", 1, bpm=100, seed=5,
                              settings=loops.LoopSettings(candidates=2, blend="tail", takes=1, warp=False))
    joined = torch.cat(chunks, dim=-1)
    assert joined.shape == one.audio.shape == (1, la.BarGrid.parse(100).samples(1, SR))
    assert all(c.shape[-1] == 480 for c in chunks[:-1])
    assert torch.allclose(joined, one.audio, atol=1e-4)
    with pytest.raises(ConfigError, match="tempo before it starts"):
        loops.stream_loop(grid_model, "no tempo here", 2)


def test_variations_chain_with_the_same_grid(grid_model):
    vs = loops.generate_loops(grid_model, "a tiny tune, 120 bpm", 1, variations=2, seed=1,
                              settings=loops.LoopSettings(candidates=2))
    assert [v.length for v in vs] == [3200] * 2 and {v.bpm for v in vs} == {120.0}
    assert {v.bpm_source for v in vs} == {"prompt"} and [v.info["variation"] for v in vs] == [0, 1]
    assert not torch.equal(vs[0].audio, vs[1].audio)
    again = loops.generate_loops(grid_model, "a tiny tune, 120 bpm", 1, variations=2, seed=1,
                                 settings=loops.LoopSettings(candidates=2))
    assert all(torch.equal(a.audio, b.audio) for a, b in zip(vs, again))  # the seed repeats them


def test_bpm_from_audio_or_a_clear_error(plain_model):
    try:
        loop = loops.generate_loop(plain_model, "noise", 1, seed=0, settings=loops.LoopSettings(candidates=1))
    except ConfigError as exc:
        assert "no beat found" in str(exc)
    else:
        assert loop.bpm_source == "estimated" and loop.length == la.BarGrid.parse(loop.bpm).samples(1, SR)


def test_bad_arguments(grid_model):
    for kw, match in (({"bars": 0}, "bars"), ({"bars": 2, "meter": "5"}, "meter"), ({"bars": 2, "bpm": 5}, "bpm"),
                      ({"bars": 2, "variations": 0}, "variations")):
        with pytest.raises(ConfigError, match=match):
            loops.generate_loops(grid_model, "x", **kw)
    with pytest.raises(ConfigError, match="candidates"):
        loops.generate_loop(grid_model, "x", 2, settings=loops.LoopSettings(candidates=0))


def test_prompt_with_bpm():
    assert loops.prompt_with_bpm("lofi beat, 80 bpm", 90) == "lofi beat, 90 bpm"
    assert loops.prompt_with_bpm(None, 90) == "90 bpm"
    assert loops.prompt_with_bpm("slow strings", 72.5) == "slow strings, 72.5 bpm"


def _clicks(bpm, seconds, sr):
    x = np.zeros(int(seconds * sr))
    for i, t in enumerate(np.arange(0.25, seconds - 0.05, 60 / bpm)):
        s = int(t * sr)
        n = min(int(0.02 * sr), x.size - s)
        x[s:s + n] += np.sin(2 * np.pi * (60 if i % 4 == 0 else 900) * np.arange(n) / sr) * np.exp(
            -np.arange(n) / (0.004 * sr))
    return torch.tensor(x, dtype=torch.float32)[None]


def test_loop_from_a_click_track_without_a_model():
    sr, bpm = 8000, 120
    clip = _clicks(bpm, 11, sr)
    loop = loops.loop_from_audio(clip, sr, bars=4)
    assert loop.length == 4 * 2 * sr and abs(loop.bpm - bpm) < 1 and loop.bpm_source == "estimated"
    start = loop.info["source_start"]
    assert abs(start - (0.25 + 2.0) * sr) < 0.03 * sr  # bar 1's downbeat (the first bar is skipped)
    report = la.seam_report(loop.audio, sr, 4)
    assert report["within_beats"], report
    auto = loops.loop_from_audio(clip, sr, bpm=bpm)  # most whole bars, a power of two: 4 of the 5 in 11 s
    assert auto.bars == 4 and auto.bpm == bpm and auto.bpm_source == "given"
    with pytest.raises(ConfigError, match="shorter than"):
        loops.loop_from_audio(clip, sr, bars=8, bpm=bpm)


@pytest.mark.parametrize("grid", [True, False])
def test_loop_from_audio_with_the_model_regenerates_the_seam(grid, grid_model, plain_model):
    model = grid_model if grid else plain_model
    clip = _clicks(120, 6, SR)
    loop = loops.loop_from_audio(clip, SR, bars=2, bpm=120, model=model, seed=0,
                                 settings=loops.LoopSettings(candidates=2))
    assert loop.length == 2 * 2 * SR and loop.info["method"] == "model seam" and math.isfinite(loop.seam_logprob)


def test_a_streamed_loop_stops_within_a_step_when_cancelled(grid_model):
    from tonecraft.models.frames import GenerationCancelled

    with pytest.raises(GenerationCancelled):  # during the preroll: at once
        loops.stream_loop(grid_model, "a", 1, bpm=150, seed=0, cancelled=lambda: True)
    calls = {"n": 0}

    def later():
        calls["n"] += 1
        return calls["n"] > 120  # after the preroll (80 steps), during the bar
    with pytest.raises(GenerationCancelled):
        list(loops.stream_loop(grid_model, "a", 1, bpm=150, seed=0, cancelled=later))
    assert calls["n"] < 200


def test_musicgen_api(grid_model):
    audio = grid_model.generate(["a", "b"], loop=True, bars=1, bpm=150, seed=0)
    assert audio.shape == (2, 1, round(4 * 60 / 150 * SR))
    chunks = list(grid_model.generate_stream("a", 0.5, loop=True, bars=1, bpm=150, seed=0))
    assert sum(c.shape[-1] for c in chunks) == audio.shape[-1]
    with pytest.raises(ConfigError, match="loop=True"):
        grid_model.generate("a", bars=2)
    with pytest.raises(ConfigError, match="needs bars"):
        grid_model.generate("a", loop=True)


def test_steady_tempo_refuses_music_that_drifts():
    """A click track at 120 bpm reads 120; one that goes from 100 to 130 bpm halfway reads 0 (no tempo to cut
    bars by), though the whole of it has some autocorrelation peak."""
    sr = 8000

    def clicks(bpm, seconds):
        x = np.zeros(int(seconds * sr))
        x[::int(round(60 / bpm * sr))] = 1.0
        return x

    steady = torch.from_numpy(clicks(120, 12))[None].float()
    assert loops.steady_tempo(steady, sr, 120) == pytest.approx(120, rel=0.01)
    drifting = torch.from_numpy(np.concatenate([clicks(100, 6), clicks(130, 6)]))[None].float()
    assert la.estimate_tempo(drifting, sr) > 0 and loops.steady_tempo(drifting, sr, 115) == 0.0
