"""Codec trainer (EnCodec recipe, audiocraft `CompressionSolver`).

Per step, on random audio segments x:
1. y, codes, penalty = codec(x)   (RVQ: k-means init, EMA codebooks, dead-code replacement and
   quantizer dropout happen inside the codec's quantizer in training mode)
2. discriminator update (every `adversarial.every` steps): hinge loss of the MS-STFT discriminator on
   [x, y.detach()]
3. generator losses l1 (waveform), msspec (multi-scale mel), adv (hinge), feat (feature matching),
   combined by the gradient balancer on y; the commitment penalty is back-propagated outside it, and so is the
   optional shift consistency (`losses.shift_consistency`, `shift_consistency.py`: the encoder's latents of x
   and of x delayed by less than a frame should match, so that tokens follow the sound and not its phase).
4. (multi-process) RVQ statistics averaged over ranks so every replica holds the same codebooks.
Validation: SI-SNR (dB) and log-mel distance of the reconstruction, plus l1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..codec.configs import CodecConfig, get_config
from ..codec.model import Codec
from ..data.dataset import AudioDataset, StepBatchSampler, collate_audio, shard_indices, split_train_valid
from ..data.manifest import read_manifest
from ..errors import CheckpointError, ConfigError
from . import distributed
from .balancer import Balancer
from .shift_consistency import shift_consistency_loss, shift_for_step
from .discriminator import (DiscriminatorConfig, MultiScaleSTFTDiscriminator, discriminator_hinge_loss,
                            feature_matching_loss, generator_hinge_loss)
from .losses import MelDistance, MultiScaleMelLoss, si_snr
from .loop import RunConfig, Trainer
from .optim import ModelEMA, OptimConfig, build_optimizer, build_schedule


@dataclass
class CodecModelConfig:
    preset: str | None = None  # official config name: encodec_24khz, musicgen_32khz, audiogen_16khz ...
    params: dict[str, Any] = field(default_factory=dict)  # CodecConfig fields replacing the preset's
    init_from: str | None = None  # fine-tune: codec name / saved folder / codec checkpoint.pt
    # "decoder": train the decoder alone; the encoder and the codebooks stay as they are, so the tokens an LM was
    # trained on keep their meaning while the decoder that turns them into sound keeps improving
    train_only: str | None = None


@dataclass
class AudioDataConfig:
    train: str = ""  # manifest (.jsonl[.gz]) or folder holding data.jsonl
    valid: str | None = None
    valid_fraction: float = 0.0  # without `valid`: hold out this fraction of files (path hash)
    split_seed: int = 0
    segment_duration: float = 1.0
    valid_segment_duration: float | None = None  # default: segment_duration
    num_samples: int = 10000  # samples per epoch
    shuffle_seed: int = 0
    min_segment_ratio: float = 0.8
    sample_on_weight: bool = False
    sample_on_duration: bool = False
    max_read_retry: int = 10
    min_audio_duration: float | None = None


@dataclass
class CodecLossConfig:
    adv: float = 4.0
    feat: float = 4.0
    l1: float = 0.1
    msspec: float = 2.0
    commitment: float = 1.0  # outside the balancer
    shift_consistency: float = 0.0  # outside the balancer too (shift_consistency.py); 0: off
    balance_grads: bool = True
    total_norm: float = 1.0
    balancer_ema_decay: float = 0.999
    msspec_n_mels: int = 64
    msspec_f_min: float = 64.0
    msspec_range: list[int] = field(default_factory=lambda: [6, 11])  # n_fft = 2^6 .. 2^10
    msspec_normalized: bool = False


@dataclass
class AdversarialConfig:
    every: int = 1  # discriminator update every N steps
    start_step: int = 0  # no adversarial losses before this step
    # the discriminator alone trains this many steps before start_step: from a fresh start its logits are tiny
    # (hinge loss ~2.00 for a thousand steps at lr 3e-4 on 4 x 1 s crops), and the gradient balancer would still
    # give its barely-informed gradient its full share of the generator's update
    discriminator_head_start: int = 0
    lr: float | None = None  # default: optim.lr
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)


def _codec_optim() -> OptimConfig:
    return OptimConfig(optimizer="adam", lr=3e-4, betas=[0.5, 0.9], weight_decay=0.0, max_norm=0.0,
                       schedule="constant", ema_decay=0.0)


@dataclass
class CodecTrainConfig:
    model: CodecModelConfig = field(default_factory=CodecModelConfig)
    data: AudioDataConfig = field(default_factory=AudioDataConfig)
    losses: CodecLossConfig = field(default_factory=CodecLossConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    optim: OptimConfig = field(default_factory=_codec_optim)
    run: RunConfig = field(default_factory=RunConfig)


def build_codec(cfg: CodecModelConfig) -> Codec:
    if cfg.init_from:
        from .export import load_training_codec

        codec = load_training_codec(cfg.init_from)
        if cfg.params:
            raise ConfigError("model.params cannot change a codec loaded with model.init_from")
        # loaders hand out frozen inference codecs (weight norm folded): fine-tuning trains the plain weights
        return codec.requires_grad_(True).train()
    base = get_config(cfg.preset).to_dict() if cfg.preset else CodecConfig().to_dict()
    known = set(base)
    unknown = sorted(set(cfg.params) - known)
    if unknown:
        raise ConfigError(f"unknown model.params key(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    return Codec(CodecConfig.from_dict({**base, **cfg.params}))


def codec_from_checkpoint(path: str | Path) -> Codec:
    """The codec (EMA weights when the run kept them) of a codec training checkpoint."""
    from .checkpoint import load_checkpoint, trained_weights

    state = load_checkpoint(path)
    if state.get("kind") != "codec":
        raise CheckpointError(f"{path}: not a codec training checkpoint")
    codec = Codec(CodecConfig.from_dict(state["extra"]["codec_config"]))
    if not any(".parametrizations." in k for k in state["modules"]["codec"]):
        codec.fold_weight_norm()  # a run started from a saved (folded) codec trains plain weights
    codec.load_state_dict(trained_weights(state, "codec", codec))
    return codec


class CodecTrainer(Trainer):
    name = "codec"
    cpu_autocast = False  # nearest-codeword search and k-means want full precision

    def auto_precision(self) -> str:
        return "fp32"  # nearest-codeword search and k-means want full precision (audiocraft: fp32)

    def build(self) -> None:
        cfg: CodecTrainConfig = self.cfg
        self.codec = build_codec(cfg.model).to(self.device)
        self.codec_config: CodecConfig = self.codec.config
        self.frozen = self._freeze(cfg.model.train_only)
        self.codec_ddp = distributed.wrap_ddp(self.codec, self.dist)
        self.modules = {"codec": self.codec_ddp}
        opt = build_optimizer([p for p in self.codec.parameters() if p.requires_grad], cfg.optim)
        self.optimizers = {"codec": opt}
        self.schedulers = {"codec": build_schedule(opt, cfg.optim, cfg.run.steps)}
        L = cfg.losses
        self.use_adv = L.adv > 0 or L.feat > 0
        if self.use_adv:
            self.disc = MultiScaleSTFTDiscriminator(cfg.adversarial.discriminator, self.codec.channels).to(self.device)
            self.disc_ddp = distributed.wrap_ddp(self.disc, self.dist)
            self.modules["discriminator"] = self.disc_ddp
            d_optim = OptimConfig(**{**cfg.optim.__dict__, "lr": cfg.adversarial.lr or cfg.optim.lr,
                                     "ema_decay": 0.0})
            d_opt = build_optimizer(self.disc.parameters(), d_optim)
            self.optimizers["discriminator"] = d_opt
            self.schedulers["discriminator"] = build_schedule(d_opt, d_optim, cfg.run.steps)
        sr = self.codec.sample_rate
        lo, hi = L.msspec_range
        self.msspec = MultiScaleMelLoss(sr, lo, hi, n_mels=L.msspec_n_mels, f_min=L.msspec_f_min,
                                        normalized=L.msspec_normalized).to(self.device)
        self.mel_distance = MelDistance(sr).to(self.device)
        weights = {"l1": L.l1, "msspec": L.msspec, "adv": L.adv, "feat": L.feat}
        self.balancer = Balancer(weights, balance_grads=L.balance_grads, total_norm=L.total_norm,
                                 ema_decay=L.balancer_ema_decay)
        self.ema = ModelEMA(self.codec, cfg.optim.ema_decay, cfg.optim.ema_every).to(self.device) \
            if cfg.optim.ema_decay > 0 else None
        self.train_set = self.valid_set = None

    # -- data ------------------------------------------------------------------------------------------------------

    def build_data(self) -> None:
        if self.train_set is not None:
            return
        d: AudioDataConfig = self.cfg.data
        if not d.train:
            raise ConfigError("data.train: give a manifest (build one with `tonecraft data index DIR -o m.jsonl`)")
        metas = read_manifest(d.train)
        valid = read_manifest(d.valid) if d.valid else None
        if valid is None and d.valid_fraction > 0:
            metas, valid = split_train_valid(metas, d.valid_fraction, d.split_seed)
        sr, ch = self.codec.sample_rate, self.codec.channels
        self.train_set = AudioDataset(metas, sr, ch, segment_duration=d.segment_duration,
                                      num_samples=d.num_samples, shuffle=True, shuffle_seed=d.shuffle_seed,
                                      min_segment_ratio=d.min_segment_ratio, sample_on_weight=d.sample_on_weight,
                                      sample_on_duration=d.sample_on_duration, max_read_retry=d.max_read_retry,
                                      min_audio_duration=d.min_audio_duration, read_info_files=False)
        if valid:
            self.valid_set = AudioDataset(valid, sr, ch, segment_duration=d.valid_segment_duration or d.segment_duration,
                                          shuffle=False, read_info_files=False)

    def make_train_loader(self, start_step: int):
        self.build_data()
        sampler = StepBatchSampler(len(self.train_set), self.run_cfg.batch_size, self.dist.rank,
                                   self.dist.world_size, start_step=start_step,
                                   num_steps=self.run_cfg.steps - start_step)
        return torch.utils.data.DataLoader(self.train_set, batch_sampler=sampler, collate_fn=collate_audio,
                                           **self.loader_kwargs())

    def _freeze(self, train_only: str | None) -> list[torch.nn.Module]:
        """The parts kept fixed (no gradient, and in eval mode: no codebook EMA / k-means / dead-code updates)."""
        if train_only is None:
            return []
        if train_only != "decoder":
            raise ConfigError(f"model.train_only must be 'decoder' or unset, not {train_only!r}")
        frozen = [self.codec.encoder, self.codec.quantizer]
        for m in frozen:
            m.requires_grad_(False)
        return frozen

    # -- step ------------------------------------------------------------------------------------------------------

    def _adv_active(self) -> bool:
        a = self.cfg.adversarial
        return self.use_adv and self.step >= a.start_step

    def _disc_active(self) -> bool:
        a = self.cfg.adversarial
        return self.use_adv and self.step >= a.start_step - a.discriminator_head_start

    def train_step(self, batch) -> dict[str, float]:
        x, _ = batch
        x = x.to(self.device, non_blocking=True)
        for m in self.frozen:  # the loop puts every module back in training mode
            m.eval()
        L = self.cfg.losses
        metrics: dict[str, float] = {}
        with self.autocast():
            out = self.codec_ddp(x)
        y = out.audio.float()
        adv = self._adv_active()
        if self._disc_active() and self.step % self.cfg.adversarial.every == 0:
            metrics["d_loss"] = self._discriminator_step(x, y.detach())
        losses: dict[str, torch.Tensor] = {"l1": F.l1_loss(y, x), "msspec": self.msspec(y, x)}
        if adv:
            self.disc.requires_grad_(False)
            with self.autocast():
                fake_logits, fake_fmaps = self.disc(y)
                with torch.no_grad():
                    _, real_fmaps = self.disc(x)
            self.disc.requires_grad_(True)
            losses["adv"] = generator_hinge_loss([f.float() for f in fake_logits])
            losses["feat"] = feature_matching_loss([[r.float() for r in rs] for rs in real_fmaps],
                                                   [[f.float() for f in fs] for fs in fake_fmaps])
        opt = self.optimizers["codec"]
        opt.zero_grad(set_to_none=True)
        grad_y, ratios = self.balancer.compute(losses, y, grad_scale=float(self.dist.world_size))
        penalty = out.penalty
        tensors, grads = [y], [grad_y]
        if penalty.requires_grad and L.commitment > 0:
            tensors.append(penalty)
            grads.append(torch.full_like(penalty, L.commitment))
        if L.shift_consistency > 0:
            sc = shift_consistency_loss(self.codec, x, shift_for_step(self.step, self.codec.hop_length,
                                                                        self.cfg.data.shuffle_seed))
            tensors.append(sc)
            grads.append(torch.full_like(sc, L.shift_consistency))
            metrics["shift_consistency"] = float(sc.detach())
        torch.autograd.backward(tensors, [self._scaled(g) for g in grads])  # one backward (DDP)
        self.scaler.unscale_(opt)
        if self.cfg.optim.max_norm > 0:
            metrics["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.codec.parameters(),
                                                                        self.cfg.optim.max_norm))
        self.scaler.step(opt)
        self.scaler.update()
        self.schedulers["codec"].step()
        if self.use_adv:
            self.schedulers["discriminator"].step()
        distributed.average_buffers(self.codec)  # identical RVQ statistics on every rank
        if self.ema is not None:
            self.ema.update(self.codec, self.step)
        with torch.no_grad():
            for k, v in losses.items():
                metrics[k] = v.item()
            metrics["penalty"] = float(penalty)
            metrics["sisnr"] = si_snr(y, x).mean().item()
            metrics["mel"] = self.mel_distance(y, x).item()
            metrics["bandwidth"] = float(out.bandwidth)
        metrics.update(ratios)
        return metrics

    def _scaled(self, g: torch.Tensor) -> torch.Tensor:
        return g * self.scaler.get_scale() if self.scaler.is_enabled() else g

    def _discriminator_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        d_opt = self.optimizers["discriminator"]
        d_opt.zero_grad(set_to_none=True)
        B = x.shape[0]
        with self.autocast():
            logits, _ = self.disc_ddp(torch.cat([x, y], 0))  # one forward: DDP-friendly
        loss = discriminator_hinge_loss([lg[:B].float() for lg in logits], [lg[B:].float() for lg in logits])
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(d_opt)
        if self.cfg.optim.max_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.disc.parameters(), self.cfg.optim.max_norm)
        self.scaler.step(d_opt)
        return loss.item()

    # -- validation / state / export -------------------------------------------------------------------------------

    def _eval_codec(self) -> Codec:
        if self.ema is None:
            return self.codec
        import copy

        codec = copy.deepcopy(self.codec)
        codec.load_state_dict(self.ema.averaged_state(self.codec))
        return codec

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.build_data()
        if self.valid_set is None:
            return {}
        codec = self._eval_codec()
        codec.eval()
        idx = shard_indices(len(self.valid_set), self.dist.rank, self.dist.world_size)
        bs = max(1, self.run_cfg.batch_size // self.dist.world_size)
        batches = [idx[i:i + bs] for i in range(0, len(idx), bs)]
        if self.run_cfg.valid_batches:
            batches = batches[: self.run_cfg.valid_batches]
        tot, n = {"sisnr": 0.0, "mel": 0.0, "l1": 0.0}, 0
        for chunk in batches:
            x, _ = collate_audio([self.valid_set[i] for i in chunk])
            x = x.to(self.device)
            y = codec(x).audio.float()
            tot["sisnr"] += si_snr(y, x).sum().item()
            tot["mel"] += self.mel_distance(y, x).item() * len(chunk)
            tot["l1"] += F.l1_loss(y, x).item() * len(chunk)
            n += len(chunk)
        self.codec.train()
        out = {k: v / max(n, 1) for k, v in tot.items()}
        return distributed.average_metrics(out, count=n, device=self.device)

    def extra_state(self) -> dict:
        return {"ema": self.ema.state_dict() if self.ema is not None else None,
                "balancer": self.balancer.state_dict(), "codec_config": self.codec_config.to_dict()}

    def load_extra_state(self, state: dict) -> None:
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
            self.ema.to(self.device)
        if state.get("balancer"):
            self.balancer.load_state_dict(state["balancer"])

    def export(self, out_dir: str | Path | None = None) -> Path | None:
        if not self.dist.is_main:
            return None
        from .export import export_codec

        out = Path(out_dir) if out_dir else self.out_dir / "export"
        return export_codec(self._eval_codec().eval(), out)
