"""Is the text encoder what keeps the LM from the asked instrument (issue 18)? A probe on the text side only: a linear
classifier of the instrument family learns from the corpus's training captions, embedded by the LM's frozen
sentence encoder (mean-pooled token states), and reads the family of each free-language prompt. If it reads them
well, the encoder carries the family and the LM has to learn to use it; if not, no LM training on these captions
will. The nearest training caption (cosine) is printed too: the family is there when a linear map finds it, even
where the nearest caption is a different instrument.

    .venv/bin/python bench/text_family_probe.py --corpus $DATA/corpus-v1 --paraphrases bench/paraphrases.jsonl

One thread, deterministic (seeded caption choice; the probe is the evaluation's `eval.classifier.LinearProbe`,
its L2 chosen by cross-validation grouped by piece).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="a `tonecraft corpus music` folder (its train captions)")
    p.add_argument("--paraphrases", default="bench/paraphrases.jsonl", help="free-language prompts with a family")
    p.add_argument("--n-train", type=int, default=2500, help="training captions the probe learns from")
    p.add_argument("--encoder", default="minilm", choices=["minilm", "hash"],
                   help="minilm: the default model's sentence encoder; hash: a random word-hash encoder (a floor)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the result here")
    return p.parse_args(argv)


def text_encoder(name: str):
    if name == "hash":
        from tonecraft.conditioning.hash_encoder import HashTextEncoder

        return HashTextEncoder(dim=64)
    from tonecraft.conditioning.minilm import MiniLMEncoder

    return MiniLMEncoder.from_pretrained()


def embed(encoder, texts: list[str], batch: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised token states: one vector per text."""
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            tok = encoder.tokenize(texts[i:i + batch])
            h = encoder.encode(tok).float()
            m = tok["attention_mask"].unsqueeze(-1).to(h.dtype)
            out.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1), dim=-1))
    return torch.cat(out).numpy()


def family_probe(train_X: np.ndarray, train_y: list[str], groups: list[str], test_X: np.ndarray,
                 test_y: list[str]) -> dict:
    from tonecraft.eval import classifier as clf

    l2, _ = clf.select_l2(train_X, train_y, groups, k=5)
    linear = clf.LinearProbe(l2).fit(train_X, train_y).predict(test_X)
    nearest = [train_y[i] for i in (test_X @ train_X.T).argmax(1)]
    per_family = {}
    for fam in sorted(set(test_y)):
        idx = [i for i, t in enumerate(test_y) if t == fam]
        per_family[fam] = {"n": len(idx), "linear": sum(linear[i] == fam for i in idx),
                           "nearest": sum(nearest[i] == fam for i in idx),
                           "linear_heard": dict(Counter(linear[i] for i in idx).most_common(3))}
    n = max(len(test_y), 1)
    return {"n": len(test_y), "l2": l2, "linear_accuracy": sum(a == b for a, b in zip(linear, test_y)) / n,
            "nearest_accuracy": sum(a == b for a, b in zip(nearest, test_y)) / n, "per_family": per_family}


def main(argv=None) -> int:
    from tonecraft.errors import TonecraftError
    from tonecraft.eval.labels import load_split
    from tonecraft.eval.paraphrases import load_paraphrases

    a = parse_args(argv)
    torch.manual_seed(a.seed)
    try:
        captions = [c for c in load_split(a.corpus, "train", a.n_train, a.seed) if c.family]
        prompts = [c for c in load_paraphrases(a.paraphrases) if c.family]
        if len({c.family for c in captions}) < 2 or not prompts:
            raise TonecraftError("need training captions of two families or more, and prompts with a family")
        encoder = text_encoder(a.encoder)
    except TonecraftError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    res = family_probe(embed(encoder, [c.description for c in captions]), [c.family for c in captions],
                       [c.piece for c in captions], embed(encoder, [c.description for c in prompts]),
                       [c.family for c in prompts])
    res.update(encoder=a.encoder, train_captions=len(captions), paraphrases=a.paraphrases)
    print(f"{a.encoder}: family of {res['n']} free-language prompts from {len(captions)} training captions: "
          f"linear probe {res['linear_accuracy']:.2f} (L2 {res['l2']:g}), nearest caption "
          f"{res['nearest_accuracy']:.2f}")
    for fam, r in res["per_family"].items():
        heard = ", ".join(f"{k} {v}" for k, v in r["linear_heard"].items())
        print(f"  {fam}: linear {r['linear']}/{r['n']} ({heard}), nearest {r['nearest']}/{r['n']}")
    if a.json:
        from tonecraft.fileio import atomic_write_text

        atomic_write_text(a.json, json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
