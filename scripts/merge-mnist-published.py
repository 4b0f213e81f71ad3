#!/usr/bin/env python3
"""Merges the `mnist` cells of several published-protocol `bench rankers` results.json files, run at
the same cap and settings, into one file of the bench's own layout: `mnist` holds every ranker and n,
`mnist_settings` the shared settings with the union of n, and `merged_from` the files it came from.

Usage: scripts/merge-mnist-published.py OUT.json RESULTS.json...

Refused, with the reason: a file that is not published-protocol, settings that differ (other than the
list of n and the thread count), a (ranker, n) cell found in two files, or an OUT that already exists
(it is never replaced; remove it first to rebuild it).
"""
import json
import os
import sys

IGNORED = {"ns", "threads"}


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out, paths = argv[1], argv[2:]
    if os.path.exists(out):
        sys.exit(f"{out} exists; it is not replaced (remove it to rebuild it)")
    merged, settings, origin = None, None, {}
    for path in paths:
        r = json.load(open(path))
        s = r.get("mnist_settings") or {}
        if s.get("protocol") != "published":
            sys.exit(f"{path}: not a published-protocol results.json")
        shared = {k: v for k, v in s.items() if k not in IGNORED}
        if settings is None:
            # the first file lends its layout; its cells are added below like every other file's
            merged, settings, ns = dict(r, mnist={}), shared, set()
        elif shared != settings:
            diff = sorted(k for k in set(shared) | set(settings) if shared.get(k) != settings.get(k))
            sys.exit(f"{path}: settings differ from {paths[0]} in {', '.join(diff)}")
        for ranker, by_n in r.get("mnist", {}).items():
            for n, cell in by_n.items():
                if (ranker, n) in origin:
                    sys.exit(f"{ranker} at n = {n} is in both {origin[ranker, n]} and {path}")
                origin[ranker, n] = path
                merged["mnist"].setdefault(ranker, {})[n] = cell
                ns.add(int(n))
    merged["mnist_settings"] = dict(settings, ns=sorted(ns))
    merged["merged_from"] = {f"{r} n={n}": p for (r, n), p in sorted(origin.items())}
    with open(out, "w") as f:
        json.dump(merged, f, indent=2)
        f.write("\n")
    print(f"{out}: {len(origin)} cells from {len(paths)} files")


if __name__ == "__main__":
    main(sys.argv)
