"""configs/sfx_codec.yaml and configs/sfx_lm.yaml load with the trainers' config classes and give the AudioGen
shape: 16 kHz, 4 codebooks, 50 Hz frames, MiniLM text conditioning."""
from pathlib import Path

from tonecraft.codec.configs import CodecConfig
from tonecraft.train.run_config import load_run_config

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def test_sfx_codec_config():
    cfg = load_run_config("codec", str(CONFIGS / "sfx_codec.yaml"), None, [])
    codec = CodecConfig(**cfg.model.params)
    assert codec.sample_rate == 16000 and codec.n_q == 4 and codec.frame_rate == 50


def test_sfx_lm_config():
    cfg = load_run_config("lm", str(CONFIGS / "sfx_lm.yaml"), None, [])
    assert cfg.model.params["n_q"] == 4 and cfg.model.params["card"] == 1024
    assert cfg.conditioner.kind == "minilm" and cfg.conditioner.attribute == "description"
