#!/usr/bin/env python3
"""Prints the README's table of `sodeep bench sorters --json` results: one or more JSON files of the
same host (for example before and after a change), with the issue's targets.

    python3 scripts/bench-sorters-table.py results/bench-sorters/intel-xeon-avx512.json [MORE.json]
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
ORDER = list(TARGETS)

runs = [json.load(open(p)) for p in sys.argv[1:]]
if not runs:
    sys.exit(__doc__)
hosts = {json.dumps({k: v for k, v in r["host"].items() if k not in ("simd", "gemm")}, sort_keys=True) for r in runs}
if len(hosts) != 1:
    sys.exit("these files come from different hosts; their figures are not comparable")
h = runs[-1]["host"]
print(f"Host: {h['cpu_model']}, {h['cores']} cores, {h['arch']}; flags: {' '.join(h['flags'])}.")
print(f"PyTorch: {runs[-1]['torch']}; batch {runs[-1]['batch']}, d = {runs[-1]['d']}, "
      f"{runs[-1]['threads']} threads, median of {runs[-1]['reps']}.\n")
head = "| case | target |"
rule = "|---|---|"
for r in runs:
    tag = f"{r.get('label', '')} (kernels {r['host']['simd']}, gemm {r['host']['gemm']})".strip()
    head += f" Rust s | PyTorch s | ratio {tag} |"
    rule += "---|---|---|"
mem = runs[-1].get("memory", {})
if mem:
    head += " peak MiB Rust | PyTorch | ratio |"
    rule += "---|---|---|"
print(head)
print(rule)
for case in ORDER:
    if not all(case in r["cases"] for r in runs):
        continue
    row = f"| `{case}` | ≤ {TARGETS[case]} |"
    for r in runs:
        c = r["cases"][case]
        ratio = c["ratio"]
        met = "met" if ratio is not None and ratio <= TARGETS[case] else "missed"
        t = f"{c['torch_s']:.4f}" if c["torch_s"] is not None else "-"
        rs = f"**{ratio:.2f}** {met}" if ratio is not None else "-"
        row += f" {c['rust_s']:.4f} | {t} | {rs} |"
    if mem and case in mem:
        m = mem[case]
        tm = f"{m['torch_mb']:.0f}" if m["torch_mb"] is not None else "-"
        rm = f"{m['ratio']:.2f}" if m["ratio"] is not None else "-"
        row += f" {m['rust_mb']:.0f} | {tm} | {rm} |"
    print(row)
