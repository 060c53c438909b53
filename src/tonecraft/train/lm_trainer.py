"""Language-model trainer (MusicGen / AudioGen recipe, audiocraft `MusicGenSolver.run_step`).

Per step: codes [B, K, T] from the token cache -> condition dropout (CFG whole batch, attribute) ->
text conditioner -> pattern sequence (first T+1 steps, `keep_only_valid_steps`) -> LM ->
cross-entropy per codebook over positions valid in the pattern *and* not padding, averaged over
codebooks. AdamW + warm-up/cosine, gradient clipping, optional EMA weights, autocast on GPU.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.dataset import StepBatchSampler, TextAugment, shard_indices
from ..data.token_cache import TokenCache, TokenDataset, collate_tokens
from ..errors import ConfigError
from ..lm.config import LMConfig, preset
from ..lm.model import LMModel
from ..lm.patterns import Pattern, get_pattern
from . import distributed
from .loop import RunConfig, Trainer, step_generator
from .optim import ModelEMA, OptimConfig, build_optimizer, build_schedule
from ..conditioning.factory import ConditionerConfig
from ..pretrained.export_format import load_conditioner
from .text import apply_condition_dropout


@dataclass
class LMModelConfig:
    preset: str | None = "xsmall"  # tonecraft.lm.config preset name
    params: dict[str, Any] = field(default_factory=dict)  # LMConfig fields replacing the preset's
    init_from: str | None = None  # fine-tune: pretrained name/folder, export folder or checkpoint.pt
    keep_only_valid_steps: bool = True


@dataclass
class LMDataConfig:
    cache: str = ""  # token cache folder (see `tonecraft data cache`)
    manifest: str | None = None  # build `cache` from this manifest when it does not exist yet
    codec: str | None = None  # ... with this codec (name or saved folder)
    valid_cache: str | None = None
    valid_fraction: float = 0.0  # else hold out this fraction of the cache's items (path hash)
    split_seed: int = 0
    segment_duration: float = 30.0
    num_samples: int = 10000  # samples per epoch
    shuffle_seed: int = 0
    min_segment_ratio: float = 0.8
    sample_on_duration: bool = False
    sample_on_weight: bool = False  # draw items by the manifest `weight` the cache was built with
    merge_text_p: float = 0.0
    drop_desc_p: float = 0.0
    drop_other_p: float = 0.0
    pad_with_special: bool = False  # audiocraft tokens.padding_with_special_token
    pad_with_silence: bool = False  # short items continue with the cache's codes of silence (sound effects)
    caption_variant_p: float = 0.0  # share of captions rewritten in other words (data.caption_variants)
    caption_variant_style: str = "music"  # ... by the music or the sfx rules
    balance_on: list[str] = field(default_factory=list)  # sidecar fields whose rare values are drawn more often
    balance_power: float = 1.0  # ... each item weighted count(its value) ** -power (data.balance)


@dataclass
class LMTrainConfig:
    model: LMModelConfig = field(default_factory=LMModelConfig)
    conditioner: ConditionerConfig = field(default_factory=ConditionerConfig)
    data: LMDataConfig = field(default_factory=LMDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


class LMTrainModule(nn.Module):
    """LM + trainable part of the text conditioner (its output projection), one DDP unit."""

    def __init__(self, lm: LMModel, conditioner: nn.Module | None):
        super().__init__()
        if lm.beat_grid is not None and not getattr(conditioner, "tempo", False):
            raise ConfigError("model.params.beat_grid_rate needs conditioner.tempo: true (the grid follows the bpm "
                              "the conditioner reads from each caption)")
        if getattr(conditioner, "pooled", False) and not lm.cfg.cross_attention:
            raise ConfigError("conditioner.pooled_prefix needs an LM with cross-attention (the text tokens are "
                              "its cross-attention source, the pooled vector its prefix)")
        self.lm = lm
        self.conditioner = conditioner

    def forward(self, seq: torch.Tensor, cond_inputs: dict | None, first_frame: int | torch.Tensor = 0
                ) -> torch.Tensor:
        """`first_frame` ([B] or int): where each segment starts in its clip (the beat grid's phase)."""
        cross = prefix = bpm = None
        if self.conditioner is not None and cond_inputs is not None:
            emb, _, pooled = self.conditioner.encode_all(cond_inputs)
            bpm = cond_inputs.get("bpm")
            if self.lm.cfg.cross_attention:
                cross, prefix = emb, pooled
            else:
                prefix = emb
        return self.lm(seq, cross=cross, prefix=prefix, bpm=bpm, first_frame=first_frame)


def codebook_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
                           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """logits [B, K, T, card], targets [B, K, T], mask [B, K, T] -> (mean over K of the masked CE of
    each codebook, per-codebook CE). A codebook without valid positions contributes 0."""
    B, K, T, card = logits.shape
    tgt = targets.masked_fill(~mask, -100).transpose(0, 1).reshape(K, B * T)
    lg = logits.float().transpose(0, 1).reshape(K, B * T, card)
    total = F.cross_entropy(lg.transpose(1, 2), tgt, ignore_index=-100, reduction="none").sum(1)  # [K]
    count = mask.transpose(0, 1).reshape(K, -1).sum(1).clamp(min=1)
    per_k = total / count
    return per_k.mean(), list(per_k.unbind(0))


def teacher_forced_ce(module: nn.Module, pattern: Pattern, codes: torch.Tensor, frame_mask: torch.Tensor,
                      cond: dict | None, special_token: int, keep_only_valid_steps: bool = True,
                      first_frame: int | torch.Tensor = 0, autocast=contextlib.nullcontext
                      ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Teacher-forced CE of codes [B, K, T] (valid frames `frame_mask` [B, T]) through `module` (an
    `LMTrainModule`) with tokenized conditions `cond`: the one definition the trainer and `eval` use."""
    seq, _ = pattern.build(codes, special_token)
    steps = pattern.num_steps - pattern.max_delay if keep_only_valid_steps else pattern.num_steps
    with autocast():
        # logits at step s predict layout[s+1]: the last kept step is only a target (causal model)
        logits = module(seq[..., : steps - 1], cond, first_frame)  # [B, K, steps-1, card]
    logits, valid = pattern.revert_logits(logits, fill=0.0)
    mask = valid[None] & frame_mask[:, None, :]
    return codebook_cross_entropy(logits, codes, mask)


def text_ce_metrics(loss_fn, codes: torch.Tensor, frame_mask: torch.Tensor, texts: list[str | None],
                    first_frame: int | torch.Tensor = 0, with_null: bool = True) -> dict[str, float]:
    """ce and ce per codebook of one batch with its texts; with `with_null` also `ce_null`, the same batch with
    empty prompts (how much the text helps: the number prompt adherence rests on).
    `loss_fn(codes, frame_mask, texts, first_frame)` -> (ce, per-codebook ce)."""
    loss, per_k = loss_fn(codes, frame_mask, texts, first_frame)
    vals = {"ce": loss.item(), **{f"ce_q{k + 1}": v.item() for k, v in enumerate(per_k)}}
    if with_null:
        null_loss, _ = loss_fn(codes, frame_mask, [None] * len(texts), first_frame)
        vals["ce_null"] = null_loss.item()
    return vals


def finish_ce_metrics(out: dict[str, float]) -> dict[str, float]:
    """Averaged ce metrics + `ppl` and `cond_gain` = ce_null - ce (nats per token)."""
    if "ce" in out:
        out["ppl"] = math.exp(min(out["ce"], 50.0))
    if "ce_null" in out:
        out["cond_gain"] = out["ce_null"] - out["ce"]
    return out


def first_frames(infos) -> torch.Tensor:
    """[B] first frame of each training segment in its clip."""
    return torch.tensor([i.offset_frames for i in infos], dtype=torch.long)


def build_models(cfg: LMTrainConfig):
    """(LMModel, conditioner or None, ConditionerConfig) from a training config (fresh or fine-tune)."""
    cond_cfg = cfg.conditioner
    if cfg.model.init_from:
        from .export import load_lm_for_finetune

        lm, conditioner, cond_cfg = load_lm_for_finetune(cfg.model.init_from, cond_cfg)
        if cfg.model.params.get("beat_grid_rate"):  # a part a fine-tune may add (zero-initialised)
            lm.add_beat_grid(cfg.model.params["beat_grid_rate"])
        return lm, conditioner, cond_cfg
    base = preset(cfg.model.preset) if cfg.model.preset else LMConfig()
    known = set(LMConfig.__dataclass_fields__)
    unknown = sorted(set(cfg.model.params) - known)
    if unknown:
        raise ConfigError(f"unknown model.params key(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    lm_cfg = LMConfig.from_dict({**base.to_dict(), **cfg.model.params})
    lm = LMModel(lm_cfg)
    return lm, load_conditioner(cond_cfg, lm_cfg.dim), cond_cfg


class LMTrainer(Trainer):
    name = "lm"

    # -- set-up ----------------------------------------------------------------------------------------------------

    def build(self) -> None:
        cfg: LMTrainConfig = self.cfg
        lm, conditioner, self.cond_cfg = build_models(cfg)
        self.lm_cfg: LMConfig = lm.cfg
        self.module = LMTrainModule(lm, conditioner).to(self.device)
        self.patterns: dict[int, Pattern] = {}
        find_unused = conditioner is None and lm.cfg.cross_attention
        self.ddp = distributed.wrap_ddp(self.module, self.dist, find_unused_parameters=find_unused)
        self.modules = {"model": self.ddp}
        opt = build_optimizer(self.module.parameters(), cfg.optim)
        self.optimizers = {"model": opt}
        self.schedulers = {"model": build_schedule(opt, cfg.optim, cfg.run.steps)}
        self.ema = ModelEMA(self.module, cfg.optim.ema_decay, cfg.optim.ema_every).to(self.device) \
            if cfg.optim.ema_decay > 0 else None
        self.train_set = self.valid_set = None
        self.data_info: dict = {}

    def build_data(self) -> None:
        """Open the token cache (building it from data.manifest first if needed); on first use."""
        if self.train_set is not None:
            return
        d: LMDataConfig = self.cfg.data
        if not d.cache:
            raise ConfigError("data.cache: give the token cache folder (build one with `tonecraft data cache`)")
        if not (Path(d.cache) / "index.json").exists() and d.manifest:
            self._build_cache(d)
        cache = TokenCache(d.cache)
        if cache.num_codebooks != self.lm_cfg.n_q:
            raise ConfigError(f"token cache has {cache.num_codebooks} codebooks, the model expects {self.lm_cfg.n_q}")
        if cache.cardinality > self.lm_cfg.card:
            raise ConfigError(f"token cache cardinality {cache.cardinality} exceeds the model's {self.lm_cfg.card}")
        aug = TextAugment(d.merge_text_p, d.drop_desc_p, d.drop_other_p)
        self.data_info = {"frame_rate": cache.frame_rate, "sample_rate": cache.sample_rate,
                          "codec": d.codec or cache.codec}
        pad = self.lm_cfg.special_token if d.pad_with_special else 0
        train_items, valid_items = None, None
        if d.valid_cache is None and d.valid_fraction > 0:
            probe = TokenDataset(cache, d.segment_duration, shuffle=False)
            train_items, valid_items = probe.split(d.valid_fraction, d.split_seed)
        self.train_set = TokenDataset(cache, d.segment_duration, num_samples=d.num_samples, shuffle=True,
                                      shuffle_seed=d.shuffle_seed, min_segment_ratio=d.min_segment_ratio,
                                      sample_on_duration=d.sample_on_duration,
                                      sample_on_weight=d.sample_on_weight, pad_token=pad,
                                      text_augment=aug, items=train_items, pad_with_silence=d.pad_with_silence,
                                      caption_variant_p=d.caption_variant_p,
                                      caption_variant_style=d.caption_variant_style,
                                      balance_on=d.balance_on, balance_power=d.balance_power)
        self.valid_set = None
        if d.valid_cache is not None:
            self.valid_set = TokenDataset(d.valid_cache, d.segment_duration, shuffle=False, pad_token=pad,
                                          pad_with_silence=d.pad_with_silence)
        elif valid_items:
            self.valid_set = TokenDataset(cache, d.segment_duration, shuffle=False, pad_token=pad, items=valid_items,
                                          pad_with_silence=d.pad_with_silence)

    def _build_cache(self, d: LMDataConfig) -> None:
        if not d.codec:
            raise ConfigError("data.codec is needed to build the token cache from data.manifest")
        if self.dist.is_main:
            from ..data.manifest import read_manifest
            from ..data.token_cache import build_token_cache
            from .export import load_training_codec

            codec = load_training_codec(d.codec, device=self.device)
            build_token_cache(read_manifest(d.manifest), codec, d.cache, device=self.device,
                              progress=self.run_cfg.progress, codec_name=d.codec)
            del codec
        distributed.barrier()

    def make_train_loader(self, start_step: int):
        self.build_data()
        sampler = StepBatchSampler(len(self.train_set), self.run_cfg.batch_size, self.dist.rank,
                                   self.dist.world_size, start_step=start_step,
                                   num_steps=self.run_cfg.steps - start_step)
        return torch.utils.data.DataLoader(self.train_set, batch_sampler=sampler, collate_fn=collate_tokens,
                                           **self.loader_kwargs())

    # -- step ------------------------------------------------------------------------------------------------------

    def pattern(self, T: int) -> Pattern:
        if T not in self.patterns:
            self.patterns[T] = get_pattern(self.lm_cfg.pattern, self.lm_cfg.n_q, T, self.lm_cfg.delays)
        return self.patterns[T]

    def texts(self, infos) -> list[str | None]:
        attr = self.cond_cfg.attribute
        if attr == "description":
            return [i.description for i in infos]
        return [i.attributes.get(attr) for i in infos]

    def compute_loss(self, module: nn.Module, codes: torch.Tensor, frame_mask: torch.Tensor,
                     texts: list[str | None], first_frame: torch.Tensor | int = 0
                     ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        cond = self.module.conditioner.tokenize(texts) if self.module.conditioner is not None else None
        return teacher_forced_ce(module, self.pattern(codes.shape[-1]), codes, frame_mask, cond,
                                 self.lm_cfg.special_token, self.cfg.model.keep_only_valid_steps, first_frame,
                                 self.autocast)

    def train_step(self, batch) -> dict[str, float]:
        codes, frame_mask, infos = batch
        codes, frame_mask = codes.to(self.device, non_blocking=True), frame_mask.to(self.device)
        texts, dropped = apply_condition_dropout(self.texts(infos), self.cond_cfg,
                                                 step_generator(self.run_cfg.seed, self.step, 1))
        opt = self.optimizers["model"]
        opt.zero_grad(set_to_none=True)
        loss, per_k = self.compute_loss(self.ddp, codes, frame_mask, texts, first_frames(infos))
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(opt)
        metrics = {"ce": loss.item()}
        if self.cfg.optim.max_norm > 0:
            gn = torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.optim.max_norm)
            metrics["grad_norm"] = float(gn)
        self.scaler.step(opt)
        self.scaler.update()
        self.schedulers["model"].step()
        if self.ema is not None:
            self.ema.update(self.module, self.step)
        metrics["ppl"] = math.exp(min(metrics["ce"], 50.0))
        for k, v in enumerate(per_k):
            metrics[f"ce_q{k + 1}"] = v.item()
        return metrics

    # -- validation / export ---------------------------------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.build_data()
        if self.valid_set is None:
            return {}
        module = self.module
        backup = None
        if self.ema is not None:
            backup = {k: v.clone() for k, v in module.state_dict().items()}
            module.load_state_dict(self.ema.averaged_state(module))
        module.eval()
        idx = shard_indices(len(self.valid_set), self.dist.rank, self.dist.world_size)
        limit = self.run_cfg.valid_batches
        bs = max(1, self.run_cfg.batch_size // self.dist.world_size)
        tot, n = {}, 0
        batches = [idx[i:i + bs] for i in range(0, len(idx), bs)]
        if limit:
            batches = batches[:limit]
        for chunk in batches:
            codes, frame_mask, infos = collate_tokens([self.valid_set[i] for i in chunk])
            codes, frame_mask = codes.to(self.device), frame_mask.to(self.device)
            vals = text_ce_metrics(partial(self.compute_loss, module), codes, frame_mask, self.texts(infos),
                                   first_frames(infos), with_null=module.conditioner is not None)
            for k, v in vals.items():
                tot[k] = tot.get(k, 0.0) + v * len(chunk)
            n += len(chunk)
        if backup is not None:
            module.load_state_dict(backup)
        out = {k: v / max(n, 1) for k, v in tot.items()}
        return finish_ce_metrics(distributed.average_metrics(out, count=n, device=self.device))

    def extra_state(self) -> dict:
        return {"ema": self.ema.state_dict() if self.ema is not None else None, "data_info": self.data_info,
                "lm_config": self.lm_cfg.to_dict(), "conditioner": asdict(self.cond_cfg)}

    def load_extra_state(self, state: dict) -> None:
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
            self.ema.to(self.device)
        self.data_info = dict(state.get("data_info") or {})

    def export(self, out_dir: str | Path | None = None) -> Path | None:
        if not self.dist.is_main:
            return None
        from .export import export_lm

        out = Path(out_dir) if out_dir else self.out_dir / "export"
        state = self.ema.averaged_state(self.module) if self.ema is not None else self.module.state_dict()
        return export_lm(out, state, self.lm_cfg, self.cond_cfg, self.module.conditioner,
                         extra={"step": self.step, "codec": self.cfg.data.codec, **self.data_info,
                                "max_duration": self.cfg.data.segment_duration})
