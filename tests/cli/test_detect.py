"""`tonecraft detect` and `tonecraft info` on audio files."""
import json

import soundfile as sf

from helpers_provenance import music, noise
from tonecraft.cli import main
from tonecraft.models.output import Provenance, save_generated


def _files(tmp_path):
    marked = save_generated(tmp_path / "marked.flac", music(5.0), 32000,
                            Provenance(model="tonecraft-default", prompt="organ", seed=3))
    plain = tmp_path / "plain.wav"
    sf.write(plain, noise(3.0)[0].numpy(), 32000)
    return marked, plain


def test_detect_reports_each_file(tmp_path, capsys):
    marked, plain = _files(tmp_path)
    assert main(["detect", str(marked), str(plain)]) == 0
    out = capsys.readouterr().out
    first, second = out.split(str(plain))
    assert "watermarked  yes" in first and "tonecraft-default" in first and "windows" in first
    assert "watermarked  no" in second


def test_detect_checks_a_claimed_prompt_and_seed(tmp_path, capsys):
    marked, _ = _files(tmp_path)
    assert main(["detect", str(marked), "--prompt", "organ", "--seed", "3", "--no-windows"]) == 0
    assert "matches the payload" in capsys.readouterr().out
    assert main(["detect", str(marked), "--prompt", "organ", "--seed", "4", "--no-windows"]) == 0
    assert "does not match" in capsys.readouterr().out


def test_detect_json_and_unreadable_file(tmp_path, capsys):
    marked, _ = _files(tmp_path)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    short = tmp_path / "short.wav"
    sf.write(short, music(0.5)[0].numpy(), 32000)
    assert main(["detect", "--json", str(marked), str(bad), str(short)]) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert rows[0]["watermarked"] and rows[0]["payload"]["model"] == "tonecraft-default"
    assert not rows[1]["watermarked"] and "too short" in rows[1]["message"]
    assert "bad.wav" in captured.err and "Traceback" not in captured.err


def test_info_shows_the_labels(tmp_path, capsys):
    marked, plain = _files(tmp_path)
    assert main(["info", str(marked)]) == 0
    out = capsys.readouterr().out
    assert "tonecraft-default" in out and "'organ'" in out and "watermark" in out and "on (payload" in out
    assert main(["info", str(plain)]) == 0
    assert "no tonecraft label" in capsys.readouterr().out
