"""Free-language SFX prompts (tonecraft.eval.sfx_prompts): the file is checked line by line before a long run,
and the summary counts what the probe heard per prompt and per category."""
import json

import pytest

from tonecraft.errors import ConfigError
from tonecraft.eval.sfx_prompts import load_sfx_prompts, prompt_summary


def _write(tmp_path, rows):
    p = tmp_path / "prompts.jsonl"
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return p


def test_loads_prompts_with_their_category(tmp_path):
    clips = load_sfx_prompts(_write(tmp_path, [{"prompt": " a laser shot ", "category": "weapon"}, "",
                                               {"prompt": "rain", "category": "weather"}]))
    assert [c.description for c in clips] == ["a laser shot", "rain"]
    assert [c.info["category"] for c in clips] == ["weapon", "weather"]
    assert clips[0].path != clips[1].path


@pytest.mark.parametrize("row, message", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "expected a JSON object"),
    ({"prompt": "", "category": "weapon"}, "'prompt'"),
    ({"prompt": "a laser shot"}, "'category'"),
    ({"prompt": "a laser shot", "category": 3}, "'category'"),
])
def test_a_bad_line_names_file_and_line(tmp_path, row, message):
    path = _write(tmp_path, [{"prompt": "rain", "category": "weather"}, row])
    with pytest.raises(ConfigError, match=message) as e:
        load_sfx_prompts(path)
    assert f"{path}:2" in str(e.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_sfx_prompts(tmp_path / "none.jsonl")
    with pytest.raises(ConfigError, match="no prompts"):
        load_sfx_prompts(_write(tmp_path, [""]))


def test_summary_per_prompt_and_category(tmp_path):
    clips = load_sfx_prompts(_write(tmp_path, [{"prompt": "a laser shot", "category": "weapon"},
                                               {"prompt": "a gunshot", "category": "weapon"},
                                               {"prompt": "rain", "category": "weather"},
                                               {"prompt": "a dog", "category": "animal"}]))
    done = [clips[0], clips[0], clips[1], clips[1], clips[2], clips[2], clips[3], clips[3]]  # two seeds each
    pred = ["weapon", "impact", "impact", "impact", "weather", "weather", "weather", "impact"]
    s = prompt_summary(done, pred, known={"weapon", "impact", "weather"})
    laser, gun, rain, dog = s["prompts"]
    assert (laser["hits"], laser["n"], laser["heard"]) == (1, 2, [["weapon", 1], ["impact", 1]])
    assert (gun["hits"], gun["heard"]) == (0, [["impact", 2]])
    assert rain["hits"] == 2 and dog["scored"] is False and s["unscored"] == ["animal"]
    assert s["categories"] == {"weapon": {"n": 4, "hits": 1, "recall": 0.25},
                               "weather": {"n": 2, "hits": 2, "recall": 1.0}}
    assert s["n_scored"] == 6 and s["accuracy"] == pytest.approx(3 / 6)
    assert s["balanced_accuracy"] == pytest.approx((0.25 + 1.0) / 2)
    with pytest.raises(ValueError):
        prompt_summary(done, pred[:-1], known={"weapon"})


def test_the_committed_prompt_set_loads():
    from pathlib import Path

    clips = load_sfx_prompts(Path(__file__).resolve().parents[2] / "bench" / "sfx_prompts.jsonl")
    assert len(clips) >= 40 and len({c.description for c in clips}) == len(clips)
    assert "a laser shot" in {c.description for c in clips}
