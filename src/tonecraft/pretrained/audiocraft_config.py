"""Read the `xp.cfg` YAML stored in audiocraft's `state_dict.bin` (the resolved Hydra training config).

Only the fields that change the inference model are read (audiocraft/config/model/lm/*.yaml,
audiocraft/config/conditioner/*.yaml; stored by audiocraft/utils/export.py): the LM shape
(`transformer_lm`), the codebook pattern, the conditioners and fuser, the CFG coefficient and the
training segment length. Settings we do not implement raise CheckpointError instead of silently
building a different model.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CheckpointError, ConfigError
from ..lm.config import LMConfig


@dataclass
class XpConfig:
    lm: LMConfig
    text_encoder: str | None  # T5 name ("t5-base") or None for an unconditional LM
    segment_duration: float = 30.0
    cfg_coef: float = 3.0
    sample_rate: int = 32000
    channels: int = 1
    family: str = "musicgen"  # musicgen | audiogen
    melody: bool = False  # a chroma (self_wav) conditioner is present
    # ChromaConditioner settings of a melody model: sample_rate, n_chroma, radix2_exp, duration
    chroma: dict | None = None
    stereo: bool = False  # interleave_stereo_codebooks.use: mono codec per channel, codebooks [L0,R0,L1,R1,...]


def parse_xp_cfg(text, source: str = "xp.cfg") -> XpConfig:
    """Parse the YAML string (or an already parsed dict) into an XpConfig."""
    import yaml

    if isinstance(text, (bytes, str)):
        try:
            cfg = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CheckpointError(f"{source}: xp.cfg is not valid YAML ({exc})") from None
    else:
        cfg = text
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{source}: xp.cfg is not a mapping")
    tl = cfg.get("transformer_lm")
    if not isinstance(tl, dict):
        raise CheckpointError(f"{source}: xp.cfg lacks the transformer_lm section")

    def need(cond: bool, what: str):
        if not cond:
            raise CheckpointError(f"{source}: unsupported LM setting in xp.cfg: {what}")

    need(tl.get("norm_first", True) is True, "norm_first must be true (pre-norm)")
    need(tl.get("norm", "layer_norm") == "layer_norm", f"norm {tl.get('norm')!r}")
    need(tl.get("activation", "gelu") == "gelu", f"activation {tl.get('activation')!r}")
    for b in ("bias_ff", "bias_attn", "bias_proj"):
        need(not tl.get(b, False), f"{b}=true")
    need(tl.get("positional_embedding", "sin") == "sin", f"positional_embedding {tl.get('positional_embedding')!r}")
    need(tl.get("layer_scale") is None, "layer_scale")
    need(not tl.get("qk_layer_norm", False) and not tl.get("qk_layer_norm_cross", False), "qk_layer_norm")
    need(tl.get("kv_repeat", 1) == 1, "kv_repeat != 1")
    need(tl.get("past_context") is None, "past_context (windowed attention)")

    conditioners = cfg.get("conditioners") or {}
    fuser = cfg.get("fuser") or {}
    cross = list(fuser.get("cross") or [])
    prepend = list(fuser.get("prepend") or [])
    for op in ("sum", "input_interpolate"):
        need(not fuser.get(op), f"fuser {op} {fuser.get(op)}")
    need(not fuser.get("cross_attention_pos_emb", False), "cross_attention_pos_emb")

    text_encoder = None
    desc = conditioners.get("description")
    if isinstance(desc, dict):
        need(desc.get("model") == "t5", f"description conditioner {desc.get('model')!r} (only t5 is supported)")
        t5 = desc.get("t5") or {}
        need(not t5.get("normalize_text", False), "t5 normalize_text (spaCy lemmatisation)")
        text_encoder = t5.get("name")
        if not text_encoder:
            raise CheckpointError(f"{source}: the t5 conditioner has no name")
    others = sorted(set(conditioners) - {"description", "self_wav", "args"})
    need(not others, f"conditioners {others}")
    melody = "self_wav" in conditioners
    chroma = None
    if melody:
        chroma = _chroma_settings(cfg, conditioners["self_wav"], need)
        # audiocraft's fuser prepends in condition order, so the prefix is [chroma, text] (`ConditionFuser.forward`)
        need(not cross and set(prepend) == {"self_wav", "description"},
             f"melody fuser cross={cross} prepend={prepend} (expected prepend [self_wav, description], no cross)")

    pattern = cfg.get("codebooks_pattern") or {}
    modeling = pattern.get("modeling", "delay")
    delays = (pattern.get(modeling) or {}).get("delays") if modeling in ("delay", "coarse_first") else None
    if modeling == "delay":
        d = pattern.get("delay") or {}
        need(not d.get("flatten_first", 0) and not d.get("empty_initial", 0), "delay flatten_first / empty_initial")
    try:
        lm = LMConfig(
            dim=int(tl["dim"]), num_heads=int(tl["num_heads"]), num_layers=int(tl["num_layers"]),
            n_q=int(tl.get("n_q", 4)), card=int(tl.get("card", 2048)), hidden_scale=int(tl.get("hidden_scale", 4)),
            cross_attention=bool(cross), max_period=float(tl.get("max_period", 10000.0)), pattern=modeling,
            delays=[int(x) for x in delays] if delays is not None else None,
        )
    except KeyError as exc:
        raise CheckpointError(f"{source}: xp.cfg transformer_lm lacks {exc.args[0]!r}") from None
    except (TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"{source}: bad transformer_lm settings in xp.cfg ({exc})") from None
    if text_encoder is not None and "description" not in cross + prepend:
        raise CheckpointError(f"{source}: the description conditioner is not used by the fuser")

    dataset = cfg.get("dataset") or {}
    stereo = bool((cfg.get("interleave_stereo_codebooks") or {}).get("use", False))
    need(not stereo or lm.n_q % 2 == 0, f"interleaved stereo with an odd n_q {lm.n_q}")
    if chroma is not None:
        chroma["duration"] = float(dataset.get("segment_duration", 30.0))
    cfg_block = cfg.get("classifier_free_guidance") or {}
    solver = str(cfg.get("solver", "musicgen"))
    try:
        return XpConfig(
            lm=lm, text_encoder=text_encoder, melody=melody, chroma=chroma, stereo=stereo,
            segment_duration=float(dataset.get("segment_duration", 30.0)),
            cfg_coef=float(cfg_block.get("inference_coef", 3.0)),
            sample_rate=int(cfg.get("sample_rate", 32000)), channels=int(cfg.get("channels", 1)),
            family="audiogen" if "audiogen" in solver else "musicgen",
        )
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad value in xp.cfg ({exc})") from None


def _chroma_settings(cfg: dict, self_wav, need) -> dict:
    """ChromaStemConditioner settings (`conditioners.self_wav.chroma_stem`, audiocraft/config/conditioner/chroma2music.yaml)."""
    need(isinstance(self_wav, dict) and self_wav.get("model", "chroma_stem") == "chroma_stem",
         f"self_wav conditioner {self_wav.get('model') if isinstance(self_wav, dict) else self_wav!r}")
    stem = self_wav.get("chroma_stem") or {}
    need(stem.get("argmax", True) is True, "chroma_stem argmax=false")

    def num(key, default):
        v = stem.get(key, default)
        if isinstance(v, str) and v.startswith("${") and v.endswith("}"):  # e.g. ${sample_rate}
            v = cfg.get(v[2:-1], default)
        try:
            return int(v)
        except (TypeError, ValueError):
            raise CheckpointError(f"bad chroma_stem.{key} {v!r} in xp.cfg") from None

    return {"sample_rate": num("sample_rate", 32000), "n_chroma": num("n_chroma", 12),
            "radix2_exp": num("radix2_exp", 14)}


__all__ = ["XpConfig", "parse_xp_cfg"]
