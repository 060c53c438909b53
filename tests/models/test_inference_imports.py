"""Inference stands without training: loading the default model through the API, and a whole
`tonecraft generate` through the CLI, import no module of tonecraft.train, tonecraft.data or tonecraft.eval.

Run in a fresh interpreter, because the test session itself has imported everything."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tonecraft.conditioning.minilm import minilm_available
from tonecraft.errors import ModelNotFoundError
from tonecraft.pretrained.default_model import default_model_dir

TRAINING = ("tonecraft.train", "tonecraft.data", "tonecraft.eval")
SCRIPT = """
import json, sys
from tonecraft.models import MusicGen
MusicGen.from_pretrained("tonecraft-default")
after_load = sorted(sys.modules)
from tonecraft.cli import main
rc = main(["generate", "a slow organ chorale", "-d", "0.3", "-q", "--seed", "0", "-o", sys.argv[1]])
print(json.dumps({"rc": rc, "after_load": after_load, "after_cli": sorted(sys.modules)}))
"""


def _has_default_model() -> bool:
    try:
        default_model_dir()
    except ModelNotFoundError:
        return False
    return minilm_available()


def training_modules(names: list[str]) -> list[str]:
    return [n for n in names if any(n == t or n.startswith(t + ".") for t in TRAINING)]


def test_training_modules_are_recognised():  # the check below can fail
    assert training_modules(["tonecraft.train.loop", "tonecraft.data", "tonecraft.models", "tonecraft.training"]) == [
        "tonecraft.train.loop", "tonecraft.data"]


@pytest.mark.skipif(not _has_default_model(), reason="default model or its text encoder not installed")
def test_default_model_and_generate_cli_import_no_training_code(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = tmp_path / "x.wav"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True, text=True, env=env,
                          timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["rc"] == 0 and out.is_file()
    assert "tonecraft.models.musicgen" in res["after_load"] and "tonecraft.cli.generate" in res["after_cli"]
    assert training_modules(res["after_load"]) == []
    assert training_modules(res["after_cli"]) == []
