import math
import os
import warnings

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import torch

from tonecraft.audio import convert_channels, load_audio, normalize_audio, resample, save_audio, scan_audio
from tonecraft.errors import AudioError, UnsupportedFormatError


def sine(sr=16000, seconds=1.0, freq=440.0, channels=1):
    t = torch.arange(int(sr * seconds)) / sr
    return (0.5 * torch.sin(2 * math.pi * freq * t)).repeat(channels, 1)


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3"])
def test_round_trip_formats(tmp_path, ext):
    wav = sine(sr=24000, channels=2)
    path = save_audio(tmp_path / f"x{ext}", wav, 24000, normalize="none")
    back, sr = load_audio(path)
    assert sr == 24000 and back.shape[0] == 2
    # lossy codecs add/remove a few hundred samples of padding; lossless is exact
    if ext in (".wav", ".flac"):
        assert back.shape == wav.shape
        assert (back - wav).abs().max() < 1e-3
    else:
        assert abs(back.shape[1] - wav.shape[1]) < 3000
        n = min(back.shape[1], wav.shape[1])
        # correlation shows the content survived, whatever the codec delay
        assert back[:, :n].abs().max() > 0.2


def test_offset_duration_resample_channels(tmp_path):
    wav = sine(sr=16000, seconds=2.0)
    path = save_audio(tmp_path / "a.wav", wav, 16000, normalize="none")
    seg, sr = load_audio(path, offset=0.5, duration=1.0)
    assert seg.shape == (1, 16000)
    assert torch.allclose(seg, wav[:, 8000:24000], atol=1e-4)
    st, sr = load_audio(path, sample_rate=32000, channels=2)
    assert sr == 32000 and st.shape == (2, 64000)
    assert torch.equal(st[0], st[1])


def test_resample_preserves_tone():
    wav = sine(sr=48000, seconds=1.0, freq=1000.0)
    out = resample(wav, 48000, 32000)
    assert out.shape == (1, 32000)
    spec = torch.fft.rfft(out[0]).abs()
    assert abs(int(spec.argmax()) - 1000) <= 1


def test_convert_channels():
    st = torch.randn(2, 100)
    assert torch.allclose(convert_channels(st, 1)[0], st.mean(0))
    assert convert_channels(st[:1], 2).shape == (2, 100)
    with pytest.raises(AudioError):
        convert_channels(torch.randn(6, 10), 2)


def test_peak_and_loudness_normalisation(tmp_path):
    wav = sine(sr=16000) * 0.01
    p = save_audio(tmp_path / "p.wav", wav, 16000, normalize="peak", peak_headroom_db=1.0)
    back, _ = load_audio(p)
    assert abs(back.abs().max().item() - 10 ** (-1 / 20)) < 1e-3
    l = save_audio(tmp_path / "l.wav", wav, 16000, normalize="loudness", loudness_headroom_db=14)
    back, sr = load_audio(l)
    assert -15.0 < lufs(back, sr) < -13.0  # a 0.5-amplitude 440 Hz tone: tanh costs ~0.1 dB here


def lufs(wav, sr):
    """Independent BS.1770 meter on a [C, T] tensor."""
    return pyloudnorm.Meter(sr).integrated_loudness(wav.double().numpy().T)


def test_loudness_is_bs1770_lufs(tmp_path):
    # Quiet input + 20 dB headroom: tanh is nearly linear, so this checks the LUFS gain itself.
    wav = sine(sr=16000, seconds=2.0, freq=1000.0) * 0.02
    path = save_audio(tmp_path / "l.wav", wav, 16000, normalize="loudness", loudness_headroom_db=20, subtype="float")
    back, sr = load_audio(path)
    assert abs(lufs(back, sr) - -20.0) < 0.5
    # A 100 Hz tone has the same RMS but less K-weighted loudness: LUFS, not RMS, is what gets matched.
    low = normalize_audio(sine(sr=16000, seconds=2.0, freq=100.0) * 0.02, "loudness", loudness_headroom_db=20,
                          sample_rate=16000)
    assert abs(lufs(low, 16000) - -20.0) < 0.5
    assert low.pow(2).mean().sqrt() > back.pow(2).mean().sqrt() * 1.05


def test_loudness_stereo():
    wav = torch.stack([sine(sr=24000, seconds=2.0)[0] * 0.05, sine(sr=24000, seconds=2.0, freq=660.0)[0] * 0.01])
    out = normalize_audio(wav, "loudness", loudness_headroom_db=20, sample_rate=24000)
    assert out.shape == wav.shape
    assert abs(lufs(out, 24000) - -20.0) < 0.5
    assert abs(out[1].abs().max() / out[0].abs().max() - 0.2) < 0.005  # one gain for all channels: balance kept


def test_loudness_edge_cases():
    # Shorter than one 0.4 s gating block (and > 5 channels): RMS fallback, no error.
    for wav in (sine(seconds=0.2) * 0.01, sine(seconds=1.0, channels=6) * 0.01):
        out = normalize_audio(wav, "loudness", loudness_headroom_db=20, sample_rate=16000)
        assert torch.isfinite(out).all()
        assert abs(20 * math.log10(out.pow(2).mean().sqrt().item()) - -20.0) < 0.5
    # Silence stays silence (long enough for the meter, and too short for it).
    for n in (32000, 3200):
        assert torch.equal(normalize_audio(torch.zeros(2, n), "loudness", sample_rate=16000), torch.zeros(2, n))
    # A loud input is soft-clipped, never over full scale.
    loud = torch.randn(2, 32000, generator=torch.Generator().manual_seed(0)) * 3.0
    out = normalize_audio(loud, "loudness", loudness_headroom_db=0, sample_rate=16000)
    assert torch.isfinite(out).all() and out.abs().max() <= 1.0
    with pytest.raises(AudioError, match="sample rate"):
        normalize_audio(sine(), "loudness")


def test_loudness_at_rates_below_the_k_weighting_shelf():
    """At 1600 Hz (tiny test codecs) BS.1770's K-weighting filter is unstable and its level overflows: the RMS
    fallback applies, instead of a gain of 0 that wrote all-zero files."""
    t = torch.arange(1600) / 1600
    wav = (0.01 * torch.sin(2 * math.pi * 220 * t))[None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        out = normalize_audio(wav, "loudness", loudness_headroom_db=20, sample_rate=1600)
    assert torch.isfinite(out).all() and out.abs().max() > 0.05
    assert abs(20 * math.log10(out.pow(2).mean().sqrt().item()) - -20.0) < 0.5


def test_missing_empty_corrupt_files(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(UnsupportedFormatError):
        load_audio(tmp_path / "junk.wav")
    good = save_audio(tmp_path / "g.wav", sine(), 16000)
    data = good.read_bytes()
    (tmp_path / "trunc.flac").write_bytes(save_audio(tmp_path / "f.flac", sine(), 16000).read_bytes()[:100])
    with pytest.raises(AudioError):
        load_audio(tmp_path / "trunc.flac")
    assert len(data) > 44


def test_zero_length_and_nan(tmp_path):
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(tmp_path / "zero.wav")
    sf.write(tmp_path / "nan.wav", np.full((100, 1), np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "nan.wav")
    with pytest.raises(AudioError, match="NaN"):
        save_audio(tmp_path / "o.wav", torch.full((1, 10), float("inf")), 16000)
    with pytest.raises(AudioError, match="empty"):
        save_audio(tmp_path / "o.wav", torch.zeros(1, 0), 16000)


def test_absurd_sample_rates_and_formats(tmp_path):
    with pytest.raises(AudioError, match="outside the supported range"):
        save_audio(tmp_path / "a.wav", sine(), 10)
    with pytest.raises(AudioError, match="outside the supported range"):
        resample(sine(), 16000, 10_000_000)
    with pytest.raises(UnsupportedFormatError):
        save_audio(tmp_path / "a.xyz", sine(), 16000)
    with pytest.raises(AudioError, match="past the end"):
        load_audio(save_audio(tmp_path / "s.wav", sine(), 16000), offset=5.0)


def test_write_is_atomic(tmp_path):
    save_audio(tmp_path / "a.wav", sine(), 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_written_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path):
    import os
    import stat

    from tonecraft.fileio import new_file_mode

    NEW_FILE_MODE = new_file_mode()
    mask = os.umask(0o022)
    os.umask(mask)
    assert NEW_FILE_MODE == 0o666 & ~mask
    out = save_audio(tmp_path / "a.wav", torch.zeros(1, 800) + 0.1, 8000, normalize="none")
    assert stat.S_IMODE(out.stat().st_mode) == NEW_FILE_MODE


def test_truncated_wav_is_refused(tmp_path):
    """Issue 13.10: a WAV whose header declares 1 s but holds 0.5 s was read silently."""
    from helpers_hostile import truncated_wav

    with pytest.raises(AudioError, match="truncated"):
        load_audio(truncated_wav(tmp_path / "t.wav"))
    with pytest.raises(AudioError, match="truncated"):
        scan_audio(tmp_path / "t.wav")


def test_hostile_length_header_does_not_allocate_it(tmp_path):
    """Issue 13.7: a FLAC claiming 2^36 samples made load_audio allocate 256 GiB (MemoryError)."""
    from helpers_hostile import huge_flac

    path = huge_flac(tmp_path / "h.flac")
    assert sf.info(str(path)).frames == (1 << 36) - 1
    with pytest.raises(AudioError, match="corrupt"):
        load_audio(path)
    with pytest.raises(AudioError, match="corrupt"):
        scan_audio(path)
    wav, _ = load_audio(path, duration=0.5)  # a bounded read of what is there still works
    assert wav.shape == (1, 8000)


def test_scan_audio_decodes_and_checks_like_load_audio(tmp_path):
    from helpers_hostile import good_wav, nan_wav, truncated_flac, wav_with_rate

    assert scan_audio(good_wav(tmp_path / "g.wav", seconds=0.5)) == (8000, 16000, 1)
    for path, match in [(nan_wav(tmp_path / "n.wav"), "NaN"), (wav_with_rate(tmp_path / "r.wav", 1), "1 Hz"),
                        (wav_with_rate(tmp_path / "m.wav", 10_000_000), "10000000 Hz"),
                        (truncated_flac(tmp_path / "t.flac"), "corrupt or truncated")]:
        with pytest.raises(AudioError, match=match):
            scan_audio(path)
        with pytest.raises(AudioError, match=match):
            load_audio(path)


def test_odd_input_paths_get_a_clear_message(tmp_path):
    """Random bytes named .mp3 said 'does not exist'; a pipe said 'empty'; a FIFO could hang; a symlink loop."""
    from helpers_hostile import fifo, random_bytes, symlink_loop

    with pytest.raises(UnsupportedFormatError, match="not a readable audio file"):
        load_audio(random_bytes(tmp_path / "r.mp3"))
    with pytest.raises(AudioError, match="not a regular file"):
        load_audio(fifo(tmp_path / "f.wav"))  # would block in open() until a writer came
    r, w = os.pipe()
    try:
        with pytest.raises(AudioError, match="not a regular file"):
            load_audio(f"/proc/self/fd/{r}")
    finally:
        os.close(r), os.close(w)
    with pytest.raises(AudioError, match="symbolic link loop"):
        load_audio(symlink_loop(tmp_path / "loop.wav"))


def test_write_rate_is_checked_before_work(tmp_path):
    """Issue 13.9: `.opus` at 32 kHz was refused only when writing, after generating."""
    from tonecraft.audio import check_write_rate

    check_write_rate(tmp_path / "a.opus", 48000)
    with pytest.raises(AudioError, match="Opus"):
        check_write_rate(tmp_path / "a.opus", 32000)
    with pytest.raises(UnsupportedFormatError):
        check_write_rate(tmp_path / "a.xyz", 32000)
