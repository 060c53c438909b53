"""Two candidates on the paraphrase probe, clip by clip (issue 18's "ship when the probe shows it is better").

One run of `bench/eval_default.py --paraphrases` gives 140 clips, and two seeds of the same model differ by up to
0.08 in family accuracy: comparing two accuracies says little. But two candidates run with the same `--seed`
generate the same prompts in the same order, so their clips pair up. Of each pair only the discordant ones
(right in one, wrong in the other) carry evidence; the exact two-sided sign test on them (McNemar) says whether
one candidate is heard as the asked instrument more often than chance would give. Tempo is compared the same way:
per pair, whose librosa estimate is nearer the stated bpm (log ratio, so 60 vs 120 counts like 120 vs 240).
Runs are paired by their `config.seed` and clip order; clips of families a probe did not learn are left out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass
class PairedCount:
    """How often A beat B and B beat A over the paired clips, and the two-sided sign-test p-value."""
    n: int  # pairs looked at
    a_only: int
    b_only: int
    p_value: float

    def as_dict(self) -> dict:
        return {"n": self.n, "a_only": self.a_only, "b_only": self.b_only, "p_value": round(self.p_value, 4)}


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided binomial test of wins vs losses at p = 0.5 (ties already dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def _clips(run: dict) -> list[dict]:
    par = run.get("paraphrases") or {}
    clips = par.get("clips")
    if not clips:
        raise ConfigError("an evaluation without paraphrase clips: run bench/eval_default.py with --paraphrases")
    return clips


def _seed(run: dict) -> int | None:
    return (run.get("config") or {}).get("seed")


def _runs_by_seed(a_runs: list[dict], b_runs: list[dict]) -> list[tuple[dict, dict]]:
    """Each A run with the B run of its seed; a `ConfigError` when a seed has no partner."""
    b_by_seed = {_seed(r): r for r in b_runs}
    missing = [_seed(a) for a in a_runs if _seed(a) not in b_by_seed]
    if missing:
        raise ConfigError(f"no B run with seed {missing[0]} (B seeds: {sorted(map(str, b_by_seed))})")
    return [(a, b_by_seed[_seed(a)]) for a in a_runs]


def pair_runs(a_runs: list[dict], b_runs: list[dict]) -> list[tuple[dict, dict]]:
    """Clip pairs of runs with the same seed, asking for a family both probes learned; a `ConfigError` when a
    seed has no partner or the prompts differ."""
    pairs = []
    for a, b in _runs_by_seed(a_runs, b_runs):
        ca, cb = _clips(a), _clips(b)
        if [(c["prompt"], c.get("seed_copy")) for c in ca] != [(c["prompt"], c.get("seed_copy")) for c in cb]:
            raise ConfigError(f"seed {_seed(a)}: the two runs generated different prompts (another paraphrase file?)")
        known = _probe_classes(a) & _probe_classes(b)
        pairs += [(x, y) for x, y in zip(ca, cb) if x["family"] in known]
    return pairs


def _probe_classes(run: dict) -> set[str]:
    """The families the run's probe learned (a clip asking for another one cannot be heard right)."""
    family = ((run.get("probe") or {}).get("real_heldout") or {}).get("family") or {}
    return set(family.get("classes") or ())


def family_comparison(pairs: list[tuple[dict, dict]]) -> PairedCount:
    """Clips heard as the asked family by A only vs by B only."""
    a_only = sum(a["predicted_family"] == a["family"] and b["predicted_family"] != b["family"] for a, b in pairs)
    b_only = sum(b["predicted_family"] == b["family"] and a["predicted_family"] != a["family"] for a, b in pairs)
    return PairedCount(len(pairs), a_only, b_only, sign_test_p(a_only, b_only))


def _tempo_error(clip: dict) -> float | None:
    bpm, est = clip.get("bpm"), clip.get("estimated_bpm")
    if not bpm or not est:
        return None
    return abs(math.log2(est / bpm))


def tempo_comparison(pairs: list[tuple[dict, dict]]) -> PairedCount:
    """Pairs with a stated bpm where A's estimate is nearer it (in octaves) vs where B's is; ties dropped."""
    errs = [(_tempo_error(a), _tempo_error(b)) for a, b in pairs]
    errs = [(ea, eb) for ea, eb in errs if ea is not None and eb is not None]
    a_only = sum(ea < eb for ea, eb in errs)
    b_only = sum(eb < ea for ea, eb in errs)
    return PairedCount(len(errs), a_only, b_only, sign_test_p(a_only, b_only))


def compare(a_runs: list[dict], b_runs: list[dict]) -> dict:
    """Family accuracy of each over the paired clips (pooled across seeds) and the two paired tests."""
    pairs = pair_runs(a_runs, b_runs)
    n = max(len(pairs), 1)
    acc = {"a": sum(a["predicted_family"] == a["family"] for a, _ in pairs) / n,
           "b": sum(b["predicted_family"] == b["family"] for _, b in pairs) / n}
    return {"pairs": len(pairs), "family_accuracy": {k: round(v, 4) for k, v in acc.items()},
            "family": family_comparison(pairs).as_dict(), "tempo_nearer": tempo_comparison(pairs).as_dict()}


# -- sound effects: `bench/eval_sfx.py` runs (clips generated from held-out captions, each heard by the probe) ----
def is_sfx_run(run: dict) -> bool:
    return "generated_clips" in run and "paraphrases" not in run


def pair_sfx_runs(a_runs: list[dict], b_runs: list[dict]) -> list[tuple[dict, dict]]:
    """Clip pairs of SFX runs with the same seed, by the held-out caption they were generated from."""
    pairs = []
    for a, b in _runs_by_seed(a_runs, b_runs):
        if not a.get("generated_clips") or not b.get("generated_clips"):
            raise ConfigError("an SFX evaluation without generated clips: run bench/eval_sfx.py --parts probe")
        cb = dict(_keyed(b["generated_clips"]))
        pairs += [(c, cb[key]) for key, c in _keyed(a["generated_clips"]) if key in cb]
    return pairs


def _keyed(clips: list[dict]):
    """((caption_of, n-th clip of that caption), clip): several seeds of one caption pair up in order."""
    seen: dict[str, int] = {}
    for c in clips:
        k = seen.get(c["caption_of"], 0)
        seen[c["caption_of"]] = k + 1
        yield (c["caption_of"], k), c


def compare_sfx(a_runs: list[dict], b_runs: list[dict]) -> dict:
    """Category accuracy of each over the paired clips and the sign test on clips right for one only."""
    pairs = pair_sfx_runs(a_runs, b_runs)
    n = max(len(pairs), 1)
    a_only = sum(a["predicted"] == a["category"] and b["predicted"] != b["category"] for a, b in pairs)
    b_only = sum(b["predicted"] == b["category"] and a["predicted"] != a["category"] for a, b in pairs)
    return {"pairs": len(pairs),
            "category_accuracy": {"a": round(sum(a["predicted"] == a["category"] for a, _ in pairs) / n, 4),
                                  "b": round(sum(b["predicted"] == b["category"] for _, b in pairs) / n, 4)},
            "category": PairedCount(len(pairs), a_only, b_only, sign_test_p(a_only, b_only)).as_dict()}
