"""Gradient loss balancer (EnCodec paper; audiocraft `losses/balancer.py` semantics).

For each loss L_i the gradient g_i = dL_i/dy w.r.t. the model output y only is computed; its norm
(per batch item, averaged) is tracked with a bias-corrected EMA; the gradient sent back into the model
is  sum_i  w_i / sum(w) * total_norm * g_i / (eps + ema_norm_i),  so each loss contributes a share of
the update proportional to its weight, independent of its scale.

Distributed: norms are averaged over ranks. `grad_scale` multiplies the output gradient; the codec
trainer sets it to the world size so that DDP's gradient averaging reproduces the single-process
gradient of the same global batch (the balanced gradient is a per-item quantity, summed over items);
it is ignored with `balance_grads=False` (a plain weighted sum of batch means).
"""
from __future__ import annotations

import torch

from . import distributed


class Balancer:
    def __init__(self, weights: dict[str, float], balance_grads: bool = True, total_norm: float = 1.0,
                 ema_decay: float = 0.999, per_batch_item: bool = True, epsilon: float = 1e-12):
        self.weights = {k: float(v) for k, v in weights.items() if v}
        self._zero_weight = {k for k, v in weights.items() if not v}
        self.balance_grads = balance_grads
        self.total_norm = total_norm
        self.ema_decay = ema_decay
        self.per_batch_item = per_batch_item
        self.epsilon = epsilon
        self.ema_total: dict[str, float] = {}
        self.ema_fix: dict[str, float] = {}
        self.last_norms: dict[str, float] = {}

    def _ema(self, norms: dict[str, float]) -> dict[str, float]:
        out = {}
        for k, v in norms.items():
            self.ema_total[k] = self.ema_total.get(k, 0.0) * self.ema_decay + v
            self.ema_fix[k] = self.ema_fix.get(k, 0.0) * self.ema_decay + 1.0
            out[k] = self.ema_total[k] / self.ema_fix[k]
        return out

    def compute(self, losses: dict[str, torch.Tensor], output: torch.Tensor, grad_scale: float = 1.0
                ) -> tuple[torch.Tensor, dict[str, float]]:
        """Balanced gradient for `output` (call `output.backward(grad)` or include it in one backward).

        A weighted loss absent from `losses` (e.g. the adversarial losses before their start step)
        contributes nothing this step; a loss in `losses` without a weight is an error (a typo would
        otherwise be silently ignored)."""
        unknown = sorted(set(losses) - set(self.weights) - self._zero_weight)
        if unknown:
            raise KeyError(f"losses without a balancer weight: {', '.join(unknown)}")
        grads, norms = {}, {}
        for name in self.weights:
            loss = losses.get(name)
            if loss is None or not loss.requires_grad:
                continue
            (g,) = torch.autograd.grad(loss, [output], retain_graph=True, allow_unused=True)
            if g is None:
                continue
            if self.per_batch_item:
                n = g.reshape(g.shape[0], -1).norm(dim=1).mean()
            else:
                n = g.norm()
            grads[name] = g
            norms[name] = n.detach()
        if not grads:
            return torch.zeros_like(output), {}
        keys = sorted(norms)
        stacked = torch.stack([norms[k].float() for k in keys]).to(output.device)
        distributed.all_reduce_mean(stacked)
        avg = self._ema({k: float(stacked[i]) for i, k in enumerate(keys)})
        self.last_norms = avg
        total_w = sum(self.weights[k] for k in grads)
        out = torch.zeros_like(output)
        metrics = {}
        for k, g in grads.items():
            if self.balance_grads:
                scale = self.weights[k] / total_w * self.total_norm / (self.epsilon + avg[k])
                out.add_(g, alpha=scale * grad_scale)
            else:  # plain weighted sum of (batch-mean) losses: DDP averaging is already right
                scale = self.weights[k]
                out.add_(g, alpha=scale)
            metrics[f"ratio_{k}"] = float(norms[k]) * scale / max(self.total_norm, 1e-12)
        return out, metrics

    def state_dict(self) -> dict:
        return {"ema_total": dict(self.ema_total), "ema_fix": dict(self.ema_fix)}

    def load_state_dict(self, state: dict) -> None:
        self.ema_total = {k: float(v) for k, v in state["ema_total"].items()}
        self.ema_fix = {k: float(v) for k, v in state["ema_fix"].items()}
