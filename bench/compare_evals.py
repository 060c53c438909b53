"""Is candidate B heard as its prompt more often than A? Paired tests over `bench/eval_default.py --paraphrases`
runs, or over `bench/eval_sfx.py --parts probe` runs (sound effects; found from the JSON)
(`tonecraft.eval.compare`): runs with the same --seed generate the same prompts, so their clips pair up.

    .venv/bin/python bench/compare_evals.py --a shipped_s0.json shipped_s1.json --b cand_s0.json cand_s1.json

Prints, over the paired clips: each one's family (SFX: category) accuracy, the clips heard as asked by one only
(two-sided sign test p), and (music) the clips with a stated bpm whose estimate is nearer it for one only.
"""
from __future__ import annotations

import argparse
import json
import sys

from tonecraft.errors import ConfigError
from tonecraft.eval.compare import compare, compare_sfx, is_sfx_run


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", nargs="+", required=True, help="evaluation JSONs of candidate A (one per seed)")
    p.add_argument("--b", nargs="+", required=True, help="evaluation JSONs of candidate B, the same seeds")
    p.add_argument("--json", default=None, help="also write the result here")
    return p.parse_args(argv)


def _load(paths: list[str]) -> list[dict]:
    runs = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                runs.append(json.load(f))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: not a readable evaluation JSON ({e})") from None
    return runs


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        runs_a, runs_b = _load(a.a), _load(a.b)
        sfx = all(map(is_sfx_run, runs_a + runs_b))
        res = (compare_sfx if sfx else compare)(runs_a, runs_b)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    (_print_sfx if sfx else _print_music)(res)
    if a.json:
        from tonecraft.eval.report import write_json

        write_json(a.json, res)
    return 0


def _print_sfx(res: dict) -> None:
    cat = res["category"]
    print(f"{res['pairs']} paired clips; category accuracy A {res['category_accuracy']['a']:.3f}, "
          f"B {res['category_accuracy']['b']:.3f}")
    print(f"heard as the asked category by A only {cat['a_only']}, by B only {cat['b_only']} (sign test p = "
          f"{cat['p_value']:.3f})")


def _print_music(res: dict) -> None:
    fam, tempo = res["family"], res["tempo_nearer"]
    print(f"{res['pairs']} paired clips; family accuracy A {res['family_accuracy']['a']:.3f}, "
          f"B {res['family_accuracy']['b']:.3f}")
    print(f"heard as the asked family by A only {fam['a_only']}, by B only {fam['b_only']} (sign test p = "
          f"{fam['p_value']:.3f})")
    print(f"estimate nearer the stated bpm: A {tempo['a_only']}, B {tempo['b_only']} of {tempo['n']} "
          f"(p = {tempo['p_value']:.3f})")


if __name__ == "__main__":
    sys.exit(main())
