"""Compress audio files to neural-codec codes on disk, and back.

The output format follows the extension (`.ecdc` = original EnCodec files, anything else = `.tcq`);
input files are recognised by their magic bytes. Files name the model that made them, so
`decompress_file` needs no model argument. Long audio is processed piece by piece: segmented
models (48 kHz) segment by segment, others through the codec's streaming encoder/decoder, which
gives the same codes as one call without holding every activation of a long file in memory.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import CompressedFileError, ConfigError
from ..fileio import check_input_file
from . import ecdc, tcq

DEFAULT_MODEL = "encodec_24khz"
STREAM_CHUNK_SECONDS = 10.0  # unsegmented models are streamed in chunks this long
PROGRESS_SECONDS = 30.0  # progress=None shows a bar only for audio longer than this


def output_format(path) -> str:
    """'ecdc' for a .ecdc path, else 'tcq'."""
    return "ecdc" if Path(path).suffix.lower() == ecdc.SUFFIX else "tcq"


def sniff_format(path) -> str:
    """'tcq' or 'ecdc' from the file's magic bytes (extensions can lie)."""
    check_input_file(path, CompressedFileError, "a .tcq or .ecdc file")  # no FIFO hang, no pipe seek
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise CompressedFileError(f"cannot open {path}: {exc.strerror or exc}") from exc
    if magic == tcq.MAGIC:
        return "tcq"
    if magic == ecdc.MAGIC:
        return "ecdc"
    raise CompressedFileError(f"{path}: not a .tcq or .ecdc file (unknown magic {magic!r})")


def _resolve_model(model, device, model_id: str | None = None):
    """(codec, id to store in the header). Strings are loaded; local paths are stored absolute
    so the file can be decompressed from another working directory."""
    if isinstance(model, (str, os.PathLike)):
        from tonecraft.pretrained.codec_loading import load_codec

        codec = load_codec(model, device=device or "cpu")
        if model_id is None:
            model_id = os.path.abspath(model) if os.path.exists(model) else str(model)
    else:
        codec = model.to(device) if device is not None else model
        if model_id is None:
            model_id = getattr(codec, "name_or_path", None) or codec.config.name
            if os.path.exists(model_id):
                model_id = os.path.abspath(model_id)
    return codec.eval(), str(model_id)


def _device(codec) -> torch.device:
    return next(codec.parameters()).device


def _bits(codec) -> int:
    return int(math.log2(codec.cardinality))


def _show(progress: bool | None, seconds: float) -> bool:
    return seconds > PROGRESS_SECONDS if progress is None else bool(progress)


def _encode(codec, wav: torch.Tensor, bandwidth: float, bounds, show: bool, desc: str
            ) -> Iterator[tuple[np.ndarray, float | None]]:
    """Codes [n_q, frames] and scale per segment of `bounds`, on the codec's device."""
    dev = _device(codec)
    bounds = list(bounds)
    chunk = int(STREAM_CHUNK_SECONDS * codec.sample_rate)
    if len(bounds) == 1 and wav.shape[-1] > 2 * chunk and _can_stream(codec):
        # one long segment: stream it, same codes as a single encode call
        enc = codec.stream_encoder(bandwidth)
        parts = []
        with tqdm(total=-(-wav.shape[-1] // chunk), desc=desc, unit="chunk", disable=not show) as bar:
            for start in range(0, wav.shape[-1], chunk):
                parts.append(enc.push(wav[None, :, start:start + chunk].to(dev)).cpu())
                bar.update(1)
        parts.append(enc.flush().cpu())
        yield torch.cat(parts, dim=-1)[0].numpy(), None
        return
    for off, n in tqdm(bounds, desc=desc, unit="seg", disable=not show):
        codes, scale = codec.encode(wav[None, :, off:off + n].to(dev), bandwidth)
        yield codes[0].cpu().numpy(), None if scale is None else float(scale.reshape(-1)[0])


def _can_stream(codec) -> bool:
    """Per-segment scales and time group norm need the whole segment at once."""
    return not codec.config.normalize and codec.config.norm != "time_group_norm"


def _ecdc_layout_of(codec) -> ecdc.EcdcLayout:
    return ecdc.EcdcLayout(codec.sample_rate, codec.channels, codec.frame_rate, _bits(codec),
                           codec.segment_length or 0, codec.segment_stride or 0,
                           bool(codec.config.normalize))


def compress_file(in_path, out_path, model=DEFAULT_MODEL, bandwidth: float | None = None,
                  progress: bool | None = None, *, device=None, model_id: str | None = None) -> dict:
    """Encode an audio file (any rate/channels: converted to the model's) into `out_path`.

    `model` is a loaded codec or a name/path for the codec loader; the header stores `model_id`
    (default: that name, an absolute path, or the codec's `name_or_path`/config name -- pass
    `model_id` for a codec built in memory, or the file will name its config, e.g. an official one).
    `bandwidth` in kbps must be one of the model's target bandwidths (default: the highest).
    Returns `read_info(out_path)`.
    """
    from tonecraft.audio import audio_info, load_audio

    src = audio_info(in_path)  # a missing or unreadable input fails before the model loads
    codec, mid = _resolve_model(model, device, model_id)
    if bandwidth is None:
        bandwidth = codec.bandwidth if codec.bandwidth is not None else max(codec.target_bandwidths)
    if not any(abs(bandwidth - b) < 1e-9 for b in codec.target_bandwidths):
        raise ConfigError(f"model {mid} does not support {bandwidth} kbps; "
                          f"choose one of {', '.join(f'{b:g}' for b in codec.target_bandwidths)}")
    n_q = codec.n_q_for_bandwidth(bandwidth)
    wav, _ = load_audio(in_path, sample_rate=codec.sample_rate, channels=codec.channels)
    length = wav.shape[-1]
    show = _show(progress, length / codec.sample_rate)
    desc = f"compress {Path(in_path).name}"
    if output_format(out_path) == "ecdc":
        layout = ecdc.LAYOUTS.get(mid) or _ecdc_layout_of(codec)
        if layout != _ecdc_layout_of(codec):
            raise ConfigError(f"model {mid} does not have the layout .ecdc files of that name imply")
        header = ecdc.EcdcHeader(mid, length, n_q)
        with ecdc.EcdcWriter(out_path, header, layout) as w:
            for codes, scale in _encode(codec, wav, bandwidth, layout.segments(length), show, desc):
                w.write_segment(codes, scale)
        return read_info(out_path, model=codec)
    else:
        header = tcq.TcqHeader(
            model=mid, sample_rate=codec.sample_rate, channels=codec.channels, length=length, n_q=n_q,
            bits=_bits(codec), frame_rate=float(codec.frame_rate), bandwidth=float(bandwidth),
            segment_length=codec.segment_length or 0, segment_stride=codec.segment_stride or 0,
            has_scales=bool(codec.config.normalize),
            meta={"source_sample_rate": int(src.samplerate), "source_channels": int(src.channels)})
        with tcq.TcqWriter(out_path, header) as w:
            for codes, scale in _encode(codec, wav, bandwidth, header.segments(), show, desc):
                w.write_segment(codes, scale)
    return read_info(out_path)


def _open(path):
    """(reader, format, common layout dict) for a .tcq or .ecdc file."""
    fmt = sniff_format(path)
    if fmt == "tcq":
        r = tcq.TcqReader(path)
        h = r.header
        lay = dict(model=h.model, sample_rate=h.sample_rate, channels=h.channels, length=h.length,
                   n_q=h.n_q, bits=h.bits, frame_rate=h.frame_rate, segment_length=h.segment_length,
                   segment_stride=h.segment_stride, has_scales=h.has_scales)
        return r, fmt, lay
    r = ecdc.EcdcReader(path)
    lay = dict(model=r.header.model, length=r.header.length, n_q=r.header.n_q)
    if r.layout is not None:
        lay.update(_layout_dict(r.layout))
    return r, fmt, lay


def _layout_dict(layout: ecdc.EcdcLayout) -> dict:
    return dict(sample_rate=layout.sample_rate, channels=layout.channels, bits=layout.bits,
                frame_rate=layout.frame_rate, segment_length=layout.segment_length,
                segment_stride=layout.segment_stride, has_scales=layout.has_scales)


def _check_compatible(codec, lay: dict, where: str) -> None:
    ours = dict(sample_rate=codec.sample_rate, channels=codec.channels, bits=_bits(codec),
                frame_rate=float(codec.frame_rate))
    bad = [f"{k} {lay[k]} vs {v}" for k, v in ours.items() if k in lay and lay[k] != v]
    if lay["n_q"] > codec.total_n_q:
        bad.append(f"{lay['n_q']} codebooks vs {codec.total_n_q}")
    if bad:
        raise CompressedFileError(f"{where} does not match the model ({'; '.join(bad)}); "
                                  f"decompress it with the model it was made with ({lay['model']})")


class _OverlapAdd:
    """Incremental form of the codec's triangular overlap-add (`linear_overlap_add`: same weights,
    same sums), so segments are joined as they are decoded instead of all kept in memory."""

    def __init__(self, channels: int, n_segments: int, stride: int):
        self.channels, self.n_segments, self.stride = channels, n_segments, stride
        self.out = None

    def add(self, i: int, frame: torch.Tensor) -> None:
        if self.out is None:  # weights span the first decoded segment, as in linear_overlap_add
            n = frame.shape[-1]
            t = torch.linspace(0, 1, n + 2, dtype=frame.dtype)[1:-1]
            self.weight = 0.5 - (t - 0.5).abs()
            total = self.stride * (self.n_segments - 1) + n
            self.out = frame.new_zeros(self.channels, total)
            self.sum_w = frame.new_zeros(total)
        off = i * self.stride
        n = min(frame.shape[-1], self.weight.shape[0], self.out.shape[-1] - off)
        self.out[:, off:off + n] += self.weight[:n] * frame[:, :n]
        self.sum_w[off:off + n] += self.weight[:n]

    def result(self, length: int) -> torch.Tensor:
        """The first `length` samples (all covered by some segment, so no division by zero)."""
        return self.out[:, :length] / self.sum_w[:length]


def _decode(codec, reader, lay: dict, show: bool, desc: str) -> torch.Tensor:
    """[C, length] audio from the reader's segments."""
    dev = _device(codec)
    length, seg_len, stride = lay["length"], lay["segment_length"], lay["segment_stride"]
    if not seg_len:
        (seg,) = list(reader)
        codes = torch.from_numpy(seg.codes)[None].to(dev)
        chunk = max(1, int(STREAM_CHUNK_SECONDS * codec.frame_rate))
        if codes.shape[-1] > 2 * chunk and _can_stream(codec):
            dec = codec.stream_decoder()
            parts = []
            for start in tqdm(range(0, codes.shape[-1], chunk), desc=desc, unit="chunk", disable=not show):
                parts.append(dec.push(codes[..., start:start + chunk]).cpu())
            parts.append(dec.flush().cpu())
            wav = torch.cat(parts, dim=-1)
        else:
            scale = None if seg.scale is None else torch.tensor([[seg.scale]], device=dev)
            wav = codec.decode(codes, scale).cpu()
        if wav.shape[-1] < length:  # the reader checks frame counts; a codec with another hop could still differ
            raise CompressedFileError(f"the codes decode to {wav.shape[-1]} samples but the header says {length}")
        return wav[0, :, :length]
    n_seg = -(-length // stride)
    ola = _OverlapAdd(codec.channels, n_seg, stride)
    for seg in tqdm(reader, total=n_seg, desc=desc, unit="seg", disable=not show):
        codes = torch.from_numpy(seg.codes)[None].to(dev)
        scale = None if seg.scale is None else torch.tensor([[seg.scale]], device=dev)
        ola.add(seg.offset // stride, codec.decode(codes, scale)[0].cpu())
    return ola.result(length)


def decompress_file(in_path, out_path, model=None, progress: bool | None = None, *,
                    device=None) -> Path:
    """Decode a .tcq/.ecdc file to audio at the model's sample rate (written without
    normalisation). The model named in the file is loaded unless `model` (codec, name or path)
    is given. Returns the output path."""
    from tonecraft.audio import save_audio

    reader, fmt, lay = _open(in_path)
    with reader:
        if model is None:
            model = lay["model"]
        codec, _ = _resolve_model(model, device)
        if fmt == "ecdc" and reader.layout is None:
            reader.layout = _ecdc_layout_of(codec)
            lay.update(_layout_dict(reader.layout))
        _check_compatible(codec, lay, str(in_path))
        show = _show(progress, lay["length"] / lay["sample_rate"])
        wav = _decode(codec, reader, lay, show, f"decompress {Path(in_path).name}")
    return save_audio(out_path, wav, codec.sample_rate, normalize="none")


def read_info(path, verify: bool = False, model=None) -> dict:
    """Header fields of a .tcq or .ecdc file (no model needed). With `verify`, every segment is
    read and checked too (checksums for .tcq, sizes for both). `model` (codec, name or path) is
    only used for .ecdc files of non-official models, whose layout the file does not give."""
    reader, fmt, lay = _open(path)
    with reader:
        if fmt == "ecdc" and reader.layout is None and model is not None:
            reader.layout = _ecdc_layout_of(_resolve_model(model, None)[0])
            lay.update(_layout_dict(reader.layout))
        info = {"format": fmt, "file_size": os.path.getsize(path), **lay}
        if fmt == "tcq":
            h = reader.header
            info.update(version=tcq.VERSION, bandwidth=h.bandwidth, n_segments=h.n_segments, meta=h.meta)
        else:
            info.update(version=ecdc.VERSION, use_lm=reader.header.use_lm)
            if reader.layout is not None:
                info["n_segments"] = sum(1 for _ in reader.layout.segments(reader.header.length))
        if "sample_rate" in info:
            info["duration"] = info["length"] / info["sample_rate"]
            info["cardinality"] = 1 << info["bits"]
            info.setdefault("bandwidth", info["n_q"] * info["bits"] * info["frame_rate"] / 1000)
            info["file_kbps"] = info["file_size"] * 8 / 1000 / info["duration"]
        info["checksums"] = fmt == "tcq"
        # A .tcq file is always read through (sizes, frame counts against the length field, CRCs) so that
        # `info` never shows a length the decoder would not produce; `verify` extends that to .ecdc files.
        if verify or fmt == "tcq":
            if fmt == "ecdc" and reader.layout is None:
                raise CompressedFileError(f"{path}: cannot verify an .ecdc file of a non-official "
                                          f"model ({lay['model']!r}) without that model (--model)")
            for _ in reader:
                pass
            info["verified"] = True
    return info
