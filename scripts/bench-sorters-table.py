#!/usr/bin/env python3
"""Prints the table of `sodeep bench sorters --json` results of one host in docs/speed.md, with the
issue's targets: the last file in full, and the ratios (and peak memory) of any earlier files beside
it, for example the same cases before a change.

    python3 scripts/bench-sorters-table.py [BEFORE.json ...] NOW.json
"""
import json
import sys

TARGETS = {
    "lstm-h128-train": 0.67,
    "lstm-h128-forward": 0.8,
    "lstm-h512-train": 0.8,
    "gru-train": 0.67,
    "cnn-train": 1.0,
    "lstm-h128-loss": 0.5,
}

runs = [json.load(open(p)) for p in sys.argv[1:]]
if not runs:
    sys.exit(__doc__)
machine = {json.dumps({k: v for k, v in r["host"].items() if k not in ("simd", "gemm")}, sort_keys=True) for r in runs}
if len(machine) != 1:
    sys.exit("these files come from different hosts; their figures are not comparable")
now, before = runs[-1], runs[:-1]
h = now["host"]
print(f"Host: {h['cpu_model']}, {h['cores']} cores, {h['arch']}; CPU flags: {', '.join(h['flags'])}. "
      f"PyTorch {now['torch']}; batch {now['batch']}, d = {now['d']}, {now['threads']} threads, "
      f"median of {now['reps']} alternating rounds.\n")
label = lambda r: f"{r.get('label', 'now')}: kernels {r['host']['simd']}, gemm {r['host']['gemm']}"
head, rule = "| case | target |", "|---|---|"
for r in before:
    head += f" ratio, {label(r)} |"
    rule += "---|"
head += f" Rust s | PyTorch s | ratio, {label(now)} | |"
rule += "---|---|---|---|"
mem = now.get("memory", {})
if mem:
    head += " peak MiB" + "".join(f" ({r.get('label', '')})" for r in before) + " | peak MiB now | PyTorch MiB |"
    rule += "---|---|---|"
print(head)
print(rule)
for case, target in TARGETS.items():
    if case not in now["cases"]:
        continue
    row = f"| `{case}` | ≤ {target} |"
    for r in before:
        c = r["cases"].get(case)
        row += f" {c['ratio']:.2f} |" if c and c["ratio"] is not None else " - |"
    c = now["cases"][case]
    t = f"{c['torch_s']:.4f}" if c["torch_s"] is not None else "-"
    if c["ratio"] is None:
        row += f" {c['rust_s']:.4f} | {t} | - | |"
    else:
        row += f" {c['rust_s']:.4f} | {t} | **{c['ratio']:.2f}** | {'met' if c['ratio'] <= target else 'missed'} |"
    if mem:
        prev = " / ".join(f"{r['memory'][case]['rust_mb']:.0f}" for r in before if case in r.get("memory", {}))
        m = mem.get(case)
        tm = f"{m['torch_mb']:.0f}" if m and m["torch_mb"] is not None else "-"
        row += f" {prev or '-'} | {m['rust_mb']:.0f} | {tm} |" if m else " - | - | - |"
    print(row)
