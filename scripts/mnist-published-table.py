#!/usr/bin/env python3
"""One markdown table of every published-protocol MNIST cell in the given `bench rankers` results.json
files: for each (n, ranker, cap) the mean ± sd over seeds of exact match and element-wise accuracy, the
step each seed's validation chose, and the training seconds per job, with the folder it came from.

Usage: scripts/mnist-published-table.py [--pivot CAP] RESULTS.json...
       (e.g. results/mnist-published/*/results.json)

--pivot CAP prints instead one row per ranker and one column per n, "exact / element-wise" (means over
seeds) of the runs at that cap, under NeuralSort's published row (Grover et al. 2019, Table 1).

A file whose `mnist_settings.protocol` is not "published" is an error, so quick-protocol figures never
land in this table.
"""
import json
import os
import sys


def fmt(mean, sd):
    return f"{mean:.3f} ± {sd:.3f}"


def rows(path, root):
    results = json.load(open(path))
    settings = results.get("mnist_settings") or {}
    if settings.get("protocol") != "published":
        sys.exit(f"{path}: not a published-protocol results.json (mnist_settings.protocol is "
                 f"{settings.get('protocol')!r})")
    folder = os.path.relpath(os.path.dirname(os.path.abspath(path)), root)
    for ranker, by_n in results.get("mnist", {}).items():
        for n, cell in by_n.items():
            seeds = len(cell["exact_match_per_seed"])
            train = cell.get("train_seconds_per_seed") or []
            steps = cell.get("best_step_per_seed") or []
            yield {
                "n": int(n),
                "ranker": ranker,
                "cap": settings["steps"],
                "seeds": seeds,
                "exact": fmt(cell["exact_match"], cell["exact_match_sd"]),
                "exact_mean": cell["exact_match"],
                "elem_mean": cell["elementwise"],
                "elem": fmt(cell["elementwise"], cell["elementwise_sd"]),
                "steps": ", ".join(str(s) for s in steps) or "–",
                "train": f"{min(train):,.0f}–{max(train):,.0f}" if train else "–",
                "folder": folder,
            }


# NeuralSort, deterministic, Grover et al. (ICLR 2019) Table 1: exact match; element-wise accuracy at
# n = 3 and 5 only (the figures this project has checked).
PUBLISHED = {3: "0.930 / 0.951", 5: "0.837 / 0.927", 7: "0.738 / –", 9: "0.649 / –", 15: "0.386 / –"}


def pivot(table, cap):
    table = [r for r in table if r["cap"] == cap]
    ns = sorted({r["n"] for r in table} | set(PUBLISHED))
    print("| ranker | " + " | ".join(f"n = {n}" for n in ns) + " |")
    print("|---|" + "---|" * len(ns))
    print("| NeuralSort, published | " + " | ".join(PUBLISHED.get(n, "–") for n in ns) + " |")
    rankers = sorted({r["ranker"] for r in table}, key=lambda k: (k.startswith("reference:"), k))
    for name in rankers:
        cells = []
        for n in ns:
            hit = [r for r in table if r["ranker"] == name and r["n"] == n]
            if len(hit) > 1:
                sys.exit(f"{name} at n = {n}, cap {cap}: in {len(hit)} files ({[h['folder'] for h in hit]})")
            cells.append(f"{hit[0]['exact_mean']:.3f} / {hit[0]['elem_mean']:.3f}" if hit else "not run")
        print(f"| `{name}` | " + " | ".join(cells) + " |")


def main(argv):
    cap = None
    if len(argv) > 2 and argv[1] == "--pivot":
        cap, argv = int(argv[2]), argv[:1] + argv[3:]
    if len(argv) < 2:
        sys.exit(__doc__)
    # Folders are named relative to the deepest folder that holds every file given.
    root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in argv[1:]])
    if len(argv) == 2:
        root = os.path.dirname(root)
    table = sorted((r for path in argv[1:] for r in rows(path, root)),
                   key=lambda r: (r["n"], r["cap"], r["ranker"].startswith("reference:"), r["ranker"]))
    if cap is not None:
        return pivot(table, cap)
    print("| n | ranker | cap (steps) | seeds | exact match | element-wise | chosen step per seed "
          "| train s per job | folder |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r['n']} | `{r['ranker']}` | {r['cap']} | {r['seeds']} | {r['exact']} | {r['elem']} "
              f"| {r['steps']} | {r['train']} | `{r['folder']}/` |")


if __name__ == "__main__":
    main(sys.argv)
