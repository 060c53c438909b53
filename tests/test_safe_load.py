"""tonecraft.safe_load: the one torch.load (weights_only, checked file) and the weight-file readers."""
from pathlib import Path

import pytest
import torch

from tonecraft.errors import CheckpointError
from tonecraft.safe_load import read_sharded_tensors, read_tensor_file, safe_torch_load


def test_safe_torch_load_refuses_what_is_not_plain_weights(tmp_path):
    good = tmp_path / "w.pt"
    torch.save({"w": torch.ones(2)}, good)
    assert torch.equal(safe_torch_load(good)["w"], torch.ones(2))
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "junk.pt").write_bytes(b"not a pickle at all")
    torch.save({"obj": Path("x")}, tmp_path / "object.pt")  # a class instance: refused by weights_only
    for name, match in [("missing.pt", "no such"), ("empty.pt", "empty"), ("junk.pt", "cannot read"),
                        ("object.pt", "refused")]:
        with pytest.raises(CheckpointError, match=match):
            safe_torch_load(tmp_path / name)
    with pytest.raises(CheckpointError, match="directory"):
        safe_torch_load(tmp_path)


def test_tensor_readers(tmp_path):
    from safetensors.torch import save_file

    save_file({"a.x": torch.ones(1), "b.y": torch.zeros(2)}, str(tmp_path / "s1.safetensors"))
    torch.save({"a.z": torch.ones(3)}, tmp_path / "s2.bin")
    assert set(read_tensor_file(tmp_path / "s1.safetensors", prefix="a.")) == {"x"}
    index = tmp_path / "model.index.json"
    index.write_text('{"weight_map": {"a.x": "s1.safetensors", "b.y": "s1.safetensors", "a.z": "s2.bin"}}')
    assert set(read_sharded_tensors(index)) == {"a.x", "b.y", "a.z"}
    index.write_text('{"weight_map": {"a.x": "../outside.safetensors"}}')
    with pytest.raises(CheckpointError, match="same folder"):
        read_sharded_tensors(index)
    index.write_text("{not json")
    with pytest.raises(CheckpointError, match="malformed"):
        read_sharded_tensors(index)


# -- issue 13: signals, stale temps, hostile paths ------------------------------------------------------------
