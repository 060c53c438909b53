"""End to end on an emulated older CPU: qemu-user with `-cpu Haswell` (AVX2, no AVX-512, no native bf16)
runs a tiny LM through every decoding fast path. PyTorch's bf16 check reads the CPU's real flags, so this is
the one test where the fallbacks meet a CPU that truly lacks the features (installed by .ci/run: qemu-user)."""
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import torch
from tonecraft import cpu_features
from tonecraft.lm.config import LMConfig
from tonecraft.lm.generate import ConditionTensors, generate_tokens
from tonecraft.lm.model import LMModel

print("summary", cpu_features.summary())
torch.manual_seed(0)
cond = ConditionTensors(cross=torch.randn(1, 3, 32))
for dtype, mode in (("bfloat16", None), ("float32", "int8")):
    lm = LMModel(LMConfig(dim=32, num_heads=2, num_layers=1, card=16, dtype=dtype)).eval()
    a = generate_tokens(lm, cond, max_gen_len=4, use_sampling=False)
    lm.optimize_decoding(dtype=mode)
    b = generate_tokens(lm, cond, max_gen_len=4, use_sampling=False)
    print("result", dtype, mode, lm.decoding_path, "equal" if torch.equal(a, b) else "differs", tuple(b.shape))
"""


def test_fast_paths_on_emulated_haswell():
    qemu = shutil.which("qemu-x86_64")
    if platform.machine() != "x86_64" or qemu is None:
        pytest.skip("needs qemu-x86_64 on an x86_64 host (Debian package qemu-user; .ci/run installs it)")
    python = os.path.realpath(sys.executable)
    paths = [p for p in sys.path if p] + [str(Path(__file__).resolve().parents[1] / "src")]
    boot = f"import sys; sys.path[:0] = {paths!r}; exec({SCRIPT!r})"
    env = {**os.environ, "TONECRAFT_CPU": "native", "OMP_NUM_THREADS": "1"}
    env.pop("TONECRAFT_NO_FAST_PATH", None)
    out = subprocess.run([qemu, "-cpu", "Haswell", python, "-c", boot], capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    summary = next(line for line in lines if line.startswith("summary"))
    assert "AVX2" in summary and "native_bf16=off" in summary and "onednn_prepack=off" in summary
    results = [line.split() for line in lines if line.startswith("result")]
    assert results[0][1:5] == ["bfloat16", "None", "eager", "equal"]  # plain bf16, no crash
    assert results[1][1:4] == ["float32", "int8", "int8"]  # int8 kernels run on AVX2
