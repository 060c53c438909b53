"""AudioGen: loading an audiocraft-layout checkpoint (text2sound xp.cfg, 16 kHz codec embedded in
compression_state_dict.bin), its defaults, and `tonecraft sfx` / `tonecraft generate --model <audiogen>`."""
import pytest
import soundfile as sf
import torch
import yaml

from helpers_generation import CARD, tiny_lm
from helpers_t5 import save_tiny_t5
from tonecraft.errors import CheckpointError
from tonecraft.models import load_model
from tonecraft.models.audiogen import AudioGen
from tonecraft.models.musicgen import MusicGen

TEXT_PROJ = "condition_provider.conditioners.description.output_proj."

# audiocraft `audiogen_base_16khz` shape: text2sound conditioner (t5-large), cross-attention fuser, 10-s segments
XP_LM = {
    "solver": "audiogen", "sample_rate": 16000, "channels": 1,
    "compression_model_checkpoint": "//pretrained/facebook/audiogen-medium",
    "transformer_lm": {"dim": 32, "num_heads": 2, "num_layers": 2, "hidden_scale": 4, "n_q": 4, "card": CARD,
                       "activation": "gelu", "norm_first": True, "bias_ff": False, "bias_attn": False,
                       "bias_proj": False, "positional_embedding": "sin", "norm": "layer_norm",
                       "layer_scale": None, "kv_repeat": 1, "past_context": None},
    "codebooks_pattern": {"modeling": "delay", "delay": {"delays": [0, 1, 2, 3], "flatten_first": 0,
                                                         "empty_initial": 0}},
    "classifier_free_guidance": {"training_dropout": 0.1, "inference_coef": 3.0},
    "fuser": {"cross_attention_pos_emb": False, "sum": [], "prepend": [], "cross": ["description"],
              "input_interpolate": []},
    "conditioners": {"description": {"model": "t5", "t5": {"name": "t5-large", "finetune": False, "word_dropout": 0.0,
                                                            "normalize_text": False}}},
    "dataset": {"segment_duration": 10, "batch_size": 128},
}
# `encodec_large_nq4_s320` shape, tiny: 16 kHz, hop 320 (50 frames/s), constant padding
XP_CODEC = {
    "solver": "compression", "sample_rate": 16000, "channels": 1, "compression_model": "encodec",
    "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": "${sample_rate}",
                "channels": "${channels}", "causal": False, "renormalize": False},
    "seanet": {"dimension": 8, "channels": "${channels}", "causal": False, "n_filters": 4, "n_residual_layers": 1,
               "ratios": [8, 5, 4, 2], "activation": "ELU", "activation_params": {"alpha": 1.0}, "norm": "weight_norm",
               "norm_params": {}, "kernel_size": 7, "residual_kernel_size": 3, "last_kernel_size": 7,
               "dilation_base": 2, "pad_mode": "constant", "true_skip": True, "compress": 2, "lstm": 1,
               "disable_norm_outer_blocks": 0, "decoder": {"trim_right_ratio": 1.0, "final_activation": None,
                                                           "final_activation_params": None}, "encoder": {}},
    "rvq": {"n_q": 4, "q_dropout": False, "bins": CARD, "decay": 0.99, "kmeans_init": False, "kmeans_iters": 50,
            "threshold_ema_dead_code": 2},
}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A random tiny AudioGen in audiocraft's release layout; returns (dir, lm, codec, text proj)."""
    d = tmp_path_factory.mktemp("audiogen")
    torch.manual_seed(0)
    lm = tiny_lm(seed=1)
    with torch.no_grad():
        for p in lm.parameters():
            if p.dim() > 1:
                p.mul_(3)
    proj = {"weight": torch.randn(32, 32) * 2, "bias": torch.randn(32)}
    save_tiny_t5(d / "t5")
    xp = yaml.safe_load(yaml.safe_dump(XP_LM))
    xp["conditioners"]["description"]["t5"]["name"] = str(d / "t5")
    best = {**lm.state_dict(), **{TEXT_PROJ + k: v for k, v in proj.items()}}
    torch.save({"best_state": best, "xp.cfg": yaml.safe_dump(xp), "version": "1.0", "exported": True},
               d / "state_dict.bin")
    from tonecraft.codec.configs import CodecConfig
    from tonecraft.codec.model import Codec

    torch.manual_seed(2)  # unfolded weight norm: the released (weight_g / weight_v style) layout
    codec = Codec(CodecConfig(sample_rate=16000, dimension=8, n_filters=4, ratios=[8, 5, 4, 2], n_q=4, bins=CARD,
                              lstm_layers=1, pad_mode="constant", kmeans_init=False))
    torch.save({"best_state": codec.state_dict(), "xp.cfg": yaml.safe_dump(XP_CODEC), "version": "1.0",
                "exported": True}, d / "compression_state_dict.bin")
    return d, lm, codec.eval(), proj


def test_audiocraft_checkpoint_converts(ckpt):
    d, lm, codec, proj = ckpt
    model = AudioGen.from_pretrained(d)
    assert isinstance(model, AudioGen) and isinstance(load_model(d), AudioGen)
    assert (model.sample_rate, model.frame_rate, model.max_duration) == (16000, 50.0, 10.0)
    assert model.codec.config.pad_mode == "constant" and model.codec.total_n_q == 4
    for k, v in lm.state_dict().items():
        assert torch.equal(model.lm.state_dict()[k], v), k
    assert torch.equal(model.conditioner.output_proj.weight, proj["weight"])
    x = 0.3 * torch.randn(1, 1, 3200, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model.codec.encode(x)[0], codec.encode(x)[0])
        assert (model.codec.decode(codec.encode(x)[0]) - codec.decode(codec.encode(x)[0])).abs().max() < 1e-5
    with pytest.raises(CheckpointError, match="AudioGen"):
        MusicGen.from_pretrained(d)


def test_defaults_and_generation(ckpt):
    model = AudioGen.from_pretrained(ckpt[0])
    assert model.duration == 5.0 and model.params.extend_stride == 2.0  # audiocraft AudioGen.__init__
    model.set_generation_params()
    assert model.generation_params() == dict(duration=10.0, use_sampling=True, top_k=250, top_p=0.0, temperature=1.0,
                                             cfg_coef=3.0, extend_stride=2.0)
    model.set_generation_params(duration=0.2, use_sampling=False)
    wav, tokens = model.generate(["dog barking", "rain on a roof"], return_tokens=True)
    assert wav.shape == (2, 1, 3200) and tokens.shape == (2, 4, 10) and not torch.equal(tokens[0], tokens[1])
    assert isinstance(load_model(ckpt[0]), AudioGen)


def test_cli_sfx_and_generate_pick_audiogen(ckpt, tmp_path, monkeypatch):
    from tonecraft.cli import main
    from tonecraft.cli import sfx as cli_sfx

    d = str(ckpt[0])
    assert main(["sfx", "dog barking", "--model", d, "-d", "0.2", "-q", "--seed", "0", "-o",
                 str(tmp_path / "a.wav")]) == 0
    assert main(["generate", "dog barking", "--model", d, "-d", "0.2", "-q", "--seed", "0", "-o",
                 str(tmp_path / "b.wav")]) == 0
    info = sf.info(tmp_path / "a.wav")
    assert (info.samplerate, info.frames) == (16000, 3200)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    # defaults without -d: AudioGen's 5 s and 2-s stride (captured instead of generating 250 frames)
    seen = {}

    def fake_run(self, descriptions, **kw):
        seen.update(cls=type(self), **self.generation_params())
        return torch.zeros(len(descriptions), 1, 160)

    monkeypatch.setattr(AudioGen, "_run", fake_run)
    assert main(["sfx", "wind", "--model", d, "-q", "-o", str(tmp_path / "c.wav")]) == 0
    assert seen["cls"] is AudioGen and seen["duration"] == 5.0 and seen["extend_stride"] == 2.0
    assert cli_sfx.DEFAULT_MODEL == "tonecraft-sfx-default"  # the shipped model; audiogen-medium with -m


def test_offline_name_says_what_is_needed(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from tonecraft.errors import ModelNotFoundError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotFoundError) as exc:
        AudioGen.from_pretrained("audiogen-medium")
    for needed in ("facebook/audiogen-medium", "state_dict.bin", "compression_state_dict.bin", "t5-large"):
        assert needed in str(exc.value), needed
