"""compress / decompress / info, end to end through `tonecraft.cli.main`, with random codecs."""
import json

import numpy as np
import pytest
import torch

from tonecraft.audio import load_audio, save_audio
from tonecraft.cli import main
from tonecraft.compressed import compress as C
from tonecraft.compressed import tcq
from tonecraft.codec.configs import OFFICIAL_CONFIGS, CodecConfig, get_config
from tonecraft.codec.model import Codec

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def random_codec(config: CodecConfig) -> Codec:
    torch.manual_seed(0)
    codec = Codec(config)
    for layer in codec.quantizer.layers:  # random (not k-means-pending, all-zero) codebooks
        layer._codebook.embed.normal_()
        layer._codebook.inited.fill_(1)
    return codec.eval()


def tiny_config(**kw) -> CodecConfig:
    base = dict(name="tiny", sample_rate=8_000, channels=1, dimension=8, n_filters=4, ratios=[4, 2],
                n_q=4, bins=16, lstm_layers=1, target_bandwidths=[8.0, 16.0])
    return CodecConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_codec")
    random_codec(tiny_config()).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def wav_file(tmp_path_factory):
    """1.3 s of 16 kHz stereo: the codec needs resampling and a downmix."""
    path = tmp_path_factory.mktemp("audio") / "in.wav"
    t = torch.arange(int(16_000 * 1.3)) / 16_000
    wav = torch.stack([0.3 * torch.sin(2 * np.pi * 440 * t), 0.2 * torch.sin(2 * np.pi * 660 * t)])
    save_audio(path, wav, 16_000, normalize="none")
    return path


def run(*argv) -> int:
    return main([str(a) for a in argv])


@pytest.mark.parametrize("ext", [".tcq", ".ecdc"])
def test_round_trip(tiny_dir, wav_file, tmp_path, capsys, ext):
    comp, out = tmp_path / f"x{ext}", tmp_path / "out.wav"
    assert run("compress", wav_file, comp, "--model", tiny_dir, "--bandwidth", "8") == 0
    assert comp.read_bytes()[:4] == (b"TCQF" if ext == ".tcq" else b"ECDC")
    assert run("decompress", comp, out) == 0  # model taken from the file header
    audio, sr = load_audio(out)
    assert sr == 8_000 and audio.shape == (1, int(8_000 * 1.3))

    # the same result as the codec API on the converted input
    codec = Codec.from_pretrained(tiny_dir)
    x, _ = load_audio(wav_file, sample_rate=8_000, channels=1)
    ref = codec.decode(*codec.encode(x[None], bandwidth=8.0))[0, :, :x.shape[-1]]
    assert (audio - ref.clamp(-1, 1)).abs().max() < 1e-4

    capsys.readouterr()
    assert run("info", comp) == 0
    text = capsys.readouterr().out
    assert str(tiny_dir) in text and "10400 samples" in text
    assert "2 codebooks" in text  # 8 kbps at 1000 frames/s and 4 bits
    # a .ecdc file does not say its model's rate/segmenting: non-official models must be given
    extra = ["--model", tiny_dir] if ext == ".ecdc" else []
    assert run("info", "--json", "--verify", comp, *extra) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == ext[1:] and info["n_q"] == 2 and info["verified"]
    assert info["sample_rate"] == 8_000 and info["duration"] == 1.3


def test_default_bandwidth_and_explicit_model(tiny_dir, wav_file, tmp_path):
    comp = tmp_path / "x.tcq"
    assert run("compress", wav_file, comp, "--model", tiny_dir) == 0
    h = tcq.read_header(comp)
    assert (h.n_q, h.bandwidth, h.bits, h.frame_rate) == (4, 16.0, 4, 1000.0)
    assert h.meta == {"source_channels": 2, "source_sample_rate": 16_000}
    assert run("decompress", comp, tmp_path / "o.flac", "--model", tiny_dir) == 0
    assert load_audio(tmp_path / "o.flac")[0].shape == (1, 10_400)


def test_user_errors_are_clean(tiny_dir, wav_file, tmp_path, capsys):
    comp = tmp_path / "x.tcq"
    assert run("compress", wav_file, comp, "--model", tiny_dir, "--bandwidth", "3") == 1
    assert "does not support 3.0 kbps" in capsys.readouterr().err
    assert not comp.exists()
    assert run("compress", tmp_path / "missing.wav", comp, "--model", tiny_dir) == 1
    garbage = tmp_path / "g.tcq"
    garbage.write_bytes(b"hello world")
    assert run("decompress", garbage, tmp_path / "o.wav") == 1
    assert "not a .tcq or .ecdc file" in capsys.readouterr().err
    assert run("info", garbage) == 1

    assert run("compress", wav_file, comp, "--model", tiny_dir) == 0
    data = bytearray(comp.read_bytes())
    data[-10] ^= 0x40
    comp.write_bytes(bytes(data))
    assert run("info", comp) == 1  # the header is intact, but info reads a .tcq through (issue 13)
    assert run("info", "--verify", comp) == 1
    assert run("decompress", comp, tmp_path / "o.wav") == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()

    # a file naming a model that is not there
    assert run("compress", wav_file, comp, "--model", tiny_dir) == 0
    h, segs = tcq.read_tcq(comp)
    h.model = str(tmp_path / "gone")
    tcq.write_tcq(comp, h, [(s.codes, s.scale) for s in segs])
    assert run("decompress", comp, tmp_path / "o.wav") == 1
    assert "gone" in capsys.readouterr().err

    # the wrong model for the file
    other = tmp_path / "other"
    random_codec(tiny_config(sample_rate=16_000)).save_pretrained(other)
    assert run("decompress", comp, tmp_path / "o.wav", "--model", other) == 1
    assert "does not match the model" in capsys.readouterr().err


def test_ecdc_lm_file_refused(tmp_path, capsys):
    f = tmp_path / "lm.ecdc"
    meta = json.dumps({"m": "encodec_24khz", "al": 24000, "nc": 8, "lm": True}).encode()
    f.write_bytes(b"ECDC\x00" + len(meta).to_bytes(4, "big") + meta + bytes(100))
    assert run("decompress", f, tmp_path / "o.wav") == 1
    assert "arithmetic-coded" in capsys.readouterr().err


def test_long_input_streams_with_same_result(tiny_dir, wav_file, tmp_path, monkeypatch):
    """Unsegmented models process long audio chunk by chunk (streaming): identical codes."""
    whole, streamed = tmp_path / "a.tcq", tmp_path / "b.tcq"
    C.compress_file(wav_file, whole, model=str(tiny_dir), progress=False)
    C.decompress_file(whole, tmp_path / "a.wav", progress=False)
    monkeypatch.setattr(C, "STREAM_CHUNK_SECONDS", 0.1)
    C.compress_file(wav_file, streamed, model=str(tiny_dir), progress=True)
    assert streamed.read_bytes() == whole.read_bytes()
    C.decompress_file(streamed, tmp_path / "b.wav", progress=True)
    a, b = load_audio(tmp_path / "a.wav")[0], load_audio(tmp_path / "b.wav")[0]
    assert (a - b).abs().max() < 1e-4


def test_segmented_matches_codec_overlap_add(wav_file, tmp_path):
    """Normalising segmented models (48 kHz recipe): per-segment scales, overlap-add as the codec."""
    codec = random_codec(tiny_config(sample_rate=8_000, channels=2, normalize=True, segment=0.5,
                                     overlap=0.01, norm="time_group_norm"))
    for ext in (".tcq", ".ecdc"):
        comp = tmp_path / f"s{ext}"
        info = C.compress_file(wav_file, comp, model=codec, bandwidth=16.0, model_id="seg-test")
        assert info["n_segments"] == 3 and info["has_scales"]
        C.decompress_file(comp, tmp_path / "s.wav", model=codec)
        out, sr = load_audio(tmp_path / "s.wav")
        x, _ = load_audio(wav_file, sample_rate=8_000, channels=2)
        ref = codec.decode_segments(codec.encode_segments(x[None], 16.0))[0, :, :x.shape[-1]]
        assert out.shape == x.shape
        assert (out - ref.clamp(-1, 1)).abs().max() < 1e-4


@pytest.mark.parametrize("name", list(OFFICIAL_CONFIGS))
def test_official_configs_round_trip(name, wav_file, tmp_path):
    """Every official architecture (random weights) through the CLI on a short clip."""
    config = get_config(name)
    model_dir = tmp_path / name
    random_codec(config).save_pretrained(model_dir)
    clip = tmp_path / "clip.wav"
    save_audio(clip, load_audio(wav_file, duration=0.3)[0], 16_000, normalize="none")
    comp, out = tmp_path / "c.tcq", tmp_path / "o.wav"
    bw = min(config.target_bandwidths)
    assert run("compress", clip, comp, "--model", model_dir, "--bandwidth", bw) == 0
    assert run("decompress", comp, out) == 0
    audio, sr = load_audio(out)
    assert sr == config.sample_rate
    assert audio.shape == (config.channels, round(0.3 * config.sample_rate))
    h = tcq.read_header(comp)
    assert h.bits == int(np.log2(config.bins)) and h.has_scales == config.normalize


def test_info_says_ecdc_has_no_checksum(tiny_dir, wav_file, tmp_path, capsys):
    """Issue 13: .ecdc bit flips decode silently; `info` must say the format cannot detect them."""
    comp = tmp_path / "x.ecdc"
    assert run("compress", wav_file, comp, "--model", tiny_dir) == 0
    capsys.readouterr()
    assert run("info", comp, "--model", tiny_dir) == 0
    assert "no checksum" in capsys.readouterr().out
