"""Vorbis comments (KEY=value tags) in Ogg Vorbis, Ogg Opus and FLAC files: read them, and set some keys
while keeping the others, rewriting the file atomically through `fileio`.

Why our own: libsndfile writes only ten fixed tags (title, artist, ...), while game engines read loop
points from free tags (LOOPSTART / LOOPLENGTH / LOOPEND); the usual Python tagger (mutagen) is GPL, and
tonecraft is MIT. The formats are small:
- Ogg (RFC 3533): pages "OggS" + header (granule, serial, sequence number, CRC-32 poly 0x04C11DB7 over the
  page with the CRC field zeroed) + a lacing table. The comment packet is the second packet of the stream
  ("\\x03vorbis" ... framing bit, or "OpusTags" ...); audio always starts on a fresh page, so only the
  header pages are rebuilt and later pages are renumbered (and their CRC recomputed) when the page count
  changes.
- FLAC: "fLaC" + metadata blocks (1-byte last-flag/type, 24-bit big-endian length); type 4 is the comment.
One logical Ogg stream only (what libsndfile writes); anything else is a clear AudioError.
"""
from __future__ import annotations

import os
import struct
import typing as tp
from pathlib import Path

from .errors import AudioError
from .fileio import atomic_write_bytes, check_input_file

_VORBIS = b"\x03vorbis"
_OPUS = b"OpusTags"
_FLAC_COMMENT = 4


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) ^ byte) & 0xFF]
    return crc


# --- the comment packet -------------------------------------------------------------------------------------

def parse_comment_block(data: bytes, pos: int = 0) -> tuple[str, list[tuple[str, str]], int]:
    """(vendor, [(key, value)], end offset) of a comment list starting at `pos`."""
    try:
        (n,) = struct.unpack_from("<I", data, pos)
        vendor = data[pos + 4:pos + 4 + n].decode("utf-8", "replace")
        pos += 4 + n
        (count,) = struct.unpack_from("<I", data, pos)
        pos += 4
        items = []
        for _ in range(count):
            (n,) = struct.unpack_from("<I", data, pos)
            if pos + 4 + n > len(data):
                raise struct.error("comment runs past the packet")
            key, _, value = data[pos + 4:pos + 4 + n].decode("utf-8", "replace").partition("=")
            items.append((key, value))
            pos += 4 + n
    except struct.error:
        raise AudioError("the Vorbis comment block is truncated or corrupt") from None
    return vendor, items, pos


def build_comment_block(vendor: str, items: tp.Sequence[tuple[str, str]]) -> bytes:
    out = [struct.pack("<I", len(v := vendor.encode("utf-8"))), v, struct.pack("<I", len(items))]
    for key, value in items:
        if not key or "=" in key or not all(0x20 <= ord(c) <= 0x7D for c in key):
            raise AudioError(f"bad Vorbis comment key {key!r} (printable ASCII without '=')")
        entry = f"{key}={value}".encode("utf-8")
        out += [struct.pack("<I", len(entry)), entry]
    return b"".join(out)


def _merged(items: list[tuple[str, str]], updates: tp.Mapping[str, str]) -> list[tuple[str, str]]:
    """Keys in `updates` replace every existing one of the same name (case-insensitive); written as given."""
    upper = {k.upper() for k in updates}
    return [(k, v) for k, v in items if k.upper() not in upper] + [(k, str(v)) for k, v in updates.items()]


# --- Ogg ----------------------------------------------------------------------------------------------------

def _pages(data: bytes, path: Path) -> list[dict]:
    pages, pos = [], 0
    while pos < len(data):
        if data[pos:pos + 4] != b"OggS" or pos + 27 > len(data):
            raise AudioError(f"{path}: not an Ogg file, or a damaged page at byte {pos}")
        flags, granule, serial, seq = struct.unpack_from("<BqII", data, pos + 5)
        nseg = data[pos + 26]
        lacing = data[pos + 27:pos + 27 + nseg]
        start = pos + 27 + nseg
        end = start + sum(lacing)
        if end > len(data):
            raise AudioError(f"{path}: the Ogg file is truncated")
        pages.append({"flags": flags, "granule": granule, "serial": serial, "seq": seq, "lacing": lacing,
                      "body": data[start:end], "raw": data[pos:end]})
        pos = end
    if not pages:
        raise AudioError(f"{path}: empty Ogg file")
    if len({p["serial"] for p in pages}) != 1:
        raise AudioError(f"{path}: several logical Ogg streams; only single-stream files are supported")
    return pages


def _header_packets(pages: list[dict], count: int, path: Path) -> tuple[list[bytes], int]:
    """The first `count` packets and the number of pages they fill (they must end a page)."""
    packets, current = [], b""
    for index, page in enumerate(pages):
        pos = 0
        for lace in page["lacing"]:
            current += page["body"][pos:pos + lace]
            pos += lace
            if lace < 255:
                packets.append(current)
                current = b""
        if len(packets) >= count:
            if len(packets) > count or current:
                raise AudioError(f"{path}: audio shares a page with the Ogg headers (not a standard stream)")
            return packets, index + 1
    raise AudioError(f"{path}: the Ogg headers are incomplete")


def _page(serial: int, seq: int, flags: int, granule: int, lacing: bytes, body: bytes) -> bytes:
    head = b"OggS" + struct.pack("<BBqIII", 0, flags, granule, serial, seq, 0) + bytes([len(lacing)]) + lacing
    crc = ogg_crc(head + body)
    return head[:22] + struct.pack("<I", crc) + head[26:] + body


def _paginate(packets: list[bytes], serial: int, first_seq: int) -> list[bytes]:
    """Header packets -> pages (granule 0), each packet laced; a page holds at most 255 lacing values."""
    lacing, chunks = [], []
    for packet in packets:
        n = len(packet)
        values = [255] * (n // 255) + [n % 255]
        offset = 0
        for v in values:
            lacing.append(v)
            chunks.append(packet[offset:offset + v])
            offset += v
    pages, seq, i, continued = [], first_seq, 0, False
    while i < len(lacing):
        part = lacing[i:i + 255]
        body = b"".join(chunks[i:i + len(part)])
        pages.append(_page(serial, seq, 1 if continued else 0, 0, bytes(part), body))
        continued = part[-1] == 255
        i += len(part)
        seq += 1
    return pages


def _ogg_kind(first_packet: bytes, path: Path) -> tuple[bytes, int]:
    if first_packet.startswith(b"\x01vorbis"):
        return _VORBIS, 3
    if first_packet.startswith(b"OpusHead"):
        return _OPUS, 2
    raise AudioError(f"{path}: an Ogg stream that is neither Vorbis nor Opus")


def _ogg_comments(data: bytes, path: Path):
    pages = _pages(data, path)
    first, _ = _header_packets(pages, 1, path)
    magic, count = _ogg_kind(first[0], path)
    packets, used = _header_packets(pages, count, path)
    if not packets[1].startswith(magic):
        raise AudioError(f"{path}: the second Ogg packet is not a comment header")
    vendor, items, end = parse_comment_block(packets[1], len(magic))
    return pages, packets, used, magic, vendor, items, packets[1][end:]


def _set_ogg(data: bytes, path: Path, updates: tp.Mapping[str, str]) -> bytes:
    pages, packets, used, magic, vendor, items, suffix = _ogg_comments(data, path)
    if magic == _VORBIS and not suffix:
        suffix = b"\x01"  # the framing bit
    packets[1] = magic + build_comment_block(vendor, _merged(items, updates)) + suffix
    serial = pages[0]["serial"]
    out = [pages[0]["raw"]] + _paginate(packets[1:], serial, pages[0]["seq"] + 1)
    shift = (len(out) - used)
    for page in pages[used:]:
        if shift == 0:
            out.append(page["raw"])
        else:
            out.append(_page(serial, page["seq"] + shift, page["flags"], page["granule"], page["lacing"],
                             page["body"]))
    return b"".join(out)


# --- FLAC ---------------------------------------------------------------------------------------------------

def _flac_blocks(data: bytes, path: Path) -> tuple[list[tuple[int, bytes]], int]:
    if data[:4] != b"fLaC":
        raise AudioError(f"{path}: not a FLAC file")
    blocks, pos, last = [], 4, False
    while not last:
        if pos + 4 > len(data):
            raise AudioError(f"{path}: the FLAC metadata is truncated")
        head = data[pos]
        last, kind = bool(head & 0x80), head & 0x7F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        blocks.append((kind, data[pos + 4:pos + 4 + size]))
        pos += 4 + size
    return blocks, pos


def _set_flac(data: bytes, path: Path, updates: tp.Mapping[str, str]) -> bytes:
    blocks, audio_at = _flac_blocks(data, path)
    vendor, items = "tonecraft", []
    for kind, body in blocks:
        if kind == _FLAC_COMMENT:
            vendor, items, _ = parse_comment_block(body)
            break
    comment = build_comment_block(vendor, _merged(items, updates))
    if len(comment) >= 1 << 24:
        raise AudioError("the comments are too large for a FLAC metadata block (16 MiB)")
    kept = [(k, b) for k, b in blocks if k != _FLAC_COMMENT]
    kept.insert(1, (_FLAC_COMMENT, comment))  # right after STREAMINFO
    out = [b"fLaC"]
    for i, (kind, body) in enumerate(kept):
        out.append(bytes([kind | (0x80 if i == len(kept) - 1 else 0)]) + len(body).to_bytes(3, "big") + body)
    return b"".join(out) + data[audio_at:]


# --- public API ---------------------------------------------------------------------------------------------

def _kind(data: bytes, path: Path) -> str:
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    raise AudioError(f"{path}: Vorbis comments need an Ogg (Vorbis / Opus) or FLAC file")


def read_comments(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Every (key, value) comment of an Ogg Vorbis / Opus or FLAC file, in file order."""
    path = check_input_file(path, AudioError, "an audio file")
    data = path.read_bytes()
    if _kind(data, path) == "ogg":
        return _ogg_comments(data, path)[5]
    for kind, body in _flac_blocks(data, path)[0]:
        if kind == _FLAC_COMMENT:
            return parse_comment_block(body)[1]
    return []


def set_comments(path: str | os.PathLike, updates: tp.Mapping[str, str]) -> Path:
    """Set `updates` (existing keys of the same name, any case, are replaced; the others kept) and rewrite
    the file atomically; the audio packets are copied unchanged."""
    path = check_input_file(path, AudioError, "an audio file")
    data = path.read_bytes()
    new = _set_ogg(data, path, updates) if _kind(data, path) == "ogg" else _set_flac(data, path, updates)
    return atomic_write_bytes(path, new)


def loop_tags(start: int, length: int) -> dict[str, str]:
    """The loop tags engines read, in sample frames: LOOPSTART, LOOPLENGTH and LOOPEND (= start + length,
    exclusive: SDL_mixer's reading), upper case (RPG Maker's reader is case-sensitive)."""
    if start < 0 or length <= 0:
        raise AudioError(f"bad loop: start {start}, length {length}")
    return {"LOOPSTART": str(start), "LOOPLENGTH": str(length), "LOOPEND": str(start + length)}
