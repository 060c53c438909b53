"""Paired comparison of two candidates' paraphrase runs (eval/compare.py, bench/compare_evals.py)."""
import json

import pytest

from tonecraft.errors import ConfigError
from tonecraft.eval.compare import compare, sign_test_p

CLASSES = ["keyboard", "plucked", "winds"]


def run(seed, heard, estimates, classes=CLASSES):
    """A minimal evaluation JSON: one clip per entry of `heard` (the family the probe heard)."""
    asked = ["keyboard", "plucked", "winds", "synth"]
    clips = [{"prompt": f"p{i}", "seed_copy": 0, "family": asked[i % 4], "predicted_family": h, "bpm": 60.0,
              "estimated_bpm": e} for i, (h, e) in enumerate(zip(heard, estimates))]
    return {"config": {"seed": seed}, "paraphrases": {"clips": clips},
            "probe": {"real_heldout": {"family": {"classes": classes}}}}


def test_sign_test_exact_values():
    assert sign_test_p(10, 0) == pytest.approx(2 / 1024)
    assert sign_test_p(0, 10) == pytest.approx(2 / 1024)
    assert sign_test_p(5, 5) == 1.0
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(7, 3) == pytest.approx(2 * (1 + 10 + 45 + 120) / 1024)


def test_paired_family_and_tempo_counts():
    a = run(0, ["keyboard", "winds", "winds", "keyboard"], [60, 120, 60, 60])
    b = run(0, ["winds", "plucked", "winds", "synth"], [62, 60, 120, 60])
    res = compare([a], [b])
    assert res["pairs"] == 3  # the synth prompt is left out: the probe never learned synth
    assert res["family"] == {"n": 3, "a_only": 1, "b_only": 1, "p_value": 1.0}
    assert res["family_accuracy"] == {"a": pytest.approx(2 / 3, abs=1e-4), "b": pytest.approx(2 / 3, abs=1e-4)}
    # clip 0: a exact, b 62 (a nearer); clip 1: b exact; clip 2: a exact; clip 3 (synth) left out
    assert res["tempo_nearer"]["a_only"] == 2 and res["tempo_nearer"]["b_only"] == 1


def test_runs_pair_by_seed_and_refuse_other_prompts():
    a0, a1 = run(0, ["keyboard"], [60]), run(1, ["winds"], [60])
    b1, b0 = run(1, ["keyboard"], [60]), run(0, ["winds"], [60])
    # by seed: (a0 right, b0 wrong) and (a1 wrong, b1 right); paired by list order there would be no discordance
    assert compare([a0, a1], [b1, b0])["family"] == {"n": 2, "a_only": 1, "b_only": 1, "p_value": 1.0}
    with pytest.raises(ConfigError, match="seed 1"):
        compare([a1], [b0])
    other = run(0, ["keyboard"], [60])
    other["paraphrases"]["clips"][0]["prompt"] = "something else"
    with pytest.raises(ConfigError, match="different prompts"):
        compare([a0], [other])
    with pytest.raises(ConfigError, match="--paraphrases"):
        compare([{"config": {"seed": 0}}], [b0])


def _bench_script():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("compare_evals",
                                                  Path(__file__).parents[2] / "bench" / "compare_evals.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_script_prints_and_writes(tmp_path, capsys):
    mod = _bench_script()
    fa, fb = tmp_path / "a.json", tmp_path / "b.json"
    fa.write_text(json.dumps(run(0, ["keyboard", "plucked"], [60, 60])))
    fb.write_text(json.dumps(run(0, ["winds", "winds"], [60, 60])))
    assert mod.main(["--a", str(fa), "--b", str(fb), "--json", str(tmp_path / "r.json")]) == 0
    assert "by A only 2, by B only 0" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["pairs"] == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert mod.main(["--a", str(tmp_path / "bad.json"), "--b", str(fb)]) == 2


def sfx_run(seed, heard, captions=("c0", "c1", "c2", "c0")):
    """A minimal `bench/eval_sfx.py` JSON: clip i generated from captions[i], asked 'impact', heard heard[i]."""
    return {"config": {"seed": seed}, "generated_clips": [
        {"caption_of": c, "category": "impact", "predicted": h} for c, h in zip(captions, heard)]}


def test_sfx_runs_pair_by_caption_and_seed_copy():
    from tonecraft.eval.compare import compare_sfx, is_sfx_run

    a = sfx_run(0, ["impact", "impact", "weapon", "weapon"])
    b = sfx_run(0, ["weapon", "impact", "impact", "impact"])
    assert is_sfx_run(a) and not is_sfx_run(run(0, ["keyboard"], [60]))
    res = compare_sfx([a], [b])
    assert res["pairs"] == 4 and res["category_accuracy"] == {"a": 0.5, "b": 0.75}
    assert res["category"]["a_only"] == 1 and res["category"]["b_only"] == 2  # c0's two clips pair in order
    shuffled = sfx_run(0, ["impact", "impact", "weapon", "impact"], captions=("c1", "c2", "c0", "c0"))
    assert compare_sfx([a], [shuffled])["category"] == compare_sfx([a], [b])["category"]
    with pytest.raises(ConfigError, match="no B run with seed 0"):
        compare_sfx([a], [sfx_run(1, ["impact"] * 4)])


def test_bench_script_takes_sfx_runs(tmp_path, capsys):
    mod = _bench_script()
    fa, fb = tmp_path / "a.json", tmp_path / "b.json"
    fa.write_text(json.dumps(sfx_run(0, ["impact", "impact", "weapon", "weapon"])))
    fb.write_text(json.dumps(sfx_run(0, ["weapon", "impact", "impact", "impact"])))
    assert mod.main(["--a", str(fa), "--b", str(fb)]) == 0
    assert "category accuracy A 0.500, B 0.750" in capsys.readouterr().out
