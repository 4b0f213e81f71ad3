#!/usr/bin/env python3
"""Adds runs of bench/mnist_published.py (one JSON per n and seed) to a `bench rankers` results.json
as the `reference:neuralsort` cells of its `mnist` section, in the layout the bench itself writes
when it runs the reference (`--python`): mean and sample sd over seeds, per-seed figures, curves,
chosen steps and time splits.

Usage: scripts/merge-mnist-reference.py RESULTS.json REFERENCE.json...
"""
import json
import statistics
import sys
from collections import defaultdict


def cell(runs):
    exact = [r["exact_match"] for r in runs]
    elem = [r["elementwise"] for r in runs]
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    return {
        "exact_match": statistics.fmean(exact),
        "elementwise": statistics.fmean(elem),
        "exact_match_sd": sd(exact),
        "elementwise_sd": sd(elem),
        "exact_match_per_seed": exact,
        "elementwise_per_seed": elem,
        "final_loss_per_seed": [r["curve"][-1]["train_loss"] for r in runs],
        "train_seconds_per_seed": [r["train_seconds"] for r in runs],
        "eval_seconds_per_seed": [r["eval_seconds"] for r in runs],
        "curve_per_seed": [r["curve"] for r in runs],
        "best_step_per_seed": [r["best_step"] for r in runs],
        "time_split_per_seed": [r["time_split"] for r in runs],
    }


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    results = json.load(open(argv[1]))
    by_n = defaultdict(list)
    for path in argv[2:]:
        r = json.load(open(path))
        if r.get("protocol") != "published":
            sys.exit(f"{path}: not a published-protocol run")
        by_n[r["n"]].append(r)
    name = f"reference:{by_n[next(iter(by_n))][0]['ranker']}"
    results.setdefault("mnist", {})[name] = {
        str(n): cell(sorted(runs, key=lambda r: r["seed"])) for n, runs in sorted(by_n.items())
    }
    with open(argv[1], "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(f"{argv[1]}: {name} at n = {sorted(by_n)} ({sum(map(len, by_n.values()))} runs)")


if __name__ == "__main__":
    main(sys.argv)
