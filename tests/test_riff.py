"""tonecraft.riff: chunk listing, add / replace / remove with the audio intact, the smpl loop chunk
(read back by our parser and checked against libsndfile's own reading), and clear errors on bad files."""
import struct

import numpy as np
import pytest
import soundfile as sf

from tonecraft import riff
from tonecraft.errors import AudioError


def _wav(path, frames=1001, rate=8000, channels=1):
    data = (np.sin(np.arange(frames)[:, None] * 0.05 + np.arange(channels)) * 0.5).astype(np.float32)
    sf.write(path, data, rate, subtype="PCM_16")
    return sf.read(path, dtype="int16")[0]


def test_list_and_read_chunks(tmp_path):
    path = tmp_path / "a.wav"
    _wav(path)
    ids = [c.id for c in riff.list_chunks(path)]
    assert ids[0] == "fmt " and "data" in ids
    assert riff.read_chunk(path, "smpl") is None
    assert len(riff.read_chunk(path, "fmt ")) in (16, 18, 40)


def test_set_replace_remove_keep_the_audio(tmp_path):
    path = tmp_path / "a.wav"
    audio = _wav(path, frames=1001, channels=2)  # odd data size: 4004 bytes is even, so add an odd chunk
    riff.set_chunk(path, "test", b"abc")  # odd payload: a pad byte follows
    riff.set_chunk(path, "LIST", b"INFOxxxx", before="data")
    ids = [c.id for c in riff.list_chunks(path)]
    assert ids.index("LIST") < ids.index("data") < ids.index("test")
    assert riff.read_chunk(path, "test") == b"abc"
    riff.set_chunk(path, "test", b"longer payload")  # replaced in place, one copy
    assert [c.id for c in riff.list_chunks(path)].count("test") == 1
    assert riff.read_chunk(path, "test") == b"longer payload"
    assert riff.remove_chunk(path, "test") and not riff.remove_chunk(path, "test")
    got, rate = sf.read(path, dtype="int16")
    assert rate == 8000 and np.array_equal(got, audio)
    size = struct.unpack("<I", path.read_bytes()[4:8])[0]
    assert size == path.stat().st_size - 8


def test_smpl_round_trip_and_libsndfile_agrees(tmp_path):
    path = tmp_path / "loop.wav"
    _wav(path, frames=4000)
    riff.write_loop_points(path, 8000, 100, 3900)
    (loop,) = riff.read_loop_points(path)
    assert (loop.start, loop.end, loop.play_count, loop.kind) == (100, 3900, 0, riff.LOOP_FORWARD)
    raw = riff.read_chunk(path, "smpl")
    assert struct.unpack_from("<2I", raw, 44) == (100, 3899)  # the chunk stores the last frame played
    assert struct.unpack_from("<I", raw, 8)[0] == 125000  # ns per sample at 8 kHz
    assert len(sf.read(path)[0]) == 4000  # libsndfile still reads the audio
    assert _libsndfile_loops(path) in (None, [(801, 100, 3900)])  # SF_LOOP_FORWARD; its exclusive end = ours


def _libsndfile_loops(path):
    """libsndfile's own reading of the smpl chunk (SFC_GET_INSTRUMENT through soundfile's cffi handle), or
    None where this soundfile build does not expose it."""
    ffi, lib = getattr(sf, "_ffi", None), getattr(sf, "_snd", None)
    if ffi is None or lib is None:
        return None
    buf = ffi.new("char[]", 272)  # SF_INSTRUMENT: gain, 6 chars, loop_count, 16 x {mode, start, end, count}
    with sf.SoundFile(path) as f:
        if not lib.sf_command(f._file, 0x10D0, buf, 272):
            return None
    raw = bytes(ffi.buffer(buf))
    count = struct.unpack_from("<i", raw, 12)[0]
    return [struct.unpack_from("<iII", raw, 16 + 16 * k) for k in range(count)]


def test_smpl_rejects_bad_loops():
    with pytest.raises(AudioError, match="bad loop"):
        riff.smpl_payload(8000, [riff.SampleLoop(10, 10)])
    with pytest.raises(AudioError, match="announces"):
        riff.parse_smpl(struct.pack("<9I", 0, 0, 0, 60, 0, 0, 0, 2, 0))


def test_not_a_wav_and_truncated_chunk(tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"OggS" + b"\0" * 40)
    with pytest.raises(AudioError, match="only plain RIFF WAVE"):
        riff.list_chunks(bad)
    path = tmp_path / "a.wav"
    _wav(path)
    riff.set_chunk(path, "test", b"12345678")
    path.write_bytes(path.read_bytes()[:-3])  # cut inside a non-data chunk
    with pytest.raises(AudioError, match="runs past the end"):
        riff.list_chunks(path)
    with pytest.raises(AudioError, match="4 characters"):
        riff.read_chunk(path, "toolong")


def test_a_data_chunk_cut_short_is_read_to_the_end(tmp_path):
    """A streamed WAV with a placeholder data size: editing keeps what is there and fixes the sizes."""
    path = tmp_path / "s.wav"
    _wav(path, frames=500)
    raw = bytearray(path.read_bytes())
    data_at = raw.index(b"data")
    raw[data_at + 4:data_at + 8] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(raw))
    riff.write_loop_points(path, 8000, 0, 500)
    assert len(sf.read(path)[0]) == 500 and riff.read_loop_points(path)[0].end == 500
