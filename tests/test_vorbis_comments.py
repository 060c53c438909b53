"""tonecraft.vorbis_comments: loop tags in Ogg Vorbis, Ogg Opus and FLAC, read back by our reader and by
mutagen (test-only, when installed), with the audio unchanged and the Ogg pages still valid (CRC)."""
import struct

import numpy as np
import pytest
import soundfile as sf

from tonecraft import vorbis_comments as vc
from tonecraft.errors import AudioError

FORMATS = [(".ogg", "OGG", "VORBIS", 32000), (".opus", "OGG", "OPUS", 48000), (".flac", "FLAC", "PCM_16", 32000)]


def _write(path, fmt, subtype, rate, seconds=2.0):
    t = np.arange(int(seconds * rate)) / rate
    with sf.SoundFile(path, "w", rate, 1, format=fmt, subtype=subtype) as f:
        f.title = "hello"
        f.write((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))


def _pages_valid(data: bytes) -> list[int]:
    """Sequence numbers of the pages; asserts every page's CRC."""
    seqs, pos = [], 0
    while pos < len(data):
        assert data[pos:pos + 4] == b"OggS"
        nseg = data[pos + 26]
        end = pos + 27 + nseg + sum(data[pos + 27:pos + 27 + nseg])
        page = bytearray(data[pos:end])
        crc = struct.unpack_from("<I", page, 22)[0]
        page[22:26] = b"\0\0\0\0"
        assert vc.ogg_crc(bytes(page)) == crc
        seqs.append(struct.unpack_from("<I", page, 18)[0])
        pos = end
    return seqs


@pytest.mark.parametrize("ext,fmt,subtype,rate", FORMATS)
def test_loop_tags_round_trip(tmp_path, ext, fmt, subtype, rate):
    path = tmp_path / f"loop{ext}"
    _write(path, fmt, subtype, rate)
    audio = sf.read(path)[0]
    vc.set_comments(path, vc.loop_tags(0, 64000))
    vc.set_comments(path, {"loopstart": "100"})  # replaces LOOPSTART whatever its case
    tags = dict(vc.read_comments(path))
    assert tags["loopstart"] == "100" and tags["LOOPLENGTH"] == "64000" and tags["LOOPEND"] == "64000"
    assert "LOOPSTART" not in tags and any(k.upper() == "TITLE" and v == "hello" for k, v in tags.items())
    assert np.array_equal(sf.read(path)[0], audio)  # the audio packets are untouched
    if ext != ".flac":
        seqs = _pages_valid(path.read_bytes())
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@pytest.mark.parametrize("ext,fmt,subtype,rate", FORMATS[:2])
def test_a_comment_spanning_pages_renumbers_the_stream(tmp_path, ext, fmt, subtype, rate):
    path = tmp_path / f"big{ext}"
    _write(path, fmt, subtype, rate)
    before = len(_pages_valid(path.read_bytes()))
    vc.set_comments(path, {"BIG": "x" * 200_000})  # > 255 * 255 bytes: several header pages
    seqs = _pages_valid(path.read_bytes())
    assert len(seqs) > before and seqs == list(range(len(seqs)))
    assert dict(vc.read_comments(path))["BIG"] == "x" * 200_000
    assert sf.read(path)[0].shape[0] > 0


def test_mutagen_reads_our_tags(tmp_path):
    mutagen = pytest.importorskip("mutagen", reason="mutagen (GPL, test-only cross-check) is not installed")
    for ext, fmt, subtype, rate in FORMATS:
        path = tmp_path / f"m{ext}"
        _write(path, fmt, subtype, rate)
        vc.set_comments(path, vc.loop_tags(10, 5000))
        tags = mutagen.File(path).tags
        assert tags["LOOPSTART"] == ["10"] and tags["LOOPLENGTH"] == ["5000"] and tags["LOOPEND"] == ["5010"]
        assert tags["title"] == ["hello"]


def test_errors(tmp_path):
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(100), 8000)
    with pytest.raises(AudioError, match="Ogg .* or FLAC"):
        vc.set_comments(wav, {"A": "1"})
    ogg = tmp_path / "a.ogg"
    _write(ogg, "OGG", "VORBIS", 32000)
    with pytest.raises(AudioError, match="bad Vorbis comment key"):
        vc.set_comments(ogg, {"A=B": "1"})
    ogg.write_bytes(ogg.read_bytes()[:300])
    with pytest.raises(AudioError, match="truncated|incomplete|damaged"):
        vc.set_comments(ogg, {"A": "1"})
    with pytest.raises(AudioError, match="bad loop"):
        vc.loop_tags(0, 0)
