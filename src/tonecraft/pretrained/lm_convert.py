"""Convert MusicGen LM weights between the HF transformers layout and ours (= audiocraft's layout).

HF `MusicgenForCausalLM` keys (transformers models/musicgen/convert_musicgen_transformers.py) versus ours /
audiocraft (audiocraft/models/lm.py `LMModel`):

    model.decoder.embed_tokens.{k}.weight                  emb.{k}.weight
    model.decoder.layers.{i}.self_attn.{q,k,v}_proj        transformer.layers.{i}.self_attn.in_proj_weight (q;k;v rows)
    model.decoder.layers.{i}.self_attn.out_proj            transformer.layers.{i}.self_attn.out_proj
    model.decoder.layers.{i}.encoder_attn.*                transformer.layers.{i}.cross_attention.*
    model.decoder.layers.{i}.self_attn_layer_norm          transformer.layers.{i}.norm1
    model.decoder.layers.{i}.encoder_attn_layer_norm       transformer.layers.{i}.norm_cross
    model.decoder.layers.{i}.final_layer_norm              transformer.layers.{i}.norm2
    model.decoder.layers.{i}.fc1 / fc2                     transformer.layers.{i}.linear1 / linear2
    model.decoder.layer_norm                               out_norm
    lm_heads.{k}.weight                                    linears.{k}.weight

In the composite `MusicgenForConditionalGeneration` file every decoder key has the prefix "decoder."; the
condition projection `enc_to_dec_proj` is not part of the LM (it lives in conditioning/).
"""
from __future__ import annotations

import re

import torch

# (HF name inside a layer, our name inside a layer), excluding the packed attention projections.
_LAYER_RENAMES = [
    ("self_attn.out_proj.weight", "self_attn.out_proj.weight"),
    ("encoder_attn.out_proj.weight", "cross_attention.out_proj.weight"),
    ("self_attn_layer_norm.", "norm1."),
    ("encoder_attn_layer_norm.", "norm_cross."),
    ("final_layer_norm.", "norm2."),
    ("fc1.weight", "linear1.weight"),
    ("fc2.weight", "linear2.weight"),
]
_ATTN = [("self_attn", "self_attn"), ("encoder_attn", "cross_attention")]


def lm_state_dict_from_hf(sd: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """HF MusicGen decoder state dict -> ours. `prefix` is what precedes `model.decoder.` / `lm_heads.`
    ("decoder." for the composite model). Keys outside the decoder are ignored."""
    out: dict[str, torch.Tensor] = {}
    dec = prefix + "model.decoder."
    packs: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    for key, t in sd.items():
        if key.startswith(prefix + "lm_heads."):
            out["linears." + key[len(prefix + "lm_heads."):]] = t
            continue
        if not key.startswith(dec) or "embed_positions" in key:
            continue
        rest = key[len(dec):]
        if rest.startswith("embed_tokens."):
            out["emb." + rest[len("embed_tokens."):]] = t
        elif rest.startswith("layer_norm."):
            out["out_norm." + rest[len("layer_norm."):]] = t
        elif m := re.match(r"layers\.(\d+)\.(.*)$", rest):
            i, name = int(m.group(1)), m.group(2)
            if pm := re.match(r"(self_attn|encoder_attn)\.([qkv])_proj\.weight$", name):
                packs.setdefault((i, pm.group(1)), {})[pm.group(2)] = t
                continue
            for hf, ours in _LAYER_RENAMES:
                if name.startswith(hf):
                    out[f"transformer.layers.{i}.{ours}{name[len(hf):]}"] = t
                    break
            else:
                raise KeyError(f"unexpected HF MusicGen key {key!r}")
        else:
            raise KeyError(f"unexpected HF MusicGen key {key!r}")
    names = dict(_ATTN)
    for (i, hf_attn), qkv in packs.items():
        if set(qkv) != {"q", "k", "v"}:
            raise KeyError(f"layer {i} {hf_attn}: incomplete q/k/v projections {sorted(qkv)}")
        out[f"transformer.layers.{i}.{names[hf_attn]}.in_proj_weight"] = torch.cat([qkv["q"], qkv["k"], qkv["v"]], 0)
    return out


def lm_state_dict_to_hf(sd: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """Ours (or audiocraft's `best_state`, LM keys only) -> HF `MusicgenForCausalLM` keys (with `prefix`)."""
    out: dict[str, torch.Tensor] = {}
    dec = prefix + "model.decoder."
    ours_attn = {o: h for h, o in _ATTN}
    for key, t in sd.items():
        if key.startswith("condition_provider."):
            continue
        if key.startswith("linears."):
            out[prefix + "lm_heads." + key[len("linears."):]] = t
        elif key.startswith("emb."):
            out[dec + "embed_tokens." + key[len("emb."):]] = t
        elif key.startswith("out_norm."):
            out[dec + "layer_norm." + key[len("out_norm."):]] = t
        elif m := re.match(r"transformer\.layers\.(\d+)\.(.*)$", key):
            i, name = m.group(1), m.group(2)
            if am := re.match(r"(self_attn|cross_attention)\.in_proj_weight$", name):
                q, k, v = t.chunk(3, dim=0)
                for n, w in zip("qkv", (q, k, v)):
                    out[f"{dec}layers.{i}.{ours_attn[am.group(1)]}.{n}_proj.weight"] = w.contiguous()
                continue
            for hf, ours in _LAYER_RENAMES:
                if name.startswith(ours):
                    out[f"{dec}layers.{i}.{hf}{name[len(ours):]}"] = t
                    break
            else:
                raise KeyError(f"unexpected LM key {key!r}")
        else:
            raise KeyError(f"unexpected LM key {key!r}")
    return out
