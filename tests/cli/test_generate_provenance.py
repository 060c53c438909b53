"""`tonecraft generate` labels and watermarks its files by default; --no-watermark says so in the labels;
--stream marks chunk by chunk."""
import pytest

from helpers_musicgen import save_tiny_hf_musicgen
from tonecraft.cli import main
from tonecraft.provenance.labels import read_labels


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_model_wm")
    save_tiny_hf_musicgen(d, seed=1)
    return str(d)


@pytest.mark.parametrize("extra, state", [((), "on"), (("--no-watermark",), "off"), (("--stream",), "on")])
def test_generated_files_are_labelled(model_dir, tmp_path, extra, state):
    out = tmp_path / "out.wav"
    assert main(["generate", "organ", "--model", model_dir, "--duration", "2", "--seed", "5", "-o", str(out),
                 "--quiet", *extra]) == 0
    labels = read_labels(out)
    assert labels["watermark"] == state and labels["prompt"] == "organ" and labels["seed"] == 5
    assert labels["model"] == model_dir and labels["params"]["duration"] == 2.0
    assert ("payload" in labels) == (state == "on")
