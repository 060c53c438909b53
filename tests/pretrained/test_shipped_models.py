"""Names of tonecraft's own models resolve to their asset folders; a missing one says how to build it."""
import shutil

import pytest
import torch

from tonecraft.errors import ModelNotFoundError
from tonecraft.pretrained import default_model as dm


def test_names_and_aliases_resolve_case_insensitively():
    assert dm.find_shipped("tonecraft-default").family == "musicgen"
    assert dm.find_shipped(" Default ").name == "tonecraft-default"
    sfx = dm.find_shipped("SFX-default")
    assert sfx.name == "tonecraft-sfx-default" and sfx.family == "audiogen" and sfx.folder == "sfx"
    assert dm.find_shipped("tonecraft/sfx-default") is sfx
    assert dm.find_shipped("musicgen-small") is None and dm.find_shipped("sfx") is None
    assert dm.is_default_name("sfx-default") and not dm.is_default_name("audiogen-medium")


def test_missing_model_names_its_make_target(tmp_path, monkeypatch):
    monkeypatch.setattr(dm, "ASSETS", tmp_path)
    assert dm.shipped_models() == []
    with pytest.raises(ModelNotFoundError, match="make train-sfx"):
        dm.shipped_model_dir("tonecraft-sfx-default")
    with pytest.raises(ModelNotFoundError, match="not one of tonecraft's own models"):
        dm.shipped_model_dir("musicgen-small")


def test_installed_models_are_listed_per_family(tmp_path, monkeypatch):
    monkeypatch.setattr(dm, "ASSETS", tmp_path)
    sfx = tmp_path / "sfx"
    sfx.mkdir()
    (sfx / "config.json").write_text("{}")
    assert dm.shipped_models() == []  # weights missing: not installed
    (sfx / "model.safetensors").write_bytes(b"")
    assert dm.shipped_models() == ["tonecraft-sfx-default"]
    assert dm.shipped_models("musicgen") == [] and dm.shipped_models("audiogen") == ["tonecraft-sfx-default"]
    assert dm.shipped_model_dir("sfx-default") == sfx
    shutil.rmtree(sfx)
    assert dm.shipped_models() == []


def test_a_shipped_models_name_loads_its_codec(tmp_path, monkeypatch):
    """`load_codec("tonecraft-sfx-default")` is the codec the shipped LM decodes with (e.g. to fine-tune its
    decoder); without the model installed it says how to build it."""
    from tonecraft.pretrained.codec_loading import load_codec

    codec = load_codec("sfx-default")
    reference = load_codec(dm.ASSETS / "sfx" / "codec")
    assert codec.config == reference.config
    assert all(torch.equal(a, b) for a, b in zip(codec.state_dict().values(), reference.state_dict().values()))
    monkeypatch.setattr(dm, "ASSETS", tmp_path)
    with pytest.raises(ModelNotFoundError, match="make train-sfx"):
        load_codec("tonecraft-sfx-default")
