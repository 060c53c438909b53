"""`tonecraft info FILE`: the header of a .tcq or .ecdc file, for humans."""
from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="compressed .tcq or .ecdc file")
    p.add_argument("--verify", action="store_true",
                   help="also read every segment and check its checksum/size")
    p.add_argument("--json", action="store_true", help="print the fields as JSON")
    p.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="codec of an .ecdc file made with a non-official model (its layout is not in the file)")


def _seconds(n: int, sr: int) -> str:
    s = n / sr
    return f"{s:.3f} s" if s < 60 else f"{int(s // 60)} min {s % 60:06.3f} s"


def format_info(info: dict) -> str:
    """Readable lines: what model, what audio, what rate, how it is laid out."""
    fmt = {"tcq": ".tcq (tonecraft)", "ecdc": ".ecdc (EnCodec)"}[info["format"]]
    rows = [("format", f"{fmt} version {info['version']}"), ("model", info["model"])]
    sr = info.get("sample_rate")
    if sr:
        ch = {1: "mono", 2: "stereo"}.get(info["channels"], f"{info['channels']} channels")
        rows += [("audio", f"{sr} Hz, {ch}, {info['length']} samples ({_seconds(info['length'], sr)})"),
                 ("codes", f"{info['n_q']} codebooks x {info['cardinality']} entries ({info['bits']} bits),"
                           f" {info['frame_rate']:g} frames/s"),
                 ("bandwidth", f"{info['bandwidth']:g} kbps")]
        if info["segment_length"]:
            rows.append(("segments", f"{info['n_segments']} of {_seconds(info['segment_length'], sr)} "
                                      f"every {_seconds(info['segment_stride'], sr)}"
                                      + (", with per-segment scales" if info["has_scales"] else "")))
        else:
            rows.append(("segments", "1 (whole audio)"))
    else:
        rows += [("audio", f"{info['length']} samples (rate unknown for a non-official model: use --model)"),
                 ("codes", f"{info['n_q']} codebooks")]
    size = f"{info['file_size']} bytes"
    if "file_kbps" in info:
        size += f" ({info['file_kbps']:.2f} kbps)"
    rows.append(("file size", size))
    meta = info.get("meta") or {}
    if "source_sample_rate" in meta:
        rows.append(("source", f"{meta['source_sample_rate']} Hz, {meta.get('source_channels', '?')} channel(s)"))
    if info.get("verified"):
        rows.append(("verified", "all segments read, checksums OK" if info["format"] == "tcq"
                     else "all segments read, sizes and padding OK"))
    if info["format"] == "ecdc":
        rows.append(("checksum", "none: the .ecdc format has no checksum, so flipped bits in the codes "
                                 "cannot be detected (only wrong sizes and padding)"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def run(args: argparse.Namespace) -> int:
    from ..compressed.compress import read_info

    info = read_info(args.file, verify=args.verify, model=args.model)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0
