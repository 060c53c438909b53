"""Loading MusicGen checkpoints: transformers composite parity, audiocraft release layout, bad files.

Parity reference: a tiny random `transformers.MusicgenForConditionalGeneration` saved with
`save_pretrained`. HF masks padded text positions in cross-attention while audiocraft (and we) attend to
zeroed padded positions, so outputs differ for a batch of prompts with different token lengths; the
parity prompts therefore have equal token lengths (that is asserted).
"""
import pytest
import torch
import yaml

from helpers_musicgen import FRAME_RATE, hf_generate, save_tiny_hf_musicgen
from helpers_t5 import tiny_t5_tokenizer
from tonecraft.errors import CheckpointError, ModelNotFoundError
from tonecraft.models.musicgen import MusicGen
from tonecraft.pretrained.lm_convert import lm_state_dict_from_hf
from tonecraft.pretrained.musicgen_loading import AC_TEXT_PROJ, load_musicgen
from tonecraft.pretrained.registry import find_model, get_model, list_models

FRAMES = 12
PROMPT_SETS = [["a calm piano melody"], ["rock", "jazz"]]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("hf_musicgen")
    return d, save_tiny_hf_musicgen(d, seed=0)


@pytest.fixture(scope="module")
def ours_hf(hf_dir):
    return MusicGen.from_pretrained(hf_dir[0])


def _greedy(model, texts):
    model.set_generation_params(duration=FRAMES / FRAME_RATE, use_sampling=False, cfg_coef=3.0)
    return model.generate(texts, return_tokens=True)


@pytest.mark.parametrize("texts", PROMPT_SETS)
def test_transformers_dir_matches_hf_generate(hf_dir, ours_hf, texts):
    lengths = tiny_t5_tokenizer()(texts)["attention_mask"]
    assert len({sum(m) for m in lengths}) == 1, "parity prompts must have equal token lengths"
    hf_codes, hf_audio = hf_generate(hf_dir[1], texts, FRAMES, guidance_scale=3.0)
    wav, tokens = _greedy(ours_hf, texts)
    assert tokens.shape == hf_codes.shape == (len(texts), 4, FRAMES)
    assert torch.equal(tokens, hf_codes)
    assert wav.shape == hf_audio.shape
    assert (wav - hf_audio).abs().max() < 1e-4


def test_stereo_transformers_dir_matches_hf(tmp_path):
    hf = save_tiny_hf_musicgen(tmp_path, seed=2, stereo=True)
    model = MusicGen.from_pretrained(tmp_path)
    assert model.audio_channels == 2 and model.lm.cfg.delays == [0, 0, 1, 1, 2, 2, 3, 3]
    wav, tokens = _greedy(model, ["rock"])
    hf_codes, hf_audio = hf_generate(hf, ["rock"], FRAMES)
    assert tokens.shape == (1, 8, FRAMES) and torch.equal(tokens, hf_codes)
    assert wav.shape == hf_audio.shape == (1, 2, FRAMES * 32)
    assert (wav - hf_audio).abs().max() < 1e-4


def test_transformers_dir_metadata(ours_hf):
    assert ours_hf.sample_rate == 1600 and ours_hf.frame_rate == FRAME_RATE
    assert ours_hf.max_duration == 30.0 and ours_hf.params.cfg_coef == 3.0


XP_CFG = {
    "solver": "musicgen", "sample_rate": 1600, "channels": 1,
    "compression_model_checkpoint": "//pretrained/facebook/encodec_32khz",
    "transformer_lm": {
        "dim": 48, "num_heads": 4, "num_layers": 2, "hidden_scale": 4, "n_q": 4, "card": 64, "dropout": 0.0,
        "emb_lr": None, "activation": "gelu", "norm_first": True, "bias_ff": False, "bias_attn": False,
        "bias_proj": False, "past_context": None, "causal": True, "custom": False, "memory_efficient": True,
        "attention_as_float32": False, "layer_scale": None, "positional_embedding": "sin", "xpos": False,
        "checkpointing": "none", "weight_init": "gaussian", "depthwise_init": "current", "zero_bias_init": True,
        "norm": "layer_norm", "cross_attention": False, "qk_layer_norm": False, "qk_layer_norm_cross": False,
        "attention_dropout": None, "kv_repeat": 1, "two_step_cfg": False,
    },
    "codebooks_pattern": {"modeling": "delay", "delay": {"delays": [0, 1, 2, 3], "flatten_first": 0,
                                                         "empty_initial": 0}},
    "classifier_free_guidance": {"training_dropout": 0.3, "inference_coef": 3.0},
    "attribute_dropout": {},
    "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1, "sum": [], "prepend": [],
              "cross": ["description"], "input_interpolate": []},
    "conditioners": {"description": {"model": "t5", "t5": {"name": "t5-base", "finetune": False,
                                                            "word_dropout": 0.3, "normalize_text": False}}},
    "dataset": {"segment_duration": 30, "batch_size": 192},
    "generate": {"audio": {"sample_rate": "${sample_rate}", "strategy": "loudness"}},
}


def write_audiocraft_dir(directory, hf, xp=None, t5_name=None):
    """audiocraft release files converted from the HF model: state_dict.bin + compression_state_dict.bin
    (a 'pretrained' pointer to the HF EnCodec folder) and the T5 saved next to them."""
    sd = hf.state_dict()
    best = lm_state_dict_from_hf({k: v for k, v in sd.items() if k.startswith("decoder.")}, prefix="decoder.")
    best[AC_TEXT_PROJ + "weight"] = sd["enc_to_dec_proj.weight"]
    best[AC_TEXT_PROJ + "bias"] = sd["enc_to_dec_proj.bias"]
    hf.text_encoder.save_pretrained(str(directory / "t5"))
    tiny_t5_tokenizer().save_pretrained(str(directory / "t5"))
    hf.audio_encoder.save_pretrained(str(directory / "encodec"))
    xp = xp or yaml.safe_load(yaml.safe_dump(XP_CFG))
    xp["conditioners"]["description"]["t5"]["name"] = t5_name or str(directory / "t5")
    pkg = {"best_state": best, "xp.cfg": yaml.safe_dump(xp), "version": "1.0", "exported": True}
    torch.save(pkg, directory / "state_dict.bin")
    torch.save({"pretrained": str(directory / "encodec")}, directory / "compression_state_dict.bin")
    return directory


@pytest.fixture(scope="module")
def ac_dir(hf_dir, tmp_path_factory):
    return write_audiocraft_dir(tmp_path_factory.mktemp("audiocraft"), hf_dir[1])


@pytest.mark.parametrize("texts", PROMPT_SETS)
def test_audiocraft_layout_matches_hf(hf_dir, ac_dir, texts):
    model = MusicGen.from_pretrained(ac_dir)
    assert model.max_duration == 30.0 and model.lm.cfg.delays in (None, [0, 1, 2, 3])
    wav, tokens = _greedy(model, texts)
    hf_codes, hf_audio = hf_generate(hf_dir[1], texts, FRAMES)
    assert torch.equal(tokens, hf_codes)
    assert (wav - hf_audio).abs().max() < 1e-4


def test_stereo_audiocraft_layout_matches_hf(tmp_path):
    """musicgen-stereo release files: xp.cfg with `interleave_stereo_codebooks.use`, n_q 8, delays
    [0,0,1,1,2,2,3,3] and a pointer to the mono 32 kHz codec; greedy tokens equal HF's stereo generate."""
    hf = save_tiny_hf_musicgen(tmp_path / "hf", seed=2, stereo=True)
    xp = _xp(transformer_lm__n_q=8, codebooks_pattern__delay__delays=[0, 0, 1, 1, 2, 2, 3, 3], channels=2)
    xp["interleave_stereo_codebooks"] = {"use": True, "per_timestep": False}
    model = MusicGen.from_pretrained(write_audiocraft_dir(tmp_path, hf, xp=xp))
    assert model.stereo_interleaved and model.audio_channels == 2 and model.lm.cfg.delays == [0, 0, 1, 1, 2, 2, 3, 3]
    wav, tokens = _greedy(model, ["rock"])
    hf_codes, hf_audio = hf_generate(hf, ["rock"], FRAMES)
    assert torch.equal(tokens, hf_codes) and (wav - hf_audio).abs().max() < 1e-4
    # the interleaving flag on a 4-codebook LM over a 4-codebook codec (codebooks do not pair up) is refused
    mono = save_tiny_hf_musicgen(tmp_path / "mono", seed=0)
    (tmp_path / "ac_mono").mkdir()
    write_audiocraft_dir(tmp_path / "ac_mono", mono, xp=_xp(channels=2, interleave_stereo_codebooks={"use": True}))
    with pytest.raises(CheckpointError, match="stereo"):
        load_musicgen(tmp_path / "ac_mono")


def test_audiocraft_state_dict_file_and_overrides(hf_dir, ac_dir, ours_hf):
    # Point at the file itself, and replace the T5 named in xp.cfg by an explicit one.
    model = MusicGen.from_pretrained(ac_dir / "state_dict.bin", text_encoder=ours_hf.conditioner.encoder)
    _, tokens = _greedy(model, ["rock", "jazz"])
    _, ref = _greedy(ours_hf, ["rock", "jazz"])
    assert torch.equal(tokens, ref)


def test_audiocraft_sampling_matches_transformers_dir(ac_dir, ours_hf):
    a = MusicGen.from_pretrained(ac_dir)
    for m in (a, ours_hf):
        m.set_generation_params(duration=0.3, top_k=20, temperature=1.5)
    assert torch.equal(a.generate(["pop beat"], seed=3), ours_hf.generate(["pop beat"], seed=3))


# -- malformed checkpoints --------------------------------------------------------------------------------

class NotAllowed:  # a pickled class instance: refused by weights_only loading
    pass


def _xp(**changes):
    xp = yaml.safe_load(yaml.safe_dump(XP_CFG))
    for path, value in changes.items():
        node = xp
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return xp


def test_empty_dir(tmp_path):
    with pytest.raises(CheckpointError, match="state_dict.bin"):
        load_musicgen(tmp_path)


@pytest.mark.parametrize("payload, match", [
    (b"not a pickle at all", "cannot read"),
    ({"best_state": {}}, "xp.cfg"),
    ([1, 2, 3], "best_state"),
    ({"best_state": {}, "xp.cfg": "x", "evil": NotAllowed()}, "refused|cannot read"),
    ({"best_state": {}, "xp.cfg": "a: [unclosed"}, "YAML"),
    ({"best_state": {}, "xp.cfg": "solver: musicgen"}, "transformer_lm"),
])
def test_bad_state_dict_bin(tmp_path, payload, match):
    if isinstance(payload, bytes):
        (tmp_path / "state_dict.bin").write_bytes(payload)
    else:
        torch.save(payload, tmp_path / "state_dict.bin")
    with pytest.raises(CheckpointError, match=match):
        load_musicgen(tmp_path)


@pytest.mark.parametrize("changes, match", [
    (dict(transformer_lm__dim=64, transformer_lm__num_heads=4), "do not match|shapes"),
    (dict(transformer_lm__num_layers=3), "do not match"),
    (dict(transformer_lm__bias_attn=True), "bias_attn"),
    (dict(transformer_lm__positional_embedding="rope"), "positional_embedding"),
    (dict(conditioners__description__model="clap"), "clap"),
])
def test_bad_xp_cfg(hf_dir, tmp_path, changes, match):
    write_audiocraft_dir(tmp_path, hf_dir[1], xp=_xp(**changes))
    with pytest.raises(CheckpointError, match=match):
        load_musicgen(tmp_path)


def test_bad_transformers_dir(hf_dir, tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 10)
    with pytest.raises(CheckpointError, match="model_type"):
        load_musicgen(tmp_path)
    (tmp_path / "config.json").write_text((hf_dir[0] / "config.json").read_text())
    with pytest.raises(CheckpointError, match="safetensors"):
        load_musicgen(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        load_musicgen(tmp_path)


# -- names ----------------------------------------------------------------------------------------------

def test_registry():
    assert get_model("musicgen-small").hub_id == "facebook/musicgen-small"
    assert find_model("facebook/musicgen-stereo-medium").channels == 2
    assert find_model("small").name == "musicgen-small"
    assert get_model("audiogen-medium").text_encoder == "t5-large"
    assert get_model("musicgen-melody").kind == "musicgen-melody"
    assert {m.name for m in list_models("audiogen")} == {"audiogen-medium"}
    assert find_model("nope") is None


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


def test_offline_name_says_which_files(empty_cache):
    with pytest.raises(ModelNotFoundError) as exc:
        MusicGen.from_pretrained("musicgen-small")
    msg = str(exc.value)
    for needed in ("facebook/musicgen-small", "model.safetensors", "config.json", "state_dict.bin",
                   "compression_state_dict.bin", "offline"):
        assert needed in msg, needed


def test_unknown_names(empty_cache):
    with pytest.raises(ModelNotFoundError, match="musicgen-small"):
        MusicGen.from_pretrained("musicgen-gigantic")
    with pytest.raises(ModelNotFoundError, match="someone/some-model"):
        MusicGen.from_pretrained("someone/some-model")
