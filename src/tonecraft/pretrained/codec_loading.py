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
import pickle
import re
import tempfile
import typing as tp
from pathlib import Path

import torch

from tonecraft.codec.configs import CodecConfig, get_config
from tonecraft.codec.model import Codec
from tonecraft.codec.quantizer import bandwidth_for_n_q
from tonecraft.codec.conv import StreamableConvTranspose1d
from tonecraft.errors import CheckpointError, ConfigError, ModelNotFoundError

from . import hub

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

StateDict = dict[str, torch.Tensor]


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
    _atomic_write(out / "model.safetensors", lambda p: save_file(sd, str(p), metadata={"format": "pt"}))
    cfg = {"model_type": NATIVE_MODEL_TYPE, "format_version": 1, **codec.config.to_dict()}
    text = json.dumps(cfg, indent=2) + "\n"
    _atomic_write(out / "config.json", lambda p: Path(p).write_text(text))
    return out


load = load_codec          # short aliases used by the trainers
save_pretrained = save_codec


# --- dispatch ----------------------------------------------------------------------------------
def _load_any(src: str | os.PathLike, depth: int) -> Codec:
    if depth > 3:
        raise CheckpointError(f"too many 'pretrained' redirections while loading {src!r}")
    path = Path(src).expanduser()
    if path.exists():
        return _load_path(path, depth)
    name = str(src)
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
    obj = _torch_load(path)
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
    return _build(config, _read_weights(weights), str(weights))


def _load_encodec_package(path: Path, sd: StateDict | None = None) -> Codec:
    sd = _torch_load(path) if sd is None else sd
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


def hf_config_to_codec_config(d: dict, n_q: int | None = None) -> CodecConfig:
    """Map a transformers `EncodecConfig` dict onto CodecConfig (HF defaults for missing fields)."""
    g = lambda k, default: d.get(k, default) if d.get(k, default) is not None else default  # noqa: E731
    hidden = g("hidden_size", 128)
    if g("codebook_dim", hidden) != hidden:
        raise CheckpointError("codebook_dim != hidden_size (projected codebooks) is not supported")
    chunk = d.get("chunk_length_s")
    ratios = list(g("upsampling_ratios", [8, 5, 4, 2]))
    sr = int(g("sampling_rate", 24_000))
    bins = int(g("codebook_size", 1024))
    bws = [float(b) for b in g("target_bandwidths", [1.5, 3.0, 6.0, 12.0, 24.0])]
    if n_q is None:  # transformers' own formula
        frame_rate = -(-sr // int(torch.tensor(ratios).prod()))
        n_q = int(1000 * bws[-1] // (frame_rate * (bins - 1).bit_length()))
    return CodecConfig(
        name=str(d.get("_name_or_path") or "hf_encodec"), sample_rate=sr, channels=int(g("audio_channels", 1)),
        dimension=hidden, n_filters=int(g("num_filters", 32)), ratios=ratios,
        n_residual_layers=int(g("num_residual_layers", 1)), kernel_size=int(g("kernel_size", 7)),
        last_kernel_size=int(g("last_kernel_size", 7)), residual_kernel_size=int(g("residual_kernel_size", 3)),
        dilation_base=int(g("dilation_growth_rate", 2)), compress=int(g("compress", 2)),
        lstm_layers=int(g("num_lstm_layers", 2)), norm=str(g("norm_type", "weight_norm")),
        causal=bool(g("use_causal_conv", True)), pad_mode=str(g("pad_mode", "reflect")),
        true_skip=not bool(g("use_conv_shortcut", True)), trim_right_ratio=float(g("trim_right_ratio", 1.0)),
        n_q=n_q, bins=bins, target_bandwidths=bws, normalize=bool(g("normalize", False)),
        segment=None if chunk is None else float(chunk),
        overlap=float(d["overlap"]) if d.get("overlap") is not None else (0.0 if chunk else 0.01))


def hf_to_tonecraft_keys(sd: StateDict, codec: Codec) -> StateDict:
    """Rename transformers EncodecModel keys to the encodec/audiocraft names we use."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"^(encoder|decoder)\.layers\.", r"\1.model.", k)
        k = re.sub(r"\.(block\.\d+|shortcut)\.(conv|norm)\.", r".\1.conv.\2.", k)
        m = re.match(r"^(encoder|decoder)\.model\.(\d+)\.(conv|norm)\.(.*)$", k)
        if m:
            part, idx, kind, rest = m.groups()
            layer = getattr(codec, part).model[int(idx)]
            wrap = "convtr" if isinstance(layer, StreamableConvTranspose1d) else "conv"
            inner = wrap if kind == "conv" else "norm"
            k = f"{part}.model.{idx}.{wrap}.{inner}.{rest}"
        k = re.sub(r"^quantizer\.layers\.(\d+)\.codebook\.", r"quantizer.vq.layers.\1._codebook.", k)
        out[k] = v
    return out


def _load_hf(cfg_file: Path, weights: Path) -> Codec:
    d = _read_json(cfg_file)
    prefix = ""
    model_type = d.get("model_type")
    if model_type in ("musicgen", "musicgen_melody"):  # full MusicGen: take its audio encoder
        d, prefix = d.get("audio_encoder") or {}, "audio_encoder."
        model_type = d.get("model_type")
    if model_type != "encodec":
        raise CheckpointError(f"{cfg_file}: model_type {model_type!r} is not an EnCodec model")
    sd = _read_weights(weights, prefix)
    if not sd:
        raise CheckpointError(f"{weights}: no EnCodec weights found" + (f" under {prefix!r}" if prefix else ""))
    n_q = _count_codebooks(sd, r"^quantizer\.layers\.(\d+)\.")
    config = hf_config_to_codec_config(d, n_q)
    codec = Codec(config)
    return _load_state(codec, hf_to_tonecraft_keys(sd, codec), str(weights))


# --- audiocraft ----------------------------------------------------------------------------------
def _resolve_interpolations(node: tp.Any, root: dict) -> tp.Any:
    """Resolve OmegaConf `${a.b}` references (exported configs are not resolved)."""
    if isinstance(node, dict):
        return {k: _resolve_interpolations(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_interpolations(v, root) for v in node]
    if isinstance(node, str):
        m = re.fullmatch(r"\$\{([\w.]+)\}", node.strip())
        if m:
            cur: tp.Any = root
            for part in m.group(1).split("."):
                if not isinstance(cur, dict) or part not in cur:
                    raise CheckpointError(f"xp.cfg: cannot resolve {node}")
                cur = cur[part]
            return _resolve_interpolations(cur, root)
    return node


def audiocraft_config_to_codec_config(xp: dict, n_q: int | None = None) -> CodecConfig:
    """Map an audiocraft xp.cfg (`encodec`, `seanet`, `rvq` sections) onto CodecConfig."""
    xp = _resolve_interpolations(xp, xp)
    if xp.get("compression_model", "encodec") != "encodec":
        raise CheckpointError(f"unsupported compression_model {xp.get('compression_model')!r}")
    enc = dict(xp.get("encodec") or {})
    seanet = dict(xp.get("seanet") or {})
    rvq = dict(xp.get("rvq") or {})
    if enc.get("quantizer", "rvq") != "rvq" or enc.get("autoencoder", "seanet") != "seanet":
        raise CheckpointError("only seanet autoencoders with an rvq quantizer are supported")
    enc_over, dec_over = dict(seanet.pop("encoder", None) or {}), dict(seanet.pop("decoder", None) or {})
    trim = float(dec_over.pop("trim_right_ratio", 1.0))
    final_act = dec_over.pop("final_activation", None)
    dec_over.pop("final_activation_params", None)
    for over in (enc_over, dec_over):
        for k, v in over.items():
            if seanet.get(k) != v:
                raise CheckpointError(f"xp.cfg: encoder/decoder-specific seanet.{k} is not supported")
    if seanet.get("norm_params"):
        raise CheckpointError("xp.cfg: seanet.norm_params are not supported")
    n_q = int(rvq.get("n_q", 8)) if n_q is None else n_q
    sr = int(enc.get("sample_rate", xp.get("sample_rate", 32_000)))
    ratios = [int(r) for r in seanet.get("ratios", [8, 5, 4, 2])]
    bins = int(rvq.get("bins", 1024))
    frame_rate = sr / int(torch.tensor(ratios).prod())
    return CodecConfig(
        name=str(xp.get("name") or "audiocraft_encodec"), sample_rate=sr,
        channels=int(enc.get("channels", seanet.get("channels", xp.get("channels", 1)))),
        dimension=int(seanet.get("dimension", 128)), n_filters=int(seanet.get("n_filters", 32)), ratios=ratios,
        n_residual_layers=int(seanet.get("n_residual_layers", 1)), kernel_size=int(seanet.get("kernel_size", 7)),
        last_kernel_size=int(seanet.get("last_kernel_size", 7)),
        residual_kernel_size=int(seanet.get("residual_kernel_size", 3)),
        dilation_base=int(seanet.get("dilation_base", 2)), compress=int(seanet.get("compress", 2)),
        lstm_layers=int(seanet.get("lstm", 2)), activation=str(seanet.get("activation", "ELU")),
        activation_params=dict(seanet.get("activation_params") or {"alpha": 1.0}), final_activation=final_act,
        norm=str(seanet.get("norm", "weight_norm")), causal=bool(seanet.get("causal", enc.get("causal", False))),
        pad_mode=str(seanet.get("pad_mode", "constant")), true_skip=bool(seanet.get("true_skip", True)),
        trim_right_ratio=trim, disable_norm_outer_blocks=int(seanet.get("disable_norm_outer_blocks", 0)),
        n_q=n_q, bins=bins, decay=float(rvq.get("decay", 0.99)), kmeans_init=bool(rvq.get("kmeans_init", True)),
        kmeans_iters=int(rvq.get("kmeans_iters", 50)),
        threshold_ema_dead_code=float(rvq.get("threshold_ema_dead_code", 2)),
        q_dropout=bool(rvq.get("q_dropout", False)),
        target_bandwidths=[round(bandwidth_for_n_q(n_q, frame_rate, bins), 6)],
        normalize=bool(enc.get("renormalize", False)))


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


def _read_weights(path: Path, prefix: str = "") -> StateDict:
    """State dict from .safetensors, a sharded safetensors index or a torch pickle; keeps only keys
    under `prefix` (stripped)."""
    def select(sd: tp.Mapping[str, torch.Tensor]) -> StateDict:
        return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}

    if path.name.endswith(".index.json"):
        index = _read_json(path).get("weight_map", {})
        shards = sorted({f for k, f in index.items() if k.startswith(prefix)})
        sd: StateDict = {}
        for shard in shards:
            sd.update(_read_weights(path.parent / shard, prefix))
        return sd
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        try:
            with safe_open(str(path), framework="pt") as f:
                return {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
        except Exception as e:
            raise CheckpointError(f"{path}: unreadable safetensors file ({e})") from None
    obj = _torch_load(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a state dict")
    return select(obj)


def _torch_load(path: Path) -> tp.Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path}: refusing to unpickle non-tensor objects (weights_only=True): {str(e).splitlines()[0]}. "
            f"Convert the checkpoint to plain tensors / YAML strings first.") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({str(e).splitlines()[0]})") from None


def _atomic_write(target: Path, write: tp.Callable[[Path], tp.Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
