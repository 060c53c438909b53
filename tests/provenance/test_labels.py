"""Labels in generated files: written by `models.output.save_generated`, read back by `read_labels`, for
wav / flac / ogg / mp3; `watermark=False` and too-short clips say so."""
import pytest
import soundfile as sf

from helpers_provenance import music
from tonecraft.audio import load_audio
from tonecraft.models.output import Provenance, save_generated
from tonecraft.provenance import detect
from tonecraft.provenance.labels import read_labels
from tonecraft.riff import info_payload, parse_info

INFO = Provenance(model="tonecraft-default", prompt="slow church organ, 60 bpm, ünïcode", seed=42,
                  params={"duration": 3.0, "top_k": 250})


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3"])
def test_labels_round_trip(tmp_path, ext):
    if ext == ".mp3" and "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3")
    path = save_generated(tmp_path / f"out{ext}", music(3.0), 32000, INFO)
    labels = read_labels(path)
    assert labels["generator"] == "tonecraft" and labels["model"] == "tonecraft-default"
    assert labels["prompt"] == INFO.prompt and labels["seed"] == 42 and labels["params"]["top_k"] == 250
    assert labels["watermark"] == "on" and labels["payload"] == f"{INFO.payload().value:08x}"
    assert labels["date"] and labels["version"]
    found = detect(*load_audio(path))
    assert found.watermarked and found.payload == INFO.payload()


def test_watermark_off_is_recorded(tmp_path):
    off = Provenance(model="m", prompt="p", seed=1, watermark=False)
    path = save_generated(tmp_path / "off.wav", music(3.0), 32000, off)
    assert read_labels(path)["watermark"] == "off"
    assert not detect(*load_audio(path)).watermarked


def test_too_short_clip_is_written_unmarked_and_says_why(tmp_path):
    path = save_generated(tmp_path / "short.flac", music(0.5), 32000, INFO)
    assert read_labels(path)["watermark"].startswith("off: 0.50 s of audio is too short")
    assert sf.info(str(path)).frames == 16000


def test_long_prompt_survives_in_wav(tmp_path):
    """libsndfile drops every WAV tag once one is a few kB long: ours go through riff.write_info."""
    info = Provenance(model="x", prompt="a very long prompt " * 300, seed=None)
    path = save_generated(tmp_path / "long.wav", music(2.0), 32000, info)
    assert read_labels(path)["prompt"] == info.prompt


def test_info_payload_round_trip():
    tags = {"title": "t", "comment": "odd", "software": "tonecraft 0.1"}
    assert parse_info(info_payload(tags)) == tags
    assert read_labels is not None and parse_info(b"adtl") == {}
