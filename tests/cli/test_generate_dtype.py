"""`tonecraft generate --dtype int8 | bfloat16 [-v]`: the fast path where the CPU supports it, a plain path
with a one-line notice where it does not (forced here with the TONECRAFT_* overrides), never an error."""
import pytest
import soundfile as sf

from helpers_musicgen import SAMPLE_RATE, save_tiny_hf_musicgen
from tonecraft.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_dtype_model")
    save_tiny_hf_musicgen(d, seed=1)
    return str(d)


def _run(model_dir, out, *extra):
    return main(["generate", "a calm piano melody", "--model", model_dir, "--duration", "0.2", "-o", str(out),
                 "--quiet", "--seed", "3", *extra])


def test_int8_writes_audio_and_says_which_path(model_dir, tmp_path, capsys, cpu_env):
    features = cpu_env()
    assert _run(model_dir, tmp_path / "q.wav", "--dtype", "int8", "-v") == 0
    err = capsys.readouterr().err
    wav, sr = sf.read(tmp_path / "q.wav")
    assert sr == SAMPLE_RATE and len(wav) == 320
    assert "loaded in" in err and "int8=" in err
    if features.supports("int8"):
        assert "int8 dynamic-quantised linears" in err
    assert "Traceback" not in err


def test_int8_unavailable_falls_back_to_float32(model_dir, tmp_path, capsys, cpu_env):
    cpu_env(TONECRAFT_CPU="baseline")
    assert _run(model_dir, tmp_path / "q.wav", "--dtype", "int8") == 0
    err = capsys.readouterr().err
    assert "--dtype int8: not available here, decoding in float32" in err  # a warning: shown without -v
    assert _run(model_dir, tmp_path / "f.wav", "--dtype", "float32") == 0
    assert (tmp_path / "q.wav").read_bytes() == (tmp_path / "f.wav").read_bytes()  # really the float32 path


def test_bf16_without_native_support_works_and_says_so(model_dir, tmp_path, capsys, cpu_env):
    cpu_env(TONECRAFT_CPU="avx2")
    assert _run(model_dir, tmp_path / "b.wav", "--dtype", "bfloat16") == 0
    err = capsys.readouterr().err
    assert "no native bf16" in err and "slower" in err
    wav, sr = sf.read(tmp_path / "b.wav")
    assert sr == SAMPLE_RATE and len(wav) == 320


def test_quiet_by_default(model_dir, tmp_path, capsys, cpu_env):
    cpu_env()
    assert _run(model_dir, tmp_path / "p.wav") == 0
    assert "loaded in" not in capsys.readouterr().err
