"""Concatenate token caches written by the same codec (e.g. shards encoded in parallel) into one.

    python scripts/merge_token_caches.py OUT CACHE1 CACHE2 ...
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path


def merge(out: str | os.PathLike, caches: list[str]) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    index, items, offset = None, [], 0
    tmp = out / ".codes.bin.tmp"
    with open(tmp, "wb") as f:
        for c in caches:
            idx = json.loads((Path(c) / "index.json").read_text())
            if index is None:
                index = idx
            for key in ("num_codebooks", "cardinality", "frame_rate", "sample_rate", "codec"):
                if idx[key] != index[key]:
                    sys.exit(f"{c}: {key} {idx[key]!r} differs from {index[key]!r}")
            for it in idx["items"]:
                items.append({**it, "offset": it["offset"] + offset})
            with open(Path(c) / "codes.bin", "rb") as src:
                shutil.copyfileobj(src, f)
            offset += idx["total_frames"]
    os.replace(tmp, out / "codes.bin")
    index = {**index, "items": items, "total_frames": offset}
    (out / ".index.json.tmp").write_text(json.dumps(index))
    os.replace(out / ".index.json.tmp", out / "index.json")
    return out


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    p = merge(sys.argv[1], sys.argv[2:])
    print(f"merged {len(sys.argv) - 2} caches into {p}")
