"""MusicGen-melody end to end: loading both checkpoint layouts, greedy CFG generation vs transformers'
`MusicgenMelodyForConditionalGeneration.generate`, long-form melody windows, stem-separator plug-in, CLI.

transformers' generate accepts the chroma directly (`input_features` [B, frames, 12]), so the reference
gets exactly our one-hot chroma; the chroma extraction itself is tested in tests/conditioning/test_chroma.py.
(transformers issue 45647 -- melody ignored in >= 4.57 -- concerns the processor path; the no-melody vs
melody assertions below would catch an HF that ignores `input_features`.)
"""
import math

import pytest
import soundfile as sf
import torch
import yaml

from helpers_melody import save_tiny_hf_melody
from helpers_musicgen import SAMPLE_RATE, hf_generate
from helpers_t5 import tiny_t5_tokenizer
from tonecraft.conditioning.chroma import melody_window
from tonecraft.errors import ConfigError
from tonecraft.models.musicgen import MusicGen
from tonecraft.pretrained.melody_loading import melody_weights_from_hf

FRAMES = 12
MEL_SR = 16000


def tune(notes=(261.6, 329.6, 392.0, 493.9, 440.0, 349.2), note_s: float = 0.5) -> torch.Tensor:
    """A mono melody [1, T] at 16 kHz: one sine per note."""
    t = torch.arange(int(note_s * MEL_SR)) / MEL_SR
    return torch.cat([0.5 * torch.sin(2 * math.pi * f * t) for f in notes])[None]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("hf_melody")
    return d, save_tiny_hf_melody(d, seed=0)


@pytest.fixture(scope="module")
def ours(hf_dir):
    m = MusicGen.from_pretrained(hf_dir[0])
    m.set_generation_params(duration=FRAMES / 50, use_sampling=False, cfg_coef=3.0)
    return m


def test_hf_dir_loads_as_melody(ours):
    assert ours.is_melody and not ours.lm.cfg.cross_attention
    assert ours.chroma.chroma_length == 235 and ours.max_duration == 30.0 and ours.stem_separator is None


def test_generate_with_chroma_matches_hf_generate(hf_dir, ours):
    texts = ["rock", "jazz"]
    assert len({sum(m) for m in tiny_t5_tokenizer()(texts)["attention_mask"]}) == 1  # equal lengths: no padding
    melodies = [tune(), tune((440.0, 349.2, 261.6, 392.0, 293.7, 493.9))]
    wav, tokens = ours.generate_with_chroma(texts, melodies, MEL_SR, return_tokens=True)
    chroma = ours.chroma.tokenize(melodies, MEL_SR)  # [2, 235, 12] one-hot
    assert chroma.argmax(-1)[0, :24].tolist() == [0] * 4 + [4] * 4 + [7] * 4 + [11] * 4 + [9] * 4 + [5] * 4
    ref_codes, ref_audio = hf_generate(hf_dir[1], texts, FRAMES, input_features=chroma)
    assert tokens.shape == (2, 4, FRAMES) and torch.equal(tokens, ref_codes)
    assert wav.shape == ref_audio.shape and (wav - ref_audio).abs().max() < 1e-4
    # no melody = HF without input_features (bin-0 null chroma); and the melody does change the output
    _, plain = ours.generate(texts, return_tokens=True)
    assert torch.equal(plain, hf_generate(hf_dir[1], texts, FRAMES)[0]) and not torch.equal(plain, tokens)
    # one melody shared by a batch; None = no melody for that item
    _, shared = ours.generate_with_chroma(texts, melodies[0], MEL_SR, return_tokens=True)
    _, mixed = ours.generate_with_chroma(texts, [melodies[0], None], MEL_SR, return_tokens=True)
    assert torch.equal(shared[0], tokens[0]) and torch.equal(mixed[0], tokens[0])


def test_stereo_melody_hf_dir(tmp_path):
    """musicgen-stereo-melody layout (HF audio_channels=2): interleaved codebooks, paired delays."""
    hf = save_tiny_hf_melody(tmp_path, seed=3, stereo=True)
    m = MusicGen.from_pretrained(tmp_path)
    assert m.is_melody and m.audio_channels == 2 and m.lm.cfg.delays == [0, 0, 1, 1, 2, 2, 3, 3]
    m.set_generation_params(duration=FRAMES / 50, use_sampling=False)
    wav, tokens = m.generate_with_chroma(["rock"], tune(), MEL_SR, return_tokens=True)
    ref_codes, ref_audio = hf_generate(hf, ["rock"], FRAMES, input_features=m.chroma.tokenize(tune(), MEL_SR))
    assert tokens.shape == (1, 8, FRAMES) and torch.equal(tokens, ref_codes)
    assert wav.shape == ref_audio.shape == (1, 2, FRAMES * 32) and (wav - ref_audio).abs().max() < 1e-4


CHROMA2MUSIC = {
    "solver": "musicgen", "sample_rate": 32000, "channels": 1,
    "transformer_lm": {"dim": 48, "num_heads": 4, "num_layers": 2, "hidden_scale": 4, "n_q": 4, "card": 64,
                       "activation": "gelu", "norm_first": True, "bias_ff": False, "bias_attn": False,
                       "bias_proj": False, "positional_embedding": "sin", "norm": "layer_norm",
                       "cross_attention": False, "layer_scale": None, "kv_repeat": 1, "past_context": None},
    "codebooks_pattern": {"modeling": "delay", "delay": {"delays": [0, 1, 2, 3], "flatten_first": 0,
                                                         "empty_initial": 0}},
    "classifier_free_guidance": {"training_dropout": 0.2, "inference_coef": 3.0},
    "fuser": {"cross_attention_pos_emb": False, "sum": [], "prepend": ["self_wav", "description"], "cross": [],
              "input_interpolate": []},
    "conditioners": {
        "self_wav": {"model": "chroma_stem", "chroma_stem": {
            "sample_rate": "${sample_rate}", "n_chroma": 12, "radix2_exp": 14, "argmax": True,
            "match_len_on_eval": False, "eval_wavs": None, "n_eval_wavs": 100, "cache_path": None}},
        "description": {"model": "t5", "t5": {"name": "t5-base", "finetune": False, "word_dropout": 0.2,
                                              "normalize_text": False}}},
    "dataset": {"segment_duration": 30},
}


def test_audiocraft_melody_checkpoint(hf_dir, tmp_path):
    hf = hf_dir[1]
    best = melody_weights_from_hf(hf.state_dict()).to_audiocraft()
    best["condition_provider.conditioners.self_wav.chroma.spec.window"] = torch.hann_window(16384)
    hf.text_encoder.save_pretrained(str(tmp_path / "t5"))
    tiny_t5_tokenizer().save_pretrained(str(tmp_path / "t5"))
    hf.audio_encoder.save_pretrained(str(tmp_path / "encodec"))
    xp = yaml.safe_load(yaml.safe_dump(CHROMA2MUSIC))
    xp["conditioners"]["description"]["t5"]["name"] = str(tmp_path / "t5")
    torch.save({"best_state": best, "xp.cfg": yaml.safe_dump(xp), "version": "1.0", "exported": True},
               tmp_path / "state_dict.bin")
    torch.save({"pretrained": str(tmp_path / "encodec")}, tmp_path / "compression_state_dict.bin")
    model = MusicGen.from_pretrained(tmp_path)
    assert model.is_melody and model.chroma.chroma_length == 235 and model.chroma.sample_rate == 32000
    model.set_generation_params(duration=FRAMES / 50, use_sampling=False)
    melody = tune((392.0, 440.0, 493.9))
    wav, tokens = model.generate_with_chroma(["pop beat"], melody, MEL_SR, return_tokens=True)
    ref_codes, ref_audio = hf_generate(hf, ["pop beat"], FRAMES, input_features=model.chroma.tokenize(melody, MEL_SR))
    assert torch.equal(tokens, ref_codes) and (wav - ref_audio).abs().max() < 1e-4
    # a fuser we do not implement is refused, not silently mis-built
    xp["fuser"]["prepend"] = ["self_wav"]
    xp["fuser"]["cross"] = ["description"]
    torch.save({"best_state": best, "xp.cfg": yaml.safe_dump(xp)}, tmp_path / "state_dict.bin")
    with pytest.raises(Exception, match="fuser"):
        MusicGen.from_pretrained(tmp_path)


def test_long_form_reslices_the_melody_per_window(ours, monkeypatch):
    m = MusicGen("tiny-melody", ours.codec, ours.lm, ours.conditioner, max_duration=0.4, chroma=ours.chroma)
    m.set_generation_params(duration=1.0, extend_stride=0.2, top_k=10)
    seen = []
    extract = m.chroma.chroma_from_wav
    monkeypatch.setattr(m.chroma, "chroma_from_wav", lambda wav: (seen.append(wav.clone()), extract(wav))[1])
    melody = tune(note_s=0.1)  # 0.6 s: shorter than the piece, wraps around
    wav = m.generate_with_chroma(["rock"], melody, MEL_SR, seed=0)
    assert wav.shape == (1, 1, SAMPLE_RATE)
    full = m.chroma.prepare_wavs([melody], MEL_SR)  # 32 kHz mono [1, 1, T]
    assert len(seen) == 4  # windows at 0, 0.2, 0.4, 0.6 s, each 0.4 s of melody from its offset (wrapping)
    for offset, got in zip((0.0, 0.2, 0.4, 0.6), seen):
        assert torch.equal(got, melody_window(full, offset, 0.4, 32000))


def test_stem_separator_plug_in(ours):
    calls = []

    def separator(wav):
        calls.append(tuple(wav.shape))
        return wav * 0.5

    ours.stem_separator = separator
    try:
        ours.generate_with_chroma(["rock"], tune(), MEL_SR)
    finally:
        ours.stem_separator = None
    assert calls == [(1, 1, 3 * 32000)]  # 32 kHz mono, before chroma extraction


def test_errors(ours, tmp_path):
    text_only = MusicGen("t", ours.codec, ours.lm, ours.conditioner)
    with pytest.raises(ConfigError, match="not a melody model"):
        text_only.generate_with_chroma(["x"], tune(), MEL_SR)
    with pytest.raises(ConfigError, match="melodies for"):
        ours.generate_with_chroma(["a", "b", "c"], [tune(), tune()], MEL_SR)
    with pytest.raises(ConfigError):
        ours.generate_with_chroma(["a"], None, MEL_SR)


def test_cli_melody(hf_dir, tmp_path):
    from helpers_musicgen import save_tiny_hf_musicgen
    from tonecraft.cli import main

    sf.write(tmp_path / "tune.wav", tune()[0].numpy(), MEL_SR)
    base = ["generate", "rock", "--model", str(hf_dir[0]), "-d", "0.2", "-q", "--temperature", "0"]
    assert main([*base, "--melody", str(tmp_path / "tune.wav"), "-o", str(tmp_path / "m.wav")]) == 0
    assert main([*base, "-o", str(tmp_path / "plain.wav")]) == 0
    assert sf.info(tmp_path / "m.wav").frames == 10 * 32
    assert (tmp_path / "m.wav").read_bytes() != (tmp_path / "plain.wav").read_bytes()
    save_tiny_hf_musicgen(tmp_path / "text", seed=0)
    assert main(["generate", "x", "--model", str(tmp_path / "text"), "--melody", str(tmp_path / "tune.wav"),
                 "-o", str(tmp_path / "x.wav")]) == 1
