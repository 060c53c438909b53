import logging

import pytest

from tonecraft import cpu_features
from tonecraft.cpu_features import PATHS, detect


def test_native_detection_is_consistent_with_torch():
    import torch

    f = detect({})
    assert f.level == "native" and f.capability == torch.backends.cpu.get_cpu_capability()
    assert f.native_bf16 == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert f.supports("transposed_gemv") == f.capability.startswith("AVX512")


def test_avx2_override_removes_avx512_and_bf16_only():
    native, f = detect({}), detect({"TONECRAFT_CPU": "avx2"})
    assert not f.avx512 and not f.supports("native_bf16") and not f.supports("onednn_prepack")
    assert "native bf16" in f.why_not("onednn_prepack")
    assert f.supports("int8") == native.supports("int8")  # AVX2 machines keep int8 and the compiler
    assert f.supports("compile") == native.supports("compile")


def test_aten_capability_env_counts_as_no_avx512():
    f = detect({"ATEN_CPU_CAPABILITY": "avx2"})
    assert not f.avx512 and not f.native_bf16


def test_baseline_override_removes_everything():
    f = detect({"TONECRAFT_CPU": "baseline"})
    assert not any(f.supports(p) for p in PATHS)


def test_single_paths_switched_off():
    f = detect({"TONECRAFT_NO_FAST_PATH": "compile, int8"})
    assert f.why_not("compile") == f.why_not("int8") == "switched off by TONECRAFT_NO_FAST_PATH"
    assert not any(detect({"TONECRAFT_NO_FAST_PATH": "all"}).supports(p) for p in PATHS)


def test_bad_override_values_warn_and_are_ignored(caplog):
    with caplog.at_level(logging.WARNING, logger="tonecraft"):
        f = detect({"TONECRAFT_CPU": "pentium", "TONECRAFT_NO_FAST_PATH": "warp"})
    assert f.level == "native" and not f.disabled
    assert "TONECRAFT_CPU=pentium" in caplog.text and "warp" in caplog.text


def test_unknown_path_is_an_error():
    with pytest.raises(ValueError, match="unknown fast path"):
        detect({}).supports("avx1024")


def test_announce_logs_once(caplog):
    cpu_features.refresh()
    with caplog.at_level(logging.INFO, logger="tonecraft"):
        cpu_features.announce("decoding", "int8 test message")
        cpu_features.announce("decoding", "int8 test message")
    assert caplog.text.count("int8 test message") == 1
    assert "native_bf16=" in cpu_features.summary()
