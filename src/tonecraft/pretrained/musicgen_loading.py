"""Load MusicGen / AudioGen checkpoints: audiocraft release files or transformers directories.

Two layouts (audiocraft/utils/export.py; transformers models/musicgen/modeling_musicgen.py):

- audiocraft: `state_dict.bin` = {'best_state': LM state dict (+ conditioner projections),
  'xp.cfg': YAML of the training config} and `compression_state_dict.bin` = the codec (weights, or
  {'pretrained': hub id}). The T5 is not inside: it is loaded by the name in the YAML.
- transformers `MusicgenForConditionalGeneration`: `config.json` (text_encoder / audio_encoder /
  decoder sub-configs), `model.safetensors` (or shards, or `pytorch_model.bin`) holding `text_encoder.*`,
  `audio_encoder.*`, `enc_to_dec_proj.*`, `decoder.*`, and the T5 tokenizer files.
  `MusicgenMelodyForConditionalGeneration` (model_type `musicgen_melody`) adds `audio_enc_to_dec_proj.*`
  (the chroma projection) and `num_chroma` / `chroma_length` in config.json; its decoder has no cross-attention.

Melody checkpoints (audiocraft `self_wav` chroma conditioner, or HF `musicgen_melody`) load with a
`ChromaConditioner` in `LoadedModel.chroma`; stereo ones (audiocraft `interleave_stereo_codebooks`, HF
`audio_channels=2`) pair a mono codec with an 8-codebook LM using delays [0,0,1,1,2,2,3,3].

A name ("musicgen-small", "facebook/musicgen-small") resolves through the registry and the
Hugging Face cache; the transformers files are preferred (one download, T5 included).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..conditioning.base import TextConditioner, TextEncoder
from ..conditioning.t5 import T5Encoder, load_t5_tokenizer
from ..errors import CheckpointError, ModelNotFoundError, TonecraftError
from ..fileio import model_path
from ..safe_load import read_weights, safe_torch_load
from ..lm.config import LMConfig, stereo_delays
from ..lm.model import LMModel
from .lm_convert import lm_state_dict_from_hf
from .model_parts import build_lm, make_chroma_conditioner, make_text_conditioner
from .registry import ModelInfo, find_model

AC_LM_FILE = "state_dict.bin"
AC_CODEC_FILE = "compression_state_dict.bin"
AC_TEXT_PROJ = "condition_provider.conditioners.description.output_proj."
HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
HF_OPTIONAL = ("generation_config.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass
class LoadedModel:
    """Everything a GenerativeModel needs, with the defaults the checkpoint carries."""

    name: str
    lm: LMModel
    codec: object
    conditioner: TextConditioner | None
    max_duration: float = 30.0
    cfg_coef: float = 3.0
    temperature: float = 1.0  # sampling defaults a checkpoint may carry (tonecraft exports: chosen by a probe)
    top_k: int = 250
    family: str = "musicgen"  # musicgen | audiogen
    source: str = ""  # "audiocraft" | "transformers"
    chroma: object | None = None  # ChromaConditioner of a melody model (its conditions are prepended)


# -- entry point ----------------------------------------------------------------------------------------------

def load_musicgen(name_or_path: str | os.PathLike, *, text_encoder: TextEncoder | str | None = None,
                  codec=None, dtype: str | None = None) -> LoadedModel:
    """Load a local checkpoint (directory or `state_dict.bin`) or an official name / hub id.

    `text_encoder` (a TextEncoder, a T5 directory or name) and `codec` (a codec object or a name/path
    for `load_codec`) override what the checkpoint refers to, e.g. to use a locally saved T5.
    `dtype` ("float32" | "bfloat16") is the LM transformer dtype (LMConfig.dtype); default float32.
    """
    kw = dict(text_encoder=text_encoder, codec=codec, dtype=dtype)
    path = model_path(name_or_path)  # hostile ids (FIFOs, loops, 300-byte names) fail here, clearly
    if path is not None:
        return load_from_path(path, **kw)
    from .default_model import is_default_name, shipped_model_dir

    if is_default_name(name_or_path):  # tonecraft's own models, shipped in the package (issues 6 and 15)
        return load_from_path(shipped_model_dir(name_or_path), **kw)
    name = str(name_or_path)
    info = find_model(name)
    if info is None and name.count("/") != 1:
        from .registry import get_model

        get_model(name)  # raises ModelNotFoundError listing the official names
    directory = resolve_model_dir(info, name)
    return load_official_dir(info, directory, **kw) if info is not None else load_from_path(directory, **kw)


def load_official_dir(info: ModelInfo, directory: Path, **kw) -> LoadedModel:
    """An official model's snapshot folder, named and limited as the registry says (the folder is a hash)."""
    loaded = load_from_path(directory, **kw)
    loaded.name, loaded.family = info.name, info.family
    loaded.max_duration = info.max_duration
    return loaded


def peek_is_melody(name_or_path: str | os.PathLike) -> bool | None:
    """Whether a model id names a melody (chroma) model, read from the registry or the folder's small
    config file without loading any weights; None when that cannot be told cheaply (then load and see).
    Lets `generate --melody` refuse a non-melody model before a long model load."""
    from .default_model import is_default_name
    from .export_format import is_lm_export
    from .registry import find_model

    try:
        path = model_path(name_or_path)
    except TonecraftError:
        return None
    if path is None:
        if is_default_name(name_or_path):
            return False
        info = find_model(str(name_or_path))
        return None if info is None else info.melody
    if not path.is_dir():
        return None
    if is_lm_export(path):
        return False  # tonecraft's own format has no chroma conditioner
    cfg = path / "config.json"
    try:
        if cfg.is_file() and cfg.stat().st_size < 1_000_000:
            model_type = json.loads(cfg.read_text()).get("model_type")
            return {"musicgen": False, "musicgen_melody": True}.get(model_type)
    except (OSError, ValueError, AttributeError):
        pass
    return None


def load_from_path(path: Path, **kw) -> LoadedModel:
    path = Path(path)
    if path.is_file():
        if path.name != AC_LM_FILE and path.suffix not in (".bin", ".th", ".pt"):
            raise CheckpointError(f"{path}: expected a checkpoint directory or an audiocraft {AC_LM_FILE}")
        return load_audiocraft(path.parent, lm_file=path, **kw)
    from .export_format import is_lm_export

    if is_lm_export(path):  # `tonecraft train export` folder (format tonecraft-lm), e.g. the default model
        from .default_model import load_tonecraft_lm

        return load_tonecraft_lm(path, **kw)
    if (path / "config.json").is_file() and any((path / f).is_file() for f in HF_WEIGHTS):
        return load_transformers(path, **kw)
    if (path / AC_LM_FILE).is_file():
        return load_audiocraft(path, **kw)
    raise CheckpointError(
        f"{path} is not a MusicGen checkpoint: expected either the audiocraft files {AC_LM_FILE} + {AC_CODEC_FILE}, "
        f"or a transformers directory with config.json + model.safetensors (and the T5 tokenizer files)"
    )


def resolve_model_dir(info: ModelInfo | None, name: str) -> Path:
    """Local directory of an official model or hub repo (cache; network unless offline).

    The transformers files are preferred (one download, T5 included); the audiocraft files also need
    the T5 and the codec, resolved by name when loading."""
    from ..hub import resolve_dir

    repo = info.hub_id if info is not None else name
    alternatives = snapshot_file_sets(info)
    try:
        return resolve_dir(repo, alternatives, optional=HF_OPTIONAL, name=info.name if info else name)
    except ModelNotFoundError as exc:
        extra = ""
        if info is not None:
            codec = "its codec (bundled)" if info.codec == "bundled" else f"the codec {info.codec}"
            extra = (f"\nWith the audiocraft files ({AC_LM_FILE} + {AC_CODEC_FILE}) the text encoder "
                     f"{info.text_encoder} and {codec} are loaded by name as well.")
        raise ModelNotFoundError(f"{exc}{extra}") from None


def snapshot_file_sets(info: ModelInfo | None) -> list[list[str]]:
    """The file sets that make a hub snapshot of a model loadable, preferred first: the transformers files
    (one file for small / medium, shards for large; T5 included), then the audiocraft release files."""
    sets = []
    if info is None or info.hf_format:
        sets += [["config.json", "model.safetensors", "tokenizer.json"],
                 ["config.json", "model.safetensors.index.json", "tokenizer.json"]]
    return sets + [[AC_LM_FILE, AC_CODEC_FILE]]


# -- transformers layout --------------------------------------------------------------------------------------

def read_checkpoint_weights(directory: Path) -> dict[str, torch.Tensor]:
    """All tensors of a transformers checkpoint directory (single file or index + shards)."""
    directory = Path(directory)
    for name in ("model.safetensors.index.json", "pytorch_model.bin.index.json", "model.safetensors",
                 "pytorch_model.bin"):
        if (directory / name).is_file():
            return read_weights(directory / name)
    raise CheckpointError(f"{directory}: no model.safetensors or pytorch_model.bin")


def lm_config_from_hf(decoder: dict) -> LMConfig:
    """LMConfig from the `decoder` sub-config (musicgen_decoder) of a transformers config.json."""
    try:
        dim, heads, ffn = int(decoder["hidden_size"]), int(decoder["num_attention_heads"]), int(decoder["ffn_dim"])
        n_q = int(decoder.get("num_codebooks", 4))
        stereo = int(decoder.get("audio_channels", 1)) == 2
        cfg = LMConfig(dim=dim, num_heads=heads, num_layers=int(decoder["num_hidden_layers"]), n_q=n_q,
                       card=int(decoder.get("vocab_size", 2048)), hidden_scale=ffn // dim, cross_attention=True,
                       delays=stereo_delays(n_q) if stereo else None)
    except KeyError as exc:
        raise CheckpointError(f"config.json: the decoder config lacks {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"config.json: bad decoder config ({exc})") from None
    if ffn != cfg.ffn_dim:
        raise CheckpointError(f"config.json: ffn_dim {ffn} is not a multiple of hidden_size {dim}")
    if decoder.get("scale_embedding", False):
        raise CheckpointError("config.json: scale_embedding=true is not a MusicGen setting")
    if decoder.get("activation_function", "gelu") != "gelu":
        raise CheckpointError(f"config.json: activation {decoder.get('activation_function')!r} is not supported")
    return cfg


def load_transformers(directory: Path, *, text_encoder=None, codec=None, dtype: str | None = None) -> LoadedModel:
    directory = Path(directory)
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{directory / 'config.json'}: unreadable ({exc})") from None
    model_type = config.get("model_type")
    if model_type not in ("musicgen", "musicgen_melody"):
        raise CheckpointError(
            f"{directory}: config.json has model_type {model_type!r}; expected 'musicgen' "
            "(MusicgenForConditionalGeneration) or 'musicgen_melody' (MusicgenMelodyForConditionalGeneration)"
        )
    for sub in ("text_encoder", "audio_encoder", "decoder"):
        if not isinstance(config.get(sub), dict):
            raise CheckpointError(f"{directory}: config.json lacks the {sub!r} sub-config")
    sd = read_checkpoint_weights(directory)
    chroma = None
    if model_type == "musicgen_melody":
        from .melody_loading import lm_config_from_hf_melody, melody_weights_from_hf

        lm_cfg, chroma_cfg = lm_config_from_hf_melody(config)
        weights = melody_weights_from_hf(sd, str(directory))
        lm_sd, text_proj = weights.lm, weights.text_proj
        chroma = make_chroma_conditioner(lm_cfg.dim, weights.chroma_proj, str(directory),
                                         n_chroma=chroma_cfg["num_chroma"], chroma_length=chroma_cfg["chroma_length"])
    else:
        lm_cfg = lm_config_from_hf(config["decoder"])
        try:
            lm_sd = lm_state_dict_from_hf({k: v for k, v in sd.items() if k.startswith("decoder.")},
                                          prefix="decoder.")
        except KeyError as exc:
            raise CheckpointError(f"{directory}: {exc.args[0]}") from None
        text_proj = _sub(sd, "enc_to_dec_proj.")
    if dtype:
        lm_cfg = replace(lm_cfg, dtype=dtype)
    lm = build_lm(lm_cfg, lm_sd, str(directory))

    if text_encoder is None:
        text_encoder = _t5_from_composite(config["text_encoder"], sd, directory)
    conditioner = make_text_conditioner(text_encoder, lm_cfg.dim, text_proj, str(directory))

    if codec is None:
        from .codec_loading import codec_from_hf

        codec = codec_from_hf(config["audio_encoder"], _sub(sd, "audio_encoder."))
    elif isinstance(codec, (str, os.PathLike)):
        codec = _load_codec(codec)

    gen = {}
    if (directory / "generation_config.json").is_file():
        try:
            gen = json.loads((directory / "generation_config.json").read_text())
        except ValueError:
            gen = {}
    cfg_coef = float(gen.get("guidance_scale") or 3.0)
    frame_rate = float(codec.frame_rate)
    max_len = gen.get("max_length")
    max_duration = round(max_len / frame_rate) if isinstance(max_len, int) and max_len > frame_rate else 30.0
    _check_stereo_codec(lm_cfg, codec, int(config["decoder"].get("audio_channels", 1) or 1) == 2, str(directory))
    return LoadedModel(name=directory.name, lm=lm, codec=codec, conditioner=conditioner,
                       max_duration=float(max_duration), cfg_coef=cfg_coef, source="transformers", chroma=chroma)


def _t5_from_composite(t5_config: dict, sd: dict[str, torch.Tensor], directory: Path) -> T5Encoder:
    from transformers import T5Config, T5EncoderModel

    t5_sd = _sub(sd, "text_encoder.")
    if not t5_sd:
        raise CheckpointError(f"{directory}: no text_encoder.* weights in the checkpoint")
    cfg = dict(t5_config)
    cfg.pop("model_type", None)
    model = T5EncoderModel(T5Config(**cfg))
    missing, unexpected = model.load_state_dict(t5_sd, strict=False)
    # The token embedding is stored once as `shared` and tied to `encoder.embed_tokens`.
    missing = [k for k in missing if k != "encoder.embed_tokens.weight"]
    unexpected = [k for k in unexpected if not k.startswith("decoder.")]
    if missing or unexpected:
        raise CheckpointError(f"{directory}: T5 weights do not match its config "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return T5Encoder(model, load_t5_tokenizer(directory), name=str(t5_config.get("_name_or_path") or "t5"))


# -- audiocraft layout ----------------------------------------------------------------------------------------

def load_audiocraft(directory: Path, *, lm_file: Path | None = None, text_encoder=None, codec=None,
                    dtype: str | None = None) -> LoadedModel:
    from .audiocraft_config import parse_xp_cfg

    directory = Path(directory)
    lm_file = Path(lm_file) if lm_file is not None else directory / AC_LM_FILE
    pkg = safe_torch_load(lm_file)
    if not isinstance(pkg, dict) or "best_state" not in pkg or "xp.cfg" not in pkg:
        found = sorted(pkg)[:5] if isinstance(pkg, dict) else type(pkg).__name__
        raise CheckpointError(f"{lm_file}: not an audiocraft LM export (expected keys 'best_state' and 'xp.cfg', "
                              f"found {found})")
    best = pkg["best_state"]
    if isinstance(best, dict) and isinstance(best.get("model"), dict):  # training checkpoint layout
        best = best["model"]
    xp = parse_xp_cfg(pkg["xp.cfg"], source=str(lm_file))
    chroma = None
    if xp.melody:
        from .melody_loading import melody_weights_from_audiocraft

        if xp.text_encoder is None:
            raise CheckpointError(f"{lm_file}: a melody model without a text (description) conditioner")
        weights = melody_weights_from_audiocraft(best, str(lm_file))
        lm_sd, text_proj = weights.lm, weights.text_proj
        chroma = make_chroma_conditioner(xp.lm.dim, weights.chroma_proj, str(lm_file), **xp.chroma)
    else:
        lm_sd = {k: v for k, v in best.items() if not k.startswith("condition_provider.")}
        text_proj = _sub(best, AC_TEXT_PROJ)
    lm = build_lm(replace(xp.lm, dtype=dtype) if dtype else xp.lm, lm_sd, str(lm_file))

    conditioner = None
    if xp.text_encoder is not None:
        if text_encoder is None:
            text_encoder = xp.text_encoder
        conditioner = make_text_conditioner(text_encoder, xp.lm.dim, text_proj, str(lm_file))

    if codec is None:
        codec = _load_codec(directory / AC_CODEC_FILE)
    elif isinstance(codec, (str, os.PathLike)):
        codec = _load_codec(codec)
    _check_stereo_codec(xp.lm, codec, xp.stereo, str(lm_file))
    return LoadedModel(name=directory.name, lm=lm, codec=codec, conditioner=conditioner,
                       max_duration=xp.segment_duration, cfg_coef=xp.cfg_coef, family=xp.family,
                       source="audiocraft", chroma=chroma)


# -- shared pieces --------------------------------------------------------------------------------------------

def _check_stereo_codec(cfg: LMConfig, codec, stereo: bool, source: str) -> None:
    """A stereo LM interleaves the codebooks of a mono codec run per channel: n_q(LM) = 2 * n_q(codec)."""
    n_q = getattr(codec, "total_n_q", None)
    if stereo and (getattr(codec, "channels", 1) != 1 or (n_q is not None and cfg.n_q != 2 * n_q)):
        raise CheckpointError(f"{source}: a stereo (interleaved) LM with {cfg.n_q} codebooks needs a mono codec "
                              f"with {cfg.n_q // 2}, got {getattr(codec, 'channels', '?')} channel(s) and {n_q}")


def _sub(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _load_codec(name_or_path):
    from .codec_loading import load_codec

    return load_codec(name_or_path)


__all__ = ["LoadedModel", "build_lm", "load_audiocraft", "load_from_path", "load_musicgen", "load_official_dir",
           "load_transformers", "lm_config_from_hf", "make_chroma_conditioner", "read_checkpoint_weights",
           "snapshot_file_sets"]
