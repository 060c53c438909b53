"""Load EnCodec weights from every official format into `tonecraft.codec.Codec`.

Accepted sources (a local path, a known name or a Hugging Face repo id):
  * encodec package checkpoints `encodec_24khz-d7cc33bc.th` / `encodec_48khz-7e698e3e.th` (plain state
    dicts; names `encodec_24khz`, `encodec_48khz`; looked up in the torch hub cache, then on the Hub);
  * Hugging Face `EncodecModel` folders (config.json + model.safetensors / pytorch_model.bin) and repo
    ids such as `facebook/encodec_32khz`; full MusicGen HF folders (the `audio_encoder.*` part);
  * audiocraft `compression_state_dict.bin` (`{'best_state', 'xp.cfg'}` or `{'pretrained': ...}`);
  * tonecraft folders written by `save_codec` (config.json with model_type "tonecraft_codec").
Weight norm is folded after loading; the model is returned in eval mode.
"""
from __future__ import annotations

import json
import os
import re
import typing as tp
from pathlib import Path

import torch

from tonecraft.codec.configs import CodecConfig, get_config
from tonecraft.codec.model import Codec
from tonecraft.errors import CheckpointError, ConfigError, ModelNotFoundError

from .. import hub
from ..fileio import atomic_path, atomic_write_text, model_path
from ..safe_load import read_weights, safe_torch_load
from .default_model import find_shipped, shipped_codec_spec
from .codec_convert import StateDict, audiocraft_config_to_codec_config, hf_config_to_codec_config, hf_to_tonecraft_keys

NATIVE_MODEL_TYPE = "tonecraft_codec"
ENCODEC_URL = "https://dl.fbaipublicfiles.com/encodec/v0/"
# name -> (encodec package file, equivalent Hugging Face repo)
ENCODEC_CHECKPOINTS = {
    "encodec_24khz": ("encodec_24khz-d7cc33bc.th", "facebook/encodec_24khz"),
    "encodec_48khz": ("encodec_48khz-7e698e3e.th", "facebook/encodec_48khz"),
}
HF_FILES = [["config.json", "model.safetensors"], ["config.json", "pytorch_model.bin"]]
AUDIOCRAFT_FILES = [["compression_state_dict.bin"]]
REPO_FILES = [*AUDIOCRAFT_FILES, *HF_FILES]  # unknown repos: either layout
# other short names -> Hub repo holding the codec
NAMED_REPOS = {
    "encodec_32khz": "facebook/encodec_32khz",
    "musicgen_32khz": "facebook/encodec_32khz",
    "audiogen_16khz": "facebook/audiogen-medium",
}
HF_CODEC_REPOS = {"facebook/encodec_24khz", "facebook/encodec_32khz", "facebook/encodec_48khz"}


# --- public API --------------------------------------------------------------------------------
def load_codec(name_or_path: str | os.PathLike, device: str | torch.device = "cpu") -> Codec:
    """Codec from a local file/folder, a known name (`encodec_24khz`, `encodec_48khz`, `musicgen_32khz`,
    `audiogen_16khz`) or a Hub repo id; ready for inference: eval mode, weight norm folded, parameters
    frozen (`requires_grad_(True)` before fine-tuning)."""
    codec = _load_any(name_or_path, depth=0)
    codec.eval().fold_weight_norm().requires_grad_(False)
    codec.name_or_path = str(name_or_path)
    return codec.to(device)


def codec_from_hf(config: dict, state_dict: StateDict, device: str | torch.device = "cpu") -> Codec:
    """Codec from a transformers EncodecConfig dict and its state dict (e.g. the `audio_encoder`
    part of a MusicGen checkpoint, prefix already stripped)."""
    n_q = _count_codebooks(state_dict, r"^quantizer\.layers\.(\d+)\.")
    codec = Codec(hf_config_to_codec_config(config, n_q))
    _load_state(codec, hf_to_tonecraft_keys(state_dict, codec), "transformers EnCodec weights")
    return codec.eval().fold_weight_norm().requires_grad_(False).to(device)


def save_codec(codec: Codec, directory: str | os.PathLike) -> Path:
    """Write `config.json` + `model.safetensors` into `directory`; each file is replaced atomically
    and the config is written last, so a half-written folder is never mistaken for a model."""
    from safetensors.torch import save_file
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().to("cpu").contiguous() for k, v in codec.state_dict().items()}
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(sd, str(tmp), metadata={"format": "pt"})
    cfg = {"model_type": NATIVE_MODEL_TYPE, "format_version": 1, **codec.config.to_dict()}
    text = json.dumps(cfg, indent=2) + "\n"
    atomic_write_text(out / "config.json", text)
    return out


# --- dispatch ----------------------------------------------------------------------------------
def _load_any(src: str | os.PathLike, depth: int) -> Codec:
    if depth > 3:
        raise CheckpointError(f"too many 'pretrained' redirections while loading {src!r}")
    path = model_path(src)  # hostile ids (FIFOs, loops, 300-byte names) fail here, clearly
    if path is not None:
        return _load_path(path, depth)
    name = str(src)
    if find_shipped(name) is not None:
        return _load_any(shipped_codec_spec(name), depth + 1)
    if name in ENCODEC_CHECKPOINTS:
        return _load_encodec_name(name)
    repo = NAMED_REPOS.get(name, name)
    if repo in NAMED_REPOS.values() or hub.is_repo_id(repo):
        files = HF_FILES if repo in HF_CODEC_REPOS else AUDIOCRAFT_FILES if repo in NAMED_REPOS.values() \
            else REPO_FILES
        return _load_repo(repo, name, depth, alternatives=files)
    known = ", ".join([*ENCODEC_CHECKPOINTS, *NAMED_REPOS])
    raise ModelNotFoundError(f"{name!r} is neither an existing file/folder nor a known codec name ({known}) "
                             f"nor a Hugging Face repo id like 'facebook/encodec_32khz'.")


def _load_encodec_name(name: str) -> Codec:
    filename, repo = ENCODEC_CHECKPOINTS[name]
    local = hub.find_local_file(filename, [hub.torch_hub_checkpoint_dir()])
    if local is not None:
        return _load_encodec_package(local)
    try:
        return _load_repo(repo, name, 0, alternatives=HF_FILES)
    except ModelNotFoundError as e:
        raise ModelNotFoundError(
            f"{e}\nOr use the encodec package checkpoint: download {ENCODEC_URL + filename} into "
            f"{hub.torch_hub_checkpoint_dir()} (found there automatically) or pass the file's path.") from None


def _load_repo(repo_id: str, name: str, depth: int, alternatives=REPO_FILES) -> Codec:
    files = hub.resolve_repo_files(repo_id, alternatives, name=name)
    if "compression_state_dict.bin" in files:
        return _load_file(files["compression_state_dict.bin"], depth)
    return _load_folder_files(files["config.json"], next(p for f, p in files.items() if f != "config.json"))


def _load_folder_files(cfg_file: Path, weights: Path) -> Codec:
    """config.json + weights: tonecraft's own format or a transformers one."""
    cfg = _read_json(cfg_file)
    if cfg.get("model_type") == NATIVE_MODEL_TYPE:
        return _load_native(cfg, weights)
    return _load_hf(cfg_file, weights)


def _load_path(path: Path, depth: int) -> Codec:
    if path.is_dir():
        cfg_file = path / "config.json"
        if cfg_file.is_file():
            _read_json(cfg_file)  # malformed JSON is reported before missing weights
            return _load_folder_files(cfg_file, _find_weights(path))
        if (path / "compression_state_dict.bin").is_file():
            return _load_file(path / "compression_state_dict.bin", depth)
        ths = sorted(path.glob("*.th"))
        if len(ths) == 1:
            return _load_encodec_package(ths[0])
        raise CheckpointError(
            f"{path} holds no codec checkpoint: expected config.json + model.safetensors (tonecraft or Hugging "
            f"Face format), compression_state_dict.bin (audiocraft) or one encodec .th file.")
    if path.suffix == ".safetensors":
        cfg_file = path.parent / "config.json"
        if not cfg_file.is_file():
            raise CheckpointError(f"{path}: a .safetensors file needs a config.json next to it")
        return _load_folder_files(cfg_file, path)
    return _load_file(path, depth)


def _load_file(path: Path, depth: int) -> Codec:
    obj = safe_torch_load(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(obj).__name__}")
    if "best_state" in obj:
        return _load_audiocraft(obj, path)
    if "pretrained" in obj and isinstance(obj["pretrained"], str):
        target = obj["pretrained"]
        if not (Path(target).expanduser().exists() or hub.is_repo_id(target) or target in NAMED_REPOS
                or target in ENCODEC_CHECKPOINTS):
            raise CheckpointError(f"{path} points to an unsupported compression model {target!r}")
        return _load_any(target, depth + 1)
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return _load_encodec_package(path, obj)
    raise CheckpointError(f"{path}: unrecognised checkpoint layout (keys: {sorted(obj)[:8]})")


# --- formats -----------------------------------------------------------------------------------
def _load_native(cfg: dict, weights: Path) -> Codec:
    cfg = {k: v for k, v in cfg.items() if k not in ("model_type", "format_version")}
    try:
        config = CodecConfig.from_dict(cfg)
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"invalid tonecraft codec config.json: {e}") from None
    return _build(config, read_weights(weights), str(weights))


def _load_encodec_package(path: Path, sd: StateDict | None = None) -> Codec:
    sd = safe_torch_load(path) if sd is None else sd
    stem = path.name
    if stem.startswith("encodec_48khz"):
        name = "encodec_48khz"
    elif stem.startswith("encodec_24khz"):
        name = "encodec_24khz"
    elif any(k.endswith(".conv.norm.weight") for k in sd):
        name = "encodec_48khz"
    else:
        name = "encodec_24khz"
    return _build(get_config(name), sd, str(path))


def _load_hf(cfg_file: Path, weights: Path) -> Codec:
    d = _read_json(cfg_file)
    prefix = ""
    model_type = d.get("model_type")
    if model_type in ("musicgen", "musicgen_melody"):  # full MusicGen: take its audio encoder
        d, prefix = d.get("audio_encoder") or {}, "audio_encoder."
        model_type = d.get("model_type")
    if model_type != "encodec":
        raise CheckpointError(f"{cfg_file}: model_type {model_type!r} is not an EnCodec model")
    sd = read_weights(weights, prefix)
    if not sd:
        raise CheckpointError(f"{weights}: no EnCodec weights found" + (f" under {prefix!r}" if prefix else ""))
    n_q = _count_codebooks(sd, r"^quantizer\.layers\.(\d+)\.")
    config = hf_config_to_codec_config(d, n_q)
    codec = Codec(config)
    return _load_state(codec, hf_to_tonecraft_keys(sd, codec), str(weights))


# --- audiocraft ----------------------------------------------------------------------------------
def _load_audiocraft(pkg: dict, path: Path) -> Codec:
    import yaml
    sd = pkg["best_state"]
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]  # training checkpoint layout
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"{path}: 'best_state' is not a state dict")
    raw = pkg.get("xp.cfg")
    if raw is None:
        raise CheckpointError(f"{path}: audiocraft checkpoint without 'xp.cfg'; cannot tell the architecture")
    try:
        xp = yaml.safe_load(raw) if isinstance(raw, str) else dict(raw)
    except Exception as e:
        raise CheckpointError(f"{path}: unreadable xp.cfg ({e})") from None
    n_q = _count_codebooks(sd, r"^quantizer\.vq\.layers\.(\d+)\.")
    config = audiocraft_config_to_codec_config(xp, n_q)
    return _build(config, sd, str(path))


# --- helpers -----------------------------------------------------------------------------------
def _count_codebooks(sd: StateDict, pattern: str) -> int | None:
    idx = {int(m.group(1)) for k in sd if (m := re.match(pattern, k))}
    return max(idx) + 1 if idx else None


def _rename_weight_norm(sd: StateDict) -> StateDict:
    """Legacy `weight_g`/`weight_v` -> torch.nn.utils.parametrizations names."""
    out = {}
    for k, v in sd.items():
        if k.endswith(".weight_g"):
            k = k[: -len("weight_g")] + "parametrizations.weight.original0"
        elif k.endswith(".weight_v"):
            k = k[: -len("weight_v")] + "parametrizations.weight.original1"
        out[k] = v
    return out


def _load_state(codec: Codec, sd: StateDict, source: str) -> Codec:
    sd = _rename_weight_norm(sd)
    if not any(".parametrizations." in k for k in sd):
        codec.fold_weight_norm()  # checkpoint holds plain (already folded) weights
    missing, unexpected = [], []
    try:
        result = codec.load_state_dict(sd, strict=False)
        missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    except RuntimeError as e:  # shape mismatches
        raise CheckpointError(f"{source}: weights do not match the {codec.config.name} architecture: "
                              f"{str(e).splitlines()[-1].strip()}") from None
    if missing or unexpected:
        raise CheckpointError(f"{source}: weights do not match the {codec.config.name} architecture "
                              f"(missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
                              f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''})")
    return codec


def _build(config: CodecConfig, sd: StateDict, source: str) -> Codec:
    return _load_state(Codec(config), dict(sd), source)


def _read_json(path: Path) -> dict:
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable JSON ({e})") from None
    if not isinstance(d, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return d


def _find_weights(folder: Path) -> Path:
    for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError(f"{folder}: config.json found but no model.safetensors or pytorch_model.bin")
