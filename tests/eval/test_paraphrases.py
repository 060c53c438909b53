"""The paraphrase prompt set (bench/paraphrases.jsonl) and its evaluation (eval/paraphrases.py, issue 18):
the committed file's coverage, bad files as one-line errors, the summaries on hand-made numbers, and one run
on a tiny random model."""
from __future__ import annotations

import json
import re
import runpy
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tonecraft.errors import ConfigError
from tonecraft.eval import paraphrases as para
from tonecraft.eval.labels import FAMILIES, Clip

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "bench" / "paraphrases.jsonl"
SR = 32_000
MIN_PER_FAMILY = {"keyboard": 6, "mallet": 6, "plucked": 6, "strings": 6, "winds": 6, "reed": 6, "synth": 3,
                  "voice": 3, "band": 3}


def test_committed_paraphrases_cover_every_family_and_tempo():
    clips = para.load_paraphrases(COMMITTED)  # also checks each `instrument` maps to its `family`
    assert len(clips) >= 64
    assert len({c.description.lower() for c in clips}) == len(clips)
    counts = Counter(c.family for c in clips)
    assert set(counts) == set(FAMILIES)
    assert all(counts[f] >= n for f, n in MIN_PER_FAMILY.items()), counts
    assert sum(c.bpm is not None and c.bpm <= 70 for c in clips) >= 16
    assert sum(c.bpm is not None and c.bpm >= 130 for c in clips) >= 16
    assert any(c.bpm is None for c in clips)


def test_committed_paraphrases_are_free_language():
    clips = para.load_paraphrases(COMMITTED)
    template = re.compile(r"\bin [A-G][#b]? (major|minor)\b|\b\d/\d time\b|\bplays (loudly|softly) an?\b")
    assert not [c.description for c in clips if template.search(c.description)]
    text = [c.description.lower() for c in clips]
    assert sum("bpm" in t for t in text) >= 10 and sum("beats per minute" in t for t in text) >= 3
    assert sum(bool(re.search(r"\b(around|about|roughly)\b", t)) for t in text) >= 3
    assert len({t.split(",")[0] for t in text}) == len(text)  # no shared opening phrase
    for fam, words in (("keyboard", ("piano", "keys", "organ", "harpsichord")),
                       ("plucked", ("guitar", "banjo", "harp"))):
        assert sum(any(w in t for t in text) for w in words) >= 3, fam  # the instrument named several ways


def test_committed_percussive_flags_follow_the_family():
    clips = para.load_paraphrases(COMMITTED)
    for c in clips:
        if c.family in ("mallet", "plucked", "band"):
            assert c.info["percussive"], c.description
        elif c.family != "keyboard":
            assert not c.info["percussive"], c.description
        elif "organ" in c.description:
            assert not c.info["percussive"], c.description


def _write(tmp_path, *rows) -> Path:
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


GOOD = {"prompt": "calm solo piano piece", "family": "keyboard", "bpm": None, "percussive": True}


def test_load_a_small_file(tmp_path):
    path = _write(tmp_path, GOOD, "", {**GOOD, "prompt": "slow cello, 60 bpm", "family": "strings", "bpm": 60,
                                       "percussive": False, "instrument": "cello"})
    a, b = para.load_paraphrases(path)
    assert (a.description, a.family, a.bpm, a.tempo) == ("calm solo piano piece", "keyboard", None, None)
    assert (b.bpm, b.tempo, b.info["percussive"], b.info["source"]) == (60.0, "slow", False, f"{path}:3")
    assert a.path != b.path


@pytest.mark.parametrize("row, message", [
    ("{not json", "p.jsonl:1: not valid JSON"),
    ('["a list"]', "expected a JSON object"),
    ({**GOOD, "family": "drums"}, "unknown family 'drums'"),
    ({**GOOD, "bpm": "fast"}, "'bpm' must be a positive number or null, got 'fast'"),
    ({**GOOD, "bpm": -3}, "'bpm' must be a positive number"),
    ({**GOOD, "prompt": " "}, "'prompt' must be a non-empty string"),
    ({**GOOD, "percussive": "yes"}, "'percussive' must be true or false"),
    ({**GOOD, "instrument": "violin"}, "instrument 'violin' is in family 'strings', not 'keyboard'"),
])
def test_bad_lines_name_the_file_and_line(tmp_path, row, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        para.load_paraphrases(_write(tmp_path, row))


def test_missing_or_empty_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        para.load_paraphrases(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="no prompts"):
        para.load_paraphrases(_write(tmp_path, ""))


def test_slow_prompt_check_forgives_only_octave_errors():
    asked = [60, 70, 65, 60, 120, None]
    est = [80, 120, 200, 0, 60, 50]  # 120 -> 60 after halving (octave error); 200 -> 100 still too fast
    s = para.slow_prompt_check(asked, est)
    assert s["n"] == 4 and s["no_beat"] == 1
    assert s["share_measured_slow"] == 0.25 and s["share_measured_slow_octave"] == 0.5
    assert para.slow_prompt_check([100, None], [80, 70]) == {"n": 0, "prompt_max_bpm": 70.0, "measured_max_bpm": 90.0}
    f = para.fast_prompt_check([140, 130, 160, 60], [150, 80, 200, 60])  # the control: fast prompts should fail
    assert f["n"] == 3 and f["median_estimated_bpm"] == 150.0
    assert f["share_measured_slow"] == pytest.approx(1 / 3) and f["share_measured_slow_octave"] == pytest.approx(2 / 3)


def test_family_summary_against_the_ceiling():
    scores = {"n": 4, "accuracy": 0.5, "balanced_accuracy": 0.5, "recall": {"keyboard": 1.0, "strings": 0.0},
              "classes": ["keyboard", "strings"]}
    ceiling = {"n": 10, "accuracy": 0.8, "balanced_accuracy": 0.625, "recall": {"keyboard": 0.9, "strings": 0.35},
               "classes": ["keyboard", "strings"]}
    clips = [Clip("p", "x", None, fam, None, "p") for fam in ("keyboard", "keyboard", "strings", "strings", "voice")]
    s = para.family_summary(scores, ceiling, clips)
    assert s["fraction_of_ceiling"] == pytest.approx(0.625) and s["fraction_of_ceiling_balanced"] == pytest.approx(0.8)
    assert s["family_recall"] == {"keyboard": 1.0, "strings": 0.0} and s["ceiling_recall"]["strings"] == 0.35
    assert s["unscored"] == {"voice": 1}
    empty = para.family_summary({"n": 0}, {}, clips)
    assert empty["fraction_of_ceiling"] is None and empty["unscored"] == {"keyboard": 2, "strings": 2, "voice": 1}


def test_bpm_read_share():
    clips = [Clip("a", "piano at 60 bpm", 60.0, "keyboard", "slow", "a"),
             Clip("b", "harp at a hundred and forty beats a minute", 140.0, "plucked", "fast", "b"),
             Clip("c", "calm harp", None, "plucked", None, "c")]
    assert para.bpm_read_share(clips) == {"stated": 2, "read": 1,
                                          "unread_prompts": ["harp at a hundred and forty beats a minute"]}


def _tone(kind: str, seconds: float = 2.0, bpm: float = 120.0) -> np.ndarray:
    """'pluck': a decaying note per beat; 'drone': one steady note."""
    t = np.arange(int(seconds * SR)) / SR
    if kind == "drone":
        return (0.1 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    phase = t % (60.0 / bpm)
    return (0.1 * np.exp(-phase * 15) * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def test_onset_stats_read_the_probe_features():
    librosa = pytest.importorskip("librosa")
    from tonecraft.eval.features import onset_envelope, prepare, probe_features

    X = np.stack([probe_features(_tone(k), SR) for k in ("pluck", "pluck", "drone")])
    strength, rate = para.onset_stats(X)
    env = onset_envelope(prepare(_tone("pluck"), SR))
    assert strength[0] == pytest.approx(float(env.mean()), rel=1e-5)
    n_onsets = len(librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=512))
    assert rate[0] == pytest.approx(n_onsets / (env.size * 512 / SR), rel=1e-4)
    s = para.onset_summary(strength, rate, [True, True, False])
    assert s["percussive"]["n"] == 2 and s["sustained"]["n"] == 1
    assert s["percussive"]["median_onset_strength"] > s["sustained"]["median_onset_strength"]
    assert s["strength_ratio"] > 10  # (the onset *rate* of a steady drone is not small: onset_detect
    # normalises the envelope, so its tiny ripples count; the strength is the number that shows attacks)
    assert para.onset_summary([], [], [])["percussive"] == {"n": 0, "median_onset_strength": None,
                                                            "median_onsets_per_s": None}


def _tiny_corpus(root: Path) -> Path:
    """4 train + 2 test clips: plucks (family plucked) and drones (winds) at 70 / 140 bpm."""
    lines = {"train": [], "test": []}
    for i, split in enumerate(["train"] * 4 + ["test"] * 2):
        kind, inst = (("pluck", "banjo"), ("drone", "flute"))[i % 2]
        bpm = (70, 140)[(i // 2) % 2]
        rel = f"audio/{i:02d}.flac"
        (root / "audio").mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, _tone(kind, 1.5, bpm), SR)
        (root / rel).with_suffix(".json").write_text(json.dumps(
            {"description": f"{inst}, {bpm} bpm", "instrument": inst, "bpm": bpm, "piece_id": f"p{i}"}))
        lines[split].append(json.dumps({"path": rel, "duration": 1.5, "sample_rate": SR, "channels": 1}))
    for split, ls in lines.items():
        (root / f"{split}.jsonl").write_text("\n".join(ls) + "\n")
    return root


def test_end_to_end_paraphrases_tiny_random(tmp_path):
    pytest.importorskip("librosa")
    from tonecraft.eval.report import format_report, write_json
    from tonecraft.eval.runner import EvalConfig, run
    from tonecraft.eval.tiny import save_tiny_random_model

    torch.set_num_threads(1)
    corpus = _tiny_corpus(tmp_path / "corpus")
    prompts = _write(tmp_path,
                     {"prompt": "banjo picking at 140 bpm", "family": "plucked", "bpm": 140, "percussive": True},
                     {"prompt": "slow lonely flute, sixty beats a minute", "family": "winds", "bpm": 60,
                      "percussive": False},
                     {"prompt": "a calm flute", "family": "winds", "bpm": None, "percussive": False})
    cfg = EvalConfig(corpus=str(corpus), model=str(save_tiny_random_model(tmp_path / "model")), n_clips=0,
                     n_train=4, n_heldout=2, n_codec_clips=0, duration=1.0, batch_size=4, min_class_count=1,
                     paraphrases=str(prompts), paraphrase_seeds=2)
    res = run(cfg)
    r = res["paraphrases"]
    assert "generation" not in res and r["generation"]["n"] == 6 and len(r["clips"]) == 6
    assert [c["seed_copy"] for c in r["clips"]] == [0, 0, 0, 1, 1, 1]
    assert res["probe"]["paraphrases"]["family"]["n"] == 6 and res["probe"]["paraphrases"]["tempo"]["n"] == 4
    assert res["tempo"]["paraphrases"]["n"] == 4 and res["tempo"]["paraphrases_read"]["n"] == 2
    assert r["bpm_read_by_conditioner"] == {"stated": 2, "read": 1,
                                            "unread_prompts": ["slow lonely flute, sixty beats a minute"]}
    assert r["slow_prompts"]["n"] == 2 and r["onsets"]["percussive"]["n"] == 2 and r["onsets"]["sustained"]["n"] == 4
    assert set(r["family_recall"]) <= {"plucked", "winds"} and r["ceiling_accuracy"] is not None
    text = format_report(res)
    assert "Paraphrases (3 free-language prompts x 2 seeds" in text and "paraphrases" in text
    assert "slow prompts (<= 70 bpm, n 2)" in text and "control, fast prompts (>= 130 bpm, n 2)" in text
    assert "onsets (median)" in text
    assert json.loads(write_json(tmp_path / "r.json", res).read_text())["paraphrases"]["n_prompts"] == 3


def test_cli_bad_paraphrase_file_is_one_line(tmp_path, capsys):
    main = runpy.run_path(str(ROOT / "bench" / "eval_default.py"))["main"]
    bad = _write(tmp_path, {**GOOD, "family": "kazoo"})
    assert main(["--corpus", str(tmp_path), "--model", "none", "--paraphrases", str(bad),
                 "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "unknown family 'kazoo'" in err and len(err.splitlines()) == 1
