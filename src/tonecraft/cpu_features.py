"""Which CPU fast paths this machine supports, decided in one place (with an override for tests).

A fast path must never crash on a CPU that lacks the feature it needs: callers ask `supports(path)` and take
the plain path otherwise, and `announce(...)` says once which path was taken (log level INFO; the CLI's
`--verbose` shows it). The paths:

- `native_bf16`: bfloat16 matrix products in hardware. PyTorch's oneDNN bf16 kernels (and the weight
  prepacking below) need AVX512-BW/VL/DQ or AVX-NE-CONVERT on x86, or the bf16 extension on ARM; without
  them bf16 still runs, emulated and slower than float32. Read from `torch.ops.mkldnn._is_mkldnn_bf16_supported`,
  which checks the CPU's real flags.
- `onednn_prepack`: bf16 linear weights reordered ahead of time for oneDNN (`torch.ops.mkldnn.*`, private
  ops, used only behind this check). Needs `native_bf16` and a oneDNN build.
- `transposed_gemv`: computing a few-row `x @ W.T` as `W @ x.T`, which MKL runs about 2x faster on AVX-512
  CPUs; on AVX2 it is slower (measured: `bench/cpu_paths.py`), so only with AVX-512.
- `compile`: torch.compile (inductor) of the decoding step, which needs a C++ compiler on CPU.
- `int8`: dynamic int8 linear kernels (`torch.ao.quantization`): needs a quantized engine (x86/fbgemm with
  AVX2, or qnnpack on ARM).

Environment overrides (they can only take paths away, never add one the CPU lacks):
- `TONECRAFT_CPU=avx2`  behave as on an AVX2-only CPU (no AVX-512, no native bf16): how CI tests the fallbacks
  on machines that have the features. `TONECRAFT_CPU=baseline` also drops int8 and the compiler.
- `TONECRAFT_NO_FAST_PATH=compile,int8,...` switches single paths off (`all` for every one).
PyTorch's own `ATEN_CPU_CAPABILITY` (limits ATen's SIMD dispatch) is read too: `avx2` or `default` there
counts as no AVX-512. `ONEDNN_MAX_CPU_ISA` limits oneDNN's dispatch but not PyTorch's bf16 check, so it does
not make the prepacking safe to skip: use `TONECRAFT_CPU` for that.
"""
from __future__ import annotations

import functools
import logging
import os
import platform
import shutil
from dataclasses import dataclass

import torch

PATHS = ("native_bf16", "onednn_prepack", "transposed_gemv", "compile", "int8")
LEVELS = ("native", "avx2", "baseline")  # TONECRAFT_CPU values, from most to least capable

log = logging.getLogger("tonecraft")


@dataclass(frozen=True)
class CpuFeatures:
    """What this CPU (after overrides) offers, with the reason a path is off."""

    arch: str
    capability: str  # ATen's dispatch level: "AVX512", "AVX2", "DEFAULT", "NEON", ...
    avx512: bool
    native_bf16: bool
    onednn: bool
    quantized_engine: str | None
    cxx_compiler: str | None
    disabled: frozenset[str]
    level: str

    def supports(self, path: str) -> bool:
        return self.why_not(path) is None

    def why_not(self, path: str) -> str | None:
        """None when `path` can be used, else a short reason."""
        if path not in PATHS:
            raise ValueError(f"unknown fast path {path!r} (known: {', '.join(PATHS)})")
        if path in self.disabled:
            return "switched off by TONECRAFT_NO_FAST_PATH"
        if path == "native_bf16":
            return None if self.native_bf16 else "this CPU has no native bf16 (needs AVX512-BW/VL/DQ or AVX-NE-CONVERT)"
        if path == "onednn_prepack":
            if not self.onednn:
                return "PyTorch was built without oneDNN"
            return self.why_not("native_bf16")
        if path == "transposed_gemv":
            return None if self.avx512 else "only faster with AVX-512"
        if path == "compile":
            return None if self.cxx_compiler else "no C++ compiler for torch.compile (install g++)"
        if path == "int8":
            return None if self.quantized_engine else "no quantized engine for this CPU"
        return None


def _real_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _quantized_engine() -> str | None:
    engines = torch.backends.quantized.supported_engines
    for name in ("x86", "fbgemm", "qnnpack"):
        if name in engines and (name == "qnnpack" or torch.backends.cpu.get_cpu_capability() != "DEFAULT"):
            return name
    return None


def _disabled_paths(raw: str) -> frozenset[str]:
    names = {p.strip().lower() for p in raw.split(",") if p.strip()}
    if "all" in names:
        return frozenset(PATHS)
    unknown = names - set(PATHS)
    if unknown:
        log.warning("TONECRAFT_NO_FAST_PATH: ignoring unknown path(s) %s (known: %s)",
                    ", ".join(sorted(unknown)), ", ".join(PATHS))
    return frozenset(names & set(PATHS))


def detect(env: dict[str, str] | None = None) -> CpuFeatures:
    """Read the CPU and the overrides (`env` defaults to os.environ)."""
    env = os.environ if env is None else env
    level = env.get("TONECRAFT_CPU", "native").strip().lower() or "native"
    if level not in LEVELS:
        log.warning("TONECRAFT_CPU=%s is not one of %s: ignored", level, ", ".join(LEVELS))
        level = "native"
    capability = torch.backends.cpu.get_cpu_capability()
    aten_cap = env.get("ATEN_CPU_CAPABILITY", "").strip().lower()
    avx512 = capability.startswith("AVX512") and aten_cap not in ("avx2", "default")
    native_bf16 = _real_native_bf16()
    if level != "native" or aten_cap in ("avx2", "default"):
        # without AVX-512 an x86 CPU may still have AVX-NE-CONVERT, but the override means "an older CPU"
        avx512, native_bf16 = False, False
    quantized = _quantized_engine()
    compiler = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if level == "baseline":
        quantized, compiler = None, None
    return CpuFeatures(arch=platform.machine(), capability=capability, avx512=avx512, native_bf16=native_bf16,
                       onednn=torch.backends.mkldnn.is_available(), quantized_engine=quantized,
                       cxx_compiler=compiler, disabled=_disabled_paths(env.get("TONECRAFT_NO_FAST_PATH", "")),
                       level=level)


@functools.lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    """The features of this process's CPU (read once; `refresh()` after changing the environment)."""
    return detect()


def refresh() -> CpuFeatures:
    cpu_features.cache_clear()
    _announced.clear()
    return cpu_features()


def supports(path: str) -> bool:
    return cpu_features().supports(path)


def why_not(path: str) -> str | None:
    return cpu_features().why_not(path)


_announced: set[str] = set()


def announce(topic: str, message: str, level: int = logging.INFO) -> None:
    """Log which path `topic` took, once per process and topic (the CLI's --verbose shows INFO)."""
    key = f"{topic}:{message}"
    if key not in _announced:
        _announced.add(key)
        log.log(level, "%s: %s", topic, message)


def summary() -> str:
    """One line for --verbose / bug reports: the CPU and every path's state."""
    f = cpu_features()
    parts = [f"{p}={'on' if f.supports(p) else 'off'}" for p in PATHS]
    return f"cpu {f.arch} {f.capability} (TONECRAFT_CPU={f.level}): " + " ".join(parts)
