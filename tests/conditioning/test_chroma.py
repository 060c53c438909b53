"""Melody chroma: filter bank, spectrogram, pitch classes, padding/tiling, null melody, batching, hooks."""
import math

import numpy as np
import pytest
import torch

from tonecraft.audio import convert_audio
from tonecraft.conditioning.chroma import (
    CHROMA_LENGTH, ChromaConditioner, ChromaExtractor, chroma_filter_bank, match_length, melody_window, null_chroma,
)
from tonecraft.errors import AudioError

SR, N_FFT, HOP = 32000, 16384, 4096
NOTE_HZ = {"C4": 261.63, "E4": 329.63, "G4": 392.00, "A4": 440.0, "D5": 587.33, "F#4": 369.99}


def tone(freqs, seconds=2.0, sr=SR, amp=0.3):
    t = torch.arange(int(seconds * sr), dtype=torch.float64) / sr
    return (amp * sum(torch.sin(2 * math.pi * f * t) for f in freqs)).float()


def tune(notes, note_seconds=1.0):
    """A melody: one note after another (frames near note changes mix two notes)."""
    return torch.cat([tone([NOTE_HZ[n]], note_seconds) for n in notes])


# -- filter bank -----------------------------------------------------------------------------------------------

def test_filter_bank_matches_transformers_reference():
    from transformers.audio_utils import chroma_filter_bank as hf_bank  # numpy port of librosa's, float64
    ref = hf_bank(num_frequency_bins=N_FFT, num_chroma=12, sampling_rate=SR, tuning=0)
    ours = chroma_filter_bank(SR, N_FFT)
    assert ours.shape == (12, N_FFT // 2 + 1) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-7)


@pytest.mark.parametrize("kw", [dict(sr=SR, n_fft=N_FFT), dict(sr=22050, n_fft=2048, tuning=0.25),
                                dict(sr=16000, n_fft=1024, n_chroma=24)])
def test_filter_bank_equals_librosa(kw):
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.chroma(tuning=kw.get("tuning", 0.0), n_chroma=kw.get("n_chroma", 12),
                                 sr=kw["sr"], n_fft=kw["n_fft"])
    ours = chroma_filter_bank(kw["sr"], kw["n_fft"], kw.get("n_chroma", 12), tuning=kw.get("tuning", 0.0))
    np.testing.assert_array_equal(ours.numpy(), ref)


def test_filter_bank_properties():
    fb = chroma_filter_bank(SR, N_FFT).double()
    assert (fb >= 0).all()
    bin_of = lambda hz: round(hz * N_FFT / SR)  # noqa: E731
    # base_c: row 0 is C, so A (440 Hz) is row 9 and C4 row 0, at every octave
    for hz, pc in [(440.0, 9), (220.0, 9), (880.0, 9), (261.63, 0), (523.25, 0), (392.0, 7), (329.63, 4)]:
        assert int(fb[:, bin_of(hz)].argmax()) == pc
    # before the octave weighting, every column has unit L2 norm: the ratio of two columns' norms
    # is therefore the ratio of their octave weights exp(-0.5 ((octs - 5) / 2) ** 2)
    octs = lambda hz: math.log2(hz / 27.5)  # noqa: E731
    w = lambda hz: math.exp(-0.5 * ((octs(hz) - 5) / 2) ** 2)  # noqa: E731
    k1, k2 = bin_of(440.0), bin_of(1760.0)
    f1, f2 = k1 * SR / N_FFT, k2 * SR / N_FFT
    assert float(fb[:, k1].norm() / fb[:, k2].norm()) == pytest.approx(w(f1) / w(f2), rel=1e-6)
    # the octave weighting peaks at octave 5 (= 880 Hz)
    norms = fb.norm(dim=0)
    assert abs(float(norms.argmax()) * SR / N_FFT - 880.0) < 10


# -- spectrogram / extractor -------------------------------------------------------------------------------------

def _numpy_power_spec(x: np.ndarray) -> np.ndarray:
    """Independent reference: reflect pad n_fft/2, periodic Hann, rfft, / sum(w^2), power 2."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    xp = np.pad(x.astype(np.float64), (N_FFT // 2, N_FFT // 2), mode="reflect")
    n = 1 + (len(xp) - N_FFT) // HOP
    frames = np.stack([xp[i * HOP: i * HOP + N_FFT] * w for i in range(n)], 1)
    return np.abs(np.fft.rfft(frames, axis=0)) ** 2 / (w ** 2).sum()


def test_spectrogram_matches_numpy_reference():
    x = torch.randn(3 * SR, generator=torch.Generator().manual_seed(0)) * 0.1
    spec = ChromaExtractor().spectrogram(x[None])[0].double().numpy()
    ref = _numpy_power_spec(x.numpy())
    assert spec.shape == ref.shape == (N_FFT // 2 + 1, 1 + 3 * SR // HOP)
    np.testing.assert_allclose(spec, ref, rtol=2e-3, atol=1e-6 * ref.max())


def test_chroma_matches_librosa_chroma_stft():
    librosa = pytest.importorskip("librosa")
    x = tune(["C4", "E4", "G4", "A4", "D5", "F#4"]) + 0.01 * torch.randn(6 * SR, generator=torch.Generator().manual_seed(1))
    S = np.abs(librosa.stft(x.numpy().astype(np.float64), n_fft=N_FFT, hop_length=HOP, window="hann", center=True,
                            pad_mode="reflect")) ** 2
    S /= (np.hanning(N_FFT + 1)[:-1] ** 2).sum()
    ref = librosa.feature.chroma_stft(S=S, sr=SR, n_fft=N_FFT, tuning=0.0, norm=np.inf).T  # [frames, 12]
    soft = ChromaExtractor(argmax=False)(x[None])[0].numpy()
    np.testing.assert_allclose(soft, ref, atol=1e-4)
    hard = ChromaExtractor()(x[None])[0]
    np.testing.assert_array_equal(hard.argmax(-1).numpy(), ref.argmax(-1))


@pytest.mark.parametrize("note,pc", [("A4", 9), ("C4", 0), ("E4", 4), ("G4", 7), ("D5", 2), ("F#4", 6)])
def test_pure_tone_pitch_class(note, pc):
    out = ChromaExtractor()(tone([NOTE_HZ[note]])[None])
    assert out.shape == (1, 1 + 2 * SR // HOP, 12)
    assert torch.equal(out.sum(-1), torch.ones(out.shape[:2]))  # one-hot
    assert (out[0].argmax(-1) == pc).all()


def test_c_major_triad():
    soft = ChromaExtractor(argmax=False)(tone([NOTE_HZ["C4"], NOTE_HZ["E4"], NOTE_HZ["G4"]])[None])[0]
    assert torch.allclose(soft.amax(-1), torch.ones(soft.shape[0]))  # L-inf normalised
    for frame in soft:
        assert set(frame.topk(3).indices.tolist()) == {0, 4, 7}


def test_frames_and_short_input_padding():
    ex = ChromaExtractor()
    assert ex(torch.zeros(1, 30 * SR)).shape == (1, CHROMA_LENGTH, 12)  # 1 + 960000 // 4096
    assert ex.num_frames(30 * SR) == CHROMA_LENGTH
    for T in (1, 100, 8191, N_FFT - 1, N_FFT):
        assert ex(torch.randn(1, T)).shape == (1, 5, 12)
    # short input is zero-padded centred (extra sample on the right) to n_fft before the reflect padding
    x = torch.randn(1, 1001, generator=torch.Generator().manual_seed(2))
    pad = N_FFT - 1001
    manual = torch.nn.functional.pad(x, (pad // 2, pad - pad // 2))
    torch.testing.assert_close(ex.spectrogram(x), ex.spectrogram(manual), rtol=0, atol=0)
    # silence: argmax of an all-zero row is bin 0 (the null melody)
    assert torch.equal(ex(torch.zeros(2, 1, 1)), null_chroma(2, 5))


# -- conditioner -------------------------------------------------------------------------------------------------

def test_tiling_and_truncation_to_235():
    cond = ChromaConditioner(output_dim=8)
    x = tune(["C4", "E4", "G4"])  # 3 s -> 24 frames, tiled
    full = ChromaExtractor()(x[None])
    assert full.shape[1] == 24
    out = cond.tokenize(x[None], SR)
    assert out.shape == (1, CHROMA_LENGTH, 12)
    idx = torch.arange(CHROMA_LENGTH) % 24
    assert torch.equal(out[0], full[0, idx])
    assert torch.equal(match_length(full, 30), full[:, torch.arange(30) % 24])
    # 40 s -> first 235 frames; cutting the audio before the STFT is exact
    long = tune(["C4", "A4", "G4", "D5"] * 10)
    ref = ChromaExtractor()(long[None])[:, :CHROMA_LENGTH]
    assert torch.equal(cond.tokenize(long[None], SR), ref)


def test_null_melody_and_embeddings():
    torch.manual_seed(0)
    cond = ChromaConditioner(output_dim=8)
    null = cond.tokenize([None, None], SR)
    assert torch.equal(null, null_chroma(2)) and torch.equal(null, cond.null_chroma(2))
    assert torch.equal(cond.tokenize(torch.zeros(1, 1, SR), SR), null_chroma(1))
    emb, mask = cond.null_condition(2)
    assert emb.shape == (2, CHROMA_LENGTH, 8) and mask.shape == (2, CHROMA_LENGTH) and bool(mask.all())
    expected = cond.output_proj.weight[:, 0] + cond.output_proj.bias  # projected one-hot bin 0, bias included
    torch.testing.assert_close(emb, expected.expand(2, CHROMA_LENGTH, 8))
    assert not torch.allclose(emb, torch.zeros_like(emb))
    with pytest.raises(ValueError):
        cond.tokenize(None, SR)
    assert torch.equal(cond.tokenize(None, SR, batch_size=3), null_chroma(3))


def test_any_rate_and_channels_and_batch_padding():
    cond = ChromaConditioner(output_dim=8)
    a = tune(["A4", "C4"])  # 2 s, 32 kHz mono
    b44 = torch.stack([tone([NOTE_HZ["E4"]], 1.0, sr=44100), tone([NOTE_HZ["E4"]], 1.0, sr=44100) * 0.5])  # stereo
    out = cond.tokenize([a[None], None], SR)
    assert torch.equal(out[0], cond.tokenize(a[None], SR)[0])
    assert torch.equal(out[1], null_chroma(1)[0])
    # other rates / channel counts are converted (resample + channel mean), and a batch is zero-padded at the
    # end to its longest melody before extraction (audiocraft's collate), then tiled
    mono32 = convert_audio(b44, 44100, SR, 1)[0]
    padded = torch.cat([mono32, torch.zeros(a.shape[-1] - mono32.shape[-1])])
    mixed = cond.tokenize([convert_audio(a[None], SR, 44100, 1), b44], 44100)
    assert torch.equal(mixed[1], cond.tokenize(padded[None], SR)[0])
    assert (mixed[1, :5].argmax(-1) == 4).all()  # E
    assert (mixed[0, :5].argmax(-1) == 9).all()  # A (first second of the tune)


def test_stem_separator_hook():
    calls = []

    def separator(wav):
        calls.append(tuple(wav.shape))
        return wav * 0 + tone([NOTE_HZ["G4"]], wav.shape[-1] / SR)[None, None]  # "vocals" = G

    cond = ChromaConditioner(output_dim=8, stem_separator=separator)
    out = cond.tokenize(tone([NOTE_HZ["C4"]], 1.0)[None, None], SR)
    assert calls == [(1, 1, SR)]
    assert (out.argmax(-1) == 7).all()
    cond.tokenize([None], SR)  # audiocraft skips stem separation when the whole batch is null
    assert len(calls) == 1


def test_bad_melodies():
    cond = ChromaConditioner(output_dim=8)
    with pytest.raises(AudioError, match="NaN"):
        cond.tokenize(torch.full((1, 100), float("nan")), SR)
    with pytest.raises(AudioError, match="no samples"):
        cond.tokenize([torch.zeros(1, 0)], SR)
    with pytest.raises(AudioError, match="batch of 2"):
        cond.tokenize([torch.zeros(1, 10)], SR, batch_size=2)
    with pytest.raises(AudioError):
        cond.tokenize(torch.zeros(1, 1, 1, 10), SR)
    with pytest.raises(AudioError, match="sample rate"):
        cond.tokenize(torch.zeros(1, 10), 10)


def test_half_precision_model_keeps_float32_extraction():
    cond = ChromaConditioner(output_dim=8)
    x = tune(["A4", "C4"])[None]
    ref = cond.tokenize(x, SR)
    cond = cond.to(torch.bfloat16)
    assert torch.equal(cond.tokenize(x, SR), ref)
    emb, _ = cond(ref)
    assert emb.dtype == torch.bfloat16
    assert set(cond.state_dict()) == {"output_proj.weight", "output_proj.bias"}


def test_melody_window_wraps():
    wav = torch.arange(10.0)[None, None]
    assert melody_window(wav, 0.0, duration=4, sample_rate=1).flatten().tolist() == [0, 1, 2, 3]
    assert melody_window(wav, 8.0, duration=4, sample_rate=1).flatten().tolist() == [8, 9, 0, 1]
