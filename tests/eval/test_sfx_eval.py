"""The whole SFX evaluation (tonecraft.eval.sfx, bench/eval_sfx.py) on a tiny synthetic corpus with a tiny
random 16 kHz codec + LM: every part runs and lands in the JSON and the markdown; bad input is one line."""
import json
import runpy
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from helpers_sfx_eval import write_sfx_corpus
from tonecraft.errors import ConfigError
from tonecraft.eval.sfx import SfxEvalConfig, run_sfx

BENCH = Path(__file__).resolve().parents[2] / "bench" / "eval_sfx.py"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from tonecraft.eval.tiny import save_tiny_random_model

    tmp = tmp_path_factory.mktemp("sfx_eval")
    corpus = write_sfx_corpus(tmp / "corpus", {"train": 2, "valid": 6, "test": 6})
    return corpus, save_tiny_random_model(tmp / "model", sample_rate=16_000), tmp


def test_every_part_on_a_tiny_model(setup):
    from tonecraft.eval.report import format_sfx_markdown

    corpus, model, tmp = setup
    cfg = SfxEvalConfig(corpus=str(corpus), model=str(model), max_clips=4, seeds=2, duration=1.0,
                        min_class_count=3, folds=3, batch_size=4, speed_seconds=0.5, speed_runs=1,
                        save_audio_dir=str(tmp / "audio"))
    threads = torch.get_num_threads()
    res = run_sfx(cfg)
    codec = res["codec"]
    assert codec["n_clips"] == 4 and codec["sample_rate"] == 16_000 and codec["codec"]["n_q"] == 2
    assert "opus_6kbps" in codec or "opus_skipped" in codec
    assert list(codec["by_source"]) == ["procedural"] and codec["by_source"]["procedural"]["n"] == 4
    shift = codec["shift_agreement"]["procedural"]
    assert shift["n_clips"] == 4 and len(shift["per_codebook"]) == 2 and shift["shift"] == 16
    assert res["ce"]["n_clips"] == 4 and res["ce"]["ce_null"] > 0
    ceiling = res["probe"]["real"]["ceiling"]
    assert ceiling["n"] == 12 and set(ceiling["classes"]) == {"impact", "weather"}
    assert ceiling["accuracy"] > 0.8  # even through a random codec, bursts and steady noise differ
    gen = res["probe"]["generated"]
    assert res["generation"]["n"] == gen["n"] == 8 and res["generation"]["seeds"] == 2
    assert sorted(gen["truth_counts"].values()) == [4, 4] and gen["chance_uniform"] == 0.5
    assert len(list((tmp / "audio").rglob("*.wav"))) == 8
    assert set(res["per_category"]) == {"impact", "weather"}
    assert res["per_category"]["weather"]["real_active_s"] == pytest.approx(1.0, abs=0.05)
    assert res["envelope"]["compare"]["active_fraction"]["n"] == 8
    assert len(res["generated_clips"]) == 8 and {"predicted", "active_s"} <= set(res["generated_clips"][0])
    speed = res["speed"][0]
    assert speed["seconds_of_audio"] == 0.5 and speed["wall_s"] > 0 and speed["target_s"] == 2.0
    assert 0 < speed["cpu_s"] and speed["threads"] == 1 and torch.get_num_threads() == threads
    md = format_sfx_markdown(res)
    for heading in ("Codec on held-out clips", "LM cross-entropy", "Category probe", "Per category",
                    "Length-appropriateness", "Speed"):
        assert heading in md, heading
    assert "| impact |" in md and "generated from held-out captions" in md and "procedural clips only (4)" in md
    assert "Tokens kept when the procedural clips are delayed 16 samples" in md


def test_codec_and_probe_ceiling_without_a_model(setup):
    corpus, model, _ = setup
    res = run_sfx(SfxEvalConfig(corpus=str(corpus), codec=str(model / "codec"), parts=["codec", "probe"],
                                max_clips=2, duration=1.0, min_class_count=3, folds=3))
    assert res["codec"]["n_clips"] == 2 and "ce" not in res and "generation" not in res
    assert res["probe"]["domain"] == "real clips through the codec" and res["per_category"]["impact"]["n_real"] == 6


def test_the_probe_also_learns_every_clip_of_an_extra_corpus(setup, tmp_path):
    corpus, model, _ = setup
    extra = write_sfx_corpus(tmp_path / "arcade", {"train": 4, "valid": 1, "test": 1})
    cfg = SfxEvalConfig(corpus=str(corpus), codec=str(model / "codec"), parts=["probe"], duration=1.0,
                        min_class_count=3, folds=3, probe_extra=[str(extra)])
    res = run_sfx(cfg)
    assert res["probe"]["real"]["n"] == 12 + 6 and res["probe"]["extra"] == [str(extra)]
    assert res["probe"]["real"]["real_lasers"]["n"] == 0 and "cv_predictions" not in res["probe"]["real"]
    with pytest.raises(ConfigError, match="no train.jsonl"):
        run_sfx(replace(cfg, probe_extra=[str(tmp_path / "nothing")]))


def test_bad_input_is_one_line(setup, tmp_path, capsys):
    corpus, _, _ = setup
    with pytest.raises(ConfigError, match="unknown part"):
        run_sfx(SfxEvalConfig(corpus=str(corpus), parts=["codec", "tempo"]))
    main = runpy.run_path(str(BENCH))["main"]
    assert main(["--corpus", str(tmp_path / "nothing"), "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "test.jsonl" in err and len(err.splitlines()) == 1


def test_command_line_writes_json_and_markdown(setup, tmp_path):
    corpus, _, _ = setup
    main = runpy.run_path(str(BENCH))["main"]
    out = tmp_path / "r.json"
    assert main(["--corpus", str(corpus), "--model", "tiny-random", "--parts", "ce,probe", "--max-clips", "2",
                 "--duration", "1", "--min-class-count", "3", "--ce-seconds", "0.5", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["config"]["model"] == "tiny-random" and res["generation"]["n"] == 2 and "speed" not in res
    assert res["ce"]["segment_duration"] == 0.5
    assert "Category probe" in (tmp_path / "r.md").read_text()


def test_free_language_prompts_and_their_spectrogram_sheet(setup, tmp_path):
    corpus, _, _ = setup
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "a big hit", "category": "impact"}\n{"prompt": "steady rain", "category": '
                       '"weather"}\n{"prompt": "a dog", "category": "animal"}\n')
    main = runpy.run_path(str(BENCH))["main"]
    out, sheet = tmp_path / "r.json", tmp_path / "sheet.png"
    assert main(["--corpus", str(corpus), "--model", "tiny-random", "--parts", "probe", "--max-clips", "0",
                 "--duration", "1", "--min-class-count", "3", "--prompts", str(prompts), "--prompt-seeds", "2",
                 "--spectrograms", str(sheet), "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert "generation" not in res  # --max-clips 0: no held-out captions
    pr = res["prompts"]
    assert [r["n"] for r in pr["prompts"]] == [2, 2, 2] and pr["unscored"] == ["animal"] and pr["n_scored"] == 4
    assert set(pr["categories"]) <= {"impact", "weather"} and pr["generation"]["n"] == 6
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "r.md").read_text()
    assert "Free-language prompts" in md and "| a dog | animal | - |" in md


def test_a_bad_prompt_file_fails_before_any_work(setup, tmp_path):
    corpus, _, _ = setup
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"prompt": "a laser shot"}\n')
    # the model does not exist either: the prompt file is read first, before the model is loaded
    with pytest.raises(ConfigError, match=f"{bad}:1: 'category'"):
        run_sfx(SfxEvalConfig(corpus=str(corpus), model=str(tmp_path / "no-model"), parts=["probe"], prompts=str(bad)))


def test_the_glide_part_counts_sweeps_raw_through_the_codec_and_generated(tmp_path):
    """Held-out synthesiser lasers sweep raw (all of them), the counts through the codec and from the LM are
    there for every generator and the free laser prompts; the markdown has the table."""
    from tonecraft.eval.report import format_sfx_markdown
    from tonecraft.eval.sfx import GLIDE_CONTROL_PROMPTS, GLIDE_PROMPTS
    from tonecraft.eval.tiny import save_tiny_random_model

    corpus = write_sfx_corpus(tmp_path / "corpus", {"train": 1, "valid": 2, "test": 4}, kinds=("laser", "impact"))
    model = save_tiny_random_model(tmp_path / "model", sample_rate=16_000)
    res = run_sfx(SfxEvalConfig(corpus=str(corpus), model=str(model), parts=["glide"], prompt_seeds=1,
                                batch_size=4))
    laser = res["glide"]["by_generator"]["laser"]
    assert laser["raw"] == {**laser["raw"], "sweeps": 2, "n": 2, "share": 1.0, "sweeps_tonal": 2}
    assert laser["codec"]["n"] == laser["generated"]["n"] == 2
    assert res["glide"]["by_generator"]["jump"]["raw"]["n"] == 0
    assert res["glide"]["laser_prompts"]["n"] == len(GLIDE_PROMPTS)
    assert res["glide"]["control_prompts"]["n"] == len(GLIDE_CONTROL_PROMPTS)
    md = format_sfx_markdown(res)
    assert "Pitch sweeps" in md and "| laser | 2/2 (tonal 2) |" in md and "Free laser prompts" in md
    assert "Controls, prompts without a glide" in md


def test_codec_flag_loads_an_export_whose_codec_reference_does_not_resolve(setup, tmp_path):
    """An LM export records its training codec's path as given to the trainer (often relative to a checkout):
    `--codec` must reach the loader for export folders too, not only for checkpoints."""
    import shutil

    from tonecraft.errors import ModelNotFoundError
    from tonecraft.eval.sfx import load_sfx_model

    _, model, _ = setup
    lm_only = tmp_path / "export"
    shutil.copytree(model, lm_only, ignore=shutil.ignore_patterns("codec"))
    config = json.loads((lm_only / "config.json").read_text())
    (lm_only / "config.json").write_text(json.dumps({**config, "codec": "src/not/here/codec"}))
    with pytest.raises(ModelNotFoundError):
        load_sfx_model(str(lm_only))
    loaded = load_sfx_model(str(lm_only), str(Path(model) / "codec"))
    assert loaded.sample_rate == 16_000
