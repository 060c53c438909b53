"""A linear probe: standardised features -> multinomial logistic regression (torch, full-batch L-BFGS).

Deterministic (zero init, full batch). The L2 strength is picked by grouped k-fold cross-validation on the
training clips (folds by piece, so settings of one tune never sit on both sides).
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class LinearProbe:
    l2: float = 1e-2
    max_iter: int = 100

    def fit(self, X: np.ndarray, labels: list[str]) -> "LinearProbe":
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a few hundred rows: threads only add sync overhead (and fight training jobs)
        try:
            return self._fit(X, labels)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, X: np.ndarray, labels: list[str]) -> "LinearProbe":
        X = np.asarray(X, dtype=np.float64)
        self.classes = sorted(set(labels))
        self.counts = Counter(labels)
        self.mean = X.mean(0)
        self.std = X.std(0) + 1e-6
        idx = {c: i for i, c in enumerate(self.classes)}
        x = torch.from_numpy((X - self.mean) / self.std)
        y = torch.tensor([idx[c] for c in labels])
        W = torch.zeros(x.shape[1], len(self.classes), dtype=torch.float64, requires_grad=True)
        b = torch.zeros(len(self.classes), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=self.max_iter, history_size=20,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-7, tolerance_change=1e-9)

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(x @ W + b, y) + self.l2 * W.pow(2).sum()
            loss.backward()
            return loss

        if len(self.classes) > 1:
            opt.step(closure)
        self.W, self.b = W.detach(), b.detach()
        return self

    def predict(self, X: np.ndarray) -> list[str]:
        X = np.asarray(X, dtype=np.float64)
        if len(self.classes) == 1:
            return [self.classes[0]] * len(X)
        x = torch.from_numpy((X - self.mean) / self.std)
        return [self.classes[i] for i in (x @ self.W + self.b).argmax(1).tolist()]

    @property
    def majority(self) -> str:
        return max(sorted(self.counts), key=lambda c: self.counts[c])


def _fold(group: str, k: int) -> int:
    return int.from_bytes(hashlib.sha1(group.encode()).digest()[:4], "little") % k


def cross_val_predict(X: np.ndarray, labels: list[str], groups: list[str], l2: float, k: int = 5
                      ) -> list[str | None]:
    """Grouped k-fold predictions: each row predicted by the probe fitted on the other folds (folds by group
    hash, so one group never sits on both sides); None where a fold had no training rows."""
    folds = np.array([_fold(g, k) for g in groups])
    labels_arr = np.asarray(labels)
    pred: list[str | None] = [None] * len(labels)
    for f in range(k):
        tr, te = folds != f, folds == f
        if te.sum() == 0 or tr.sum() == 0:
            continue
        probe = LinearProbe(l2).fit(X[tr], list(labels_arr[tr]))
        for i, p in zip(np.nonzero(te)[0], probe.predict(X[te])):
            pred[i] = p
    return pred


def select_l2(X: np.ndarray, labels: list[str], groups: list[str], k: int = 5, grid=L2_GRID) -> tuple[float, dict]:
    """L2 strength with the best grouped k-fold accuracy (ties: the stronger regularisation)."""
    scores = {}
    for l2 in grid:
        pairs = [(p, t) for p, t in zip(cross_val_predict(X, labels, groups, l2, k), labels) if p is not None]
        scores[l2] = sum(p == t for p, t in pairs) / len(pairs) if pairs else 0.0
    best = max(sorted(grid, reverse=True), key=lambda l2: scores[l2])
    return best, scores


def score(predicted: list[str], truth: list[str], probe: LinearProbe) -> dict:
    """Accuracy, balanced accuracy (mean per-class recall) and the chance levels to read them against:
    `chance_majority` = always answering the training majority class, `chance_uniform` = 1 / classes."""
    n = len(truth)
    if n == 0:
        return {"n": 0}
    acc = float(np.mean([p == t for p, t in zip(predicted, truth)]))
    recall = {}
    for c in sorted(set(truth)):
        sel = [p for p, t in zip(predicted, truth) if t == c]
        recall[c] = float(np.mean([p == c for p in sel]))
    recalls = list(recall.values())
    confusion: dict[str, dict[str, int]] = {}
    for p, t in zip(predicted, truth):
        confusion.setdefault(t, {}).setdefault(p, 0)
        confusion[t][p] += 1
    return {
        "n": n,
        "accuracy": acc,
        "balanced_accuracy": float(np.mean(recalls)),
        "chance_majority": float(np.mean([t == probe.majority for t in truth])),
        "majority_class": probe.majority,
        "chance_uniform": 1.0 / len(probe.classes),
        "classes": list(probe.classes),
        "truth_counts": dict(sorted(Counter(truth).items())),
        "confusion": {t: dict(sorted(v.items())) for t, v in sorted(confusion.items())},
        "recall": recall,
        "top_confusions": top_confusions(confusion),
    }


def top_confusions(confusion: dict[str, dict[str, int]], n: int = 5) -> list[list]:
    """The `n` most frequent (truth, predicted, count) mistakes, most frequent first (ties by name)."""
    wrong = [(t, p, c) for t, row in confusion.items() for p, c in row.items() if p != t]
    return [list(x) for x in sorted(wrong, key=lambda x: (-x[2], x[0], x[1]))[:n]]
