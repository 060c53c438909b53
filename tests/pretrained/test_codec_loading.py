"""Codec loading: formats, offline hub resolution, clear errors for missing / malformed checkpoints."""
import json
import pickle

import pytest
import torch

from helpers_codec import randomize_codebooks_
from tonecraft.codec import Codec, CodecConfig
from tonecraft.errors import CheckpointError, ModelNotFoundError, TonecraftError
from tonecraft import hub
from tonecraft.pretrained import codec_loading
from tonecraft.pretrained.codec_loading import load_codec

TINY = CodecConfig(name="tiny", sample_rate=8000, dimension=8, n_filters=4, ratios=[4, 2], n_q=2, bins=16,
                   target_bandwidths=[8.0])
HF_TINY = dict(model_type="encodec", sampling_rate=8000, audio_channels=1, hidden_size=8, num_filters=4,
               upsampling_ratios=[4, 2], codebook_size=16, target_bandwidths=[8.0], use_causal_conv=False,
               use_conv_shortcut=True, pad_mode="reflect", norm_type="weight_norm", normalize=False)


def _tiny_codec() -> Codec:
    torch.manual_seed(0)
    c = Codec(TINY)
    with torch.no_grad():
        randomize_codebooks_(layer._codebook for layer in c.quantizer.layers)
    return c.eval()


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Offline, with empty Hugging Face and torch hub caches."""
    from huggingface_hub import constants
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(hub, "torch_hub_checkpoint_dir", lambda: tmp_path / "torch" / "checkpoints")
    return tmp_path


def test_offline_missing_hub_model_names_files(empty_caches):
    with pytest.raises(ModelNotFoundError) as e:
        load_codec("facebook/encodec_32khz")
    msg = str(e.value)
    assert "config.json" in msg and "model.safetensors" in msg and "pytorch_model.bin" in msg
    assert "facebook/encodec_32khz" in msg and "HF_HUB_OFFLINE" in msg and "folder" in msg
    with pytest.raises(ModelNotFoundError) as e:
        load_codec("someone/unknown-codec")
    assert "compression_state_dict.bin" in str(e.value) and "config.json" in str(e.value)
    with pytest.raises(ModelNotFoundError) as e:
        load_codec("audiogen_16khz")
    assert "compression_state_dict.bin" in str(e.value) and "facebook/audiogen-medium" in str(e.value)


def test_offline_missing_encodec_name_names_th_file(empty_caches):
    with pytest.raises(ModelNotFoundError) as e:
        load_codec("encodec_24khz")
    msg = str(e.value)
    assert "encodec_24khz-d7cc33bc.th" in msg and "dl.fbaipublicfiles.com/encodec/v0/" in msg
    assert "facebook/encodec_24khz" in msg


def test_unknown_name():
    with pytest.raises(ModelNotFoundError) as e:
        load_codec("no-such-codec")
    assert "encodec_24khz" in str(e.value)


def test_offline_hub_cache_is_used(empty_caches):
    """A repo already in the HF cache loads offline (snapshot layout written by hand)."""
    c = _tiny_codec()
    snap = empty_caches / "hf" / "models--someone--tiny-codec" / "snapshots" / ("a" * 40)
    c.save_pretrained(snap)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("a" * 40)
    loaded = load_codec("someone/tiny-codec")
    x = torch.randn(1, 1, 64)
    assert torch.equal(loaded.encode(x)[0], c.encode(x)[0])


def test_encodec_name_from_torch_hub_dir(empty_caches):
    from encodec import EncodecModel
    ref = EncodecModel.encodec_model_24khz(pretrained=False)
    ckpt = empty_caches / "torch" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(ref.state_dict(), ckpt / "encodec_24khz-d7cc33bc.th")
    c = load_codec("encodec_24khz")
    assert c.config.name == "encodec_24khz" and c.config.causal


def test_hf_folder_with_legacy_weight_norm_and_bin(tmp_path):
    """transformers folders may hold pytorch_model.bin with weight_g / weight_v names."""
    from transformers import EncodecConfig, EncodecModel
    torch.manual_seed(0)
    cfg = {k: v for k, v in HF_TINY.items() if k != "model_type"}
    ref = EncodecModel(EncodecConfig(**cfg)).eval()
    with torch.no_grad():
        randomize_codebooks_(layer.codebook for layer in ref.quantizer.layers)
    sd = {k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v"): v
          for k, v in ref.state_dict().items()}
    (tmp_path / "config.json").write_text(json.dumps(HF_TINY))
    torch.save(sd, tmp_path / "pytorch_model.bin")
    ours = load_codec(tmp_path)
    assert not ours.config.true_skip and ours.total_n_q == 2
    x = torch.randn(1, 1, 100)
    with torch.no_grad():
        ref_codes = ref.encode(x, bandwidth=8.0).audio_codes[0]
    assert torch.equal(ours.encode(x)[0], ref_codes)
    # and from a (musicgen-style) config dict + state dict
    c2 = codec_loading.codec_from_hf(HF_TINY, sd)
    assert torch.equal(c2.encode(x)[0], ref_codes)


def test_native_save_is_atomic_and_complete(tmp_path):
    c = _tiny_codec()
    c.save_pretrained(tmp_path)
    c.save_pretrained(tmp_path)  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["model_type"] == "tonecraft_codec" and cfg["ratios"] == [4, 2]
    assert load_codec(tmp_path / "model.safetensors").config == c.config


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("kind", ["garbage", "pickle_object", "wrong_dict", "wrong_shapes", "bad_json",
                                  "no_weights", "bad_yaml", "no_cfg", "empty_dir"])
def test_malformed_checkpoints_raise_checkpoint_error(tmp_path, kind):
    target = tmp_path / "ckpt.bin"
    if kind == "garbage":
        target.write_bytes(b"\x00not a checkpoint" * 10)
    elif kind == "pickle_object":
        with open(target, "wb") as f:
            pickle.dump({"best_state": _Evil()}, f)
    elif kind == "wrong_dict":
        torch.save({"hello": "world"}, target)
    elif kind == "wrong_shapes":
        sd = _tiny_codec().state_dict()
        sd["encoder.model.0.conv.conv.bias"] = torch.zeros(3)
        torch.save(sd, tmp_path / "encodec_24khz-d7cc33bc.th")
        target = tmp_path / "encodec_24khz-d7cc33bc.th"
    elif kind == "bad_json":
        (tmp_path / "config.json").write_text("{not json")
        (tmp_path / "model.safetensors").write_bytes(b"x")
        target = tmp_path
    elif kind == "no_weights":
        (tmp_path / "config.json").write_text(json.dumps(HF_TINY))
        target = tmp_path
    elif kind == "bad_yaml":
        torch.save({"best_state": {"a": torch.zeros(1)}, "xp.cfg": "a: [unclosed"}, target)
    elif kind == "no_cfg":
        torch.save({"best_state": _tiny_codec().state_dict()}, target)
    elif kind == "empty_dir":
        (tmp_path / "empty").mkdir()
        target = tmp_path / "empty"
    with pytest.raises(CheckpointError) as e:
        load_codec(target)
    assert isinstance(e.value, TonecraftError) and str(e.value)
