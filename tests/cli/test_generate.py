"""`tonecraft generate` end to end on a tiny transformers-format MusicGen directory."""
import pytest
import soundfile as sf

from helpers_musicgen import SAMPLE_RATE, save_tiny_hf_musicgen
from tonecraft.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_model")
    save_tiny_hf_musicgen(d, seed=1)
    return str(d)


def _run(model_dir, out, *extra):
    return main(["generate", "a calm piano melody", "--model", model_dir, "--duration", "0.2", "-o", str(out),
                 "--quiet", *extra])


def test_writes_numbered_files_reproducibly(model_dir, tmp_path, capsys):
    assert _run(model_dir, tmp_path / "a" / "out.wav", "-n", "2", "--seed", "7") == 0
    assert _run(model_dir, tmp_path / "b" / "out.wav", "-n", "2", "--seed", "7") == 0
    printed = capsys.readouterr().out
    assert "out_0.wav" in printed and "out_1.wav" in printed
    for name in ("out_0.wav", "out_1.wav"):
        a, b = tmp_path / "a" / name, tmp_path / "b" / name
        assert a.read_bytes() == b.read_bytes()
        wav, sr = sf.read(a)
        assert sr == SAMPLE_RATE and wav.shape == (10 * 32,)
    assert not (tmp_path / "a" / "out.wav").exists()


def test_four_variations_differ_and_repeat(model_dir, tmp_path, capsys):
    """`-n 4 --seed 7`: four files from one batch; each differs from the others; the same seed repeats them."""
    for run in ("a", "b"):
        assert _run(model_dir, tmp_path / run / "v.wav", "-n", "4", "--seed", "7") == 0
    names = [f"v_{i}.wav" for i in range(4)]
    assert capsys.readouterr().out.split() == [str(tmp_path / r / n) for r in "ab" for n in names]
    data = [(tmp_path / "a" / n).read_bytes() for n in names]
    assert data == [(tmp_path / "b" / n).read_bytes() for n in names]
    assert len(set(data)) == 4
    assert _run(model_dir, tmp_path / "c" / "v.wav", "-n", "4", "--seed", "8") == 0
    assert (tmp_path / "c" / "v_0.wav").read_bytes() != data[0]


def test_single_file_and_options(model_dir, tmp_path):
    out = tmp_path / "one.flac"
    assert _run(model_dir, out, "--seed", "1", "--top-k", "5", "--temperature", "0.8", "--cfg", "2",
                "--normalize", "peak") == 0
    wav, sr = sf.read(out)
    assert sr == SAMPLE_RATE and len(wav) == 320
    greedy = tmp_path / "greedy.wav"
    assert _run(model_dir, greedy, "--temperature", "0") == 0
    again = tmp_path / "greedy2.wav"
    assert _run(model_dir, again, "--temperature", "0") == 0
    assert greedy.read_bytes() == again.read_bytes()


def test_sampling_defaults_come_from_the_model(tmp_path):
    """Without --temperature / --top-k the model's own defaults apply: a checkpoint that says temperature 0
    decodes greedily whatever the seed; --temperature on the command line wins."""
    from helpers_generation import tiny_export

    d = tiny_export(tmp_path / "m", temperature=0.0)
    outs = {}
    for name, extra in {"s1": ["--seed", "1"], "s2": ["--seed", "2"], "t1": ["--seed", "1", "--temperature", "1"],
                        "t2": ["--seed", "2", "--temperature", "1"]}.items():
        assert _run(str(d), tmp_path / f"{name}.wav", *extra) == 0
        outs[name] = sf.read(tmp_path / f"{name}.wav")[0]  # the samples (the file's metadata holds the seed)
    assert (outs["s1"] == outs["s2"]).all()
    assert not (outs["t1"] == outs["t2"]).all()


def test_unconditional(model_dir, tmp_path):
    out = tmp_path / "u.wav"
    assert main(["generate", "--model", model_dir, "--duration", "0.1", "-o", str(out), "-q", "--seed", "0"]) == 0
    assert sf.info(out).frames == 160


@pytest.mark.parametrize("args, message", [
    (["generate", "x", "-o", "o.wav"], "no model given"),
    (["generate", "x", "--duration", "-1"], "duration"),
    (["generate", "x", "--duration", "99999"], "duration"),
    (["generate", "x", "--top-k", "-3"], "top_k"),
    (["generate", "x", "-n", "0"], "-n"),
    (["generate", "x", "-o", "out.xyz"], "extension"),
    (["generate", "x", "--model", "musicgen-gigantic"], "unknown model"),
])
def test_errors_are_messages_not_tracebacks(model_dir, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tonecraft.cli.generate.DEFAULT_MODEL", None)  # the "no model given" case
    if "--model" not in args and args[-1] != "o.wav":
        args = [*args, "--model", model_dir]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "tonecraft generate: error:" in err and message in err
