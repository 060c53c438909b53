"""Shared test set-up: offline, deterministic, and the reference packages importable."""
import importlib.machinery
import importlib.util
import os
import sys
import types

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# the date label of generated files (provenance.labels) follows SOURCE_DATE_EPOCH: same seed, same bytes
os.environ.setdefault("SOURCE_DATE_EPOCH", "1764547200")


def _stub_torchaudio() -> None:
    """The `encodec` reference package imports torchaudio for file I/O helpers we never call.
    No torchaudio build matches our torch, so register an empty module when the real one is absent."""
    if importlib.util.find_spec("torchaudio") is not None:
        return
    mod = types.ModuleType("torchaudio")
    mod.__spec__ = importlib.machinery.ModuleSpec("torchaudio", loader=None)
    sys.modules["torchaudio"] = mod


_stub_torchaudio()


def _single_thread() -> None:
    """Tiny test models run 10-100x faster on one thread than with intra-op threading on 2 cores."""
    import torch

    torch.set_num_threads(1)


_single_thread()


@pytest.fixture
def cpu_env(monkeypatch):
    """Set TONECRAFT_* CPU overrides for one test (tonecraft.cpu_features); re-read before and after."""
    from tonecraft import cpu_features

    def set_env(**env):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        return cpu_features.refresh()
    yield set_env
    monkeypatch.undo()
    cpu_features.refresh()
