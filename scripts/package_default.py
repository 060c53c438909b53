"""Copy a trained LM export + its codec export into a shipped model's folder (fp16 safetensors).

    python scripts/package_default.py --lm RUNS/default_lm/export --codec RUNS/default_codec/export \
        [--name tonecraft-default] [-o src/tonecraft/assets/default] [--fp32]
    python scripts/package_default.py --name tonecraft-sfx-default --lm RUNS/sfx_lm/export \
        --codec RUNS/sfx_codec/export --max-duration 5        # -> src/tonecraft/assets/sfx

Result (loadable by `MusicGen.from_pretrained("tonecraft-default")` / `AudioGen.from_pretrained(
"tonecraft-sfx-default")`):
    config.json         the tonecraft-lm config, with "codec": "codec" (relative), the model's name and family
    model.safetensors   LM + text projection (fp16)
    codec/config.json, codec/model.safetensors   the codec (fp16)
MODEL_CARD.md in the output folder is left alone.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from tonecraft.fileio import atomic_path, atomic_write_bytes, atomic_write_json
from tonecraft.pretrained.default_model import ASSETS, SHIPPED_MODELS, find_shipped
from tonecraft.safe_load import read_tensor_file


def _half(path_in: Path, path_out: Path, fp32: bool, metadata: dict | None = None) -> int:
    tensors = read_tensor_file(path_in)
    out = {}
    for k, v in tensors.items():
        out[k] = v if (fp32 or not v.is_floating_point()) else v.to(torch.float16)
        out[k] = out[k].contiguous()
    with atomic_path(path_out) as tmp:
        save_file(out, str(tmp), metadata=metadata)
    return path_out.stat().st_size


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm", required=True, help="LM export folder (tonecraft train export)")
    p.add_argument("--codec", required=True, help="codec export folder")
    p.add_argument("--name", default=SHIPPED_MODELS[0].name, choices=[m.name for m in SHIPPED_MODELS])
    p.add_argument("-o", "--output", default=None, help="default: the model's folder under src/tonecraft/assets")
    p.add_argument("--fp32", action="store_true", help="keep float32 weights")
    p.add_argument("--cfg-coef", type=float, default=3.0, help="default guidance scale stored in the config")
    p.add_argument("--temperature", type=float, default=1.0, help="default sampling temperature stored in the config")
    p.add_argument("--top-k", type=int, default=250, help="default top-k stored in the config")
    p.add_argument("--max-duration", type=float, default=None,
                   help="longest single window in seconds (default: the export's, else 30)")
    args = p.parse_args(argv)
    shipped = find_shipped(args.name)
    lm_dir, codec_dir = Path(args.lm), Path(args.codec)
    out = Path(args.output) if args.output else ASSETS / shipped.folder
    config = json.loads((lm_dir / "config.json").read_text())
    if config.get("format") != "tonecraft-lm":
        sys.exit(f"{lm_dir}: not a tonecraft-lm export")
    (out / "codec").mkdir(parents=True, exist_ok=True)
    # where the codec came from, relative to the training data folder (no machine paths in a shipped file)
    config.update(name=shipped.name, codec="codec", cfg_coef=args.cfg_coef,
                  temperature=args.temperature, top_k=args.top_k,
                  trained_codec="/".join(codec_dir.resolve().parts[-3:]), family=shipped.family)
    if args.max_duration is not None:
        config["max_duration"] = args.max_duration
    size = _half(lm_dir / "model.safetensors", out / "model.safetensors", args.fp32, {"format": "tonecraft-lm"})
    atomic_write_json(out / "config.json", config)
    size += _half(codec_dir / "model.safetensors", out / "codec" / "model.safetensors", args.fp32)
    atomic_write_bytes(out / "codec" / "config.json", (codec_dir / "config.json").read_bytes())
    print(f"packaged LM step {config.get('step')} + codec into {out} ({size / 2**20:.1f} MiB of weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
