#!/usr/bin/env python3
"""Learning curves of training runs side by side: the best validation L1 reached by each wall-clock
budget, and the time to reach L1 0.0125. Reads the `curve` of each run's ckpt/sorter.json.
Usage: budget-curves.py RUN_DIR..."""
import json
import sys

TARGET = 0.0125
runs = sys.argv[1:]
curves = {}
for r in runs:
    with open(f"{r}/ckpt/sorter.json") as f:
        curves[r] = json.load(f)["training"]["curve"]
budgets = [10, 30, 60, 120, 300, 600, 900, 1800, 3600]
longest = max(c[-1][1] for c in curves.values())
budgets = [b for b in budgets if b <= longest * 1.01]
if not budgets or longest > budgets[-1] * 1.05:
    budgets.append(round(longest))
print("| wall time (s) | " + " | ".join(r.rstrip("/").split("/")[-1] for r in runs) + " |")
print("|---" * (len(runs) + 1) + "|")
for b in budgets:
    cells = []
    for r in runs:
        pts = [p for p in curves[r] if p[1] <= b]
        cells.append(f"{min(p[2] for p in pts):.5f} (step {max(p[0] for p in pts)})" if pts else "–")
    print(f"| {b} | " + " | ".join(cells) + " |")
cells = []
for r in runs:
    hit = next((p for p in curves[r] if p[2] <= TARGET), None)
    cells.append(f"{hit[1]:.1f} s (step {hit[0]})" if hit else f"not reached in {curves[r][-1][1]:.0f} s")
print(f"| to reach {TARGET} | " + " | ".join(cells) + " |")
