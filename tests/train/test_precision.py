"""CPU training precision: `auto` takes bf16 autocast only where the CPU has native bf16 (emulated bf16 is several
times slower); an explicit bf16 without it is kept and warned; the codec trainer stays in fp32."""
import logging
from types import SimpleNamespace

import pytest

from tonecraft import cpu_features
from tonecraft.train.codec_trainer import CodecTrainer
from tonecraft.train.loop import Trainer


@pytest.fixture
def cpu(monkeypatch):
    def set_cpu(kind: str | None):
        if kind is None:
            monkeypatch.delenv("TONECRAFT_CPU", raising=False)
        else:
            monkeypatch.setenv("TONECRAFT_CPU", kind)
        cpu_features.refresh()
    yield set_cpu
    monkeypatch.delenv("TONECRAFT_CPU", raising=False)
    cpu_features.refresh()


def precision(asked: str, cls=Trainer) -> str:
    return Trainer._cpu_precision(SimpleNamespace(cpu_autocast=cls.cpu_autocast), asked)


def test_auto_is_fp32_without_native_bf16(cpu):
    cpu("avx2")
    assert precision("auto") == "fp32"
    assert precision("fp32") == "fp32"


def test_explicit_bf16_without_native_bf16_is_kept_and_warned(cpu, caplog):
    cpu("avx2")
    with caplog.at_level(logging.WARNING, logger="tonecraft"):
        assert precision("bf16") == "bf16"
    assert "several times slower" in caplog.text


def test_auto_follows_the_real_cpu(cpu):
    cpu(None)
    native = cpu_features.supports("native_bf16")
    assert precision("auto") == ("bf16" if native else "fp32")
    assert precision("auto", CodecTrainer) == "fp32"  # codebook search wants full precision, native or not
