#!/usr/bin/env python3
"""PyTorch's GEMM rate (torch.mm, one thread unless SODEEP_GEMM_THREADS says otherwise) on the
products of bench/gemm_shapes.txt, the shapes examples/gemm_peak.rs times (GFLOP/s, best of N)."""
import os
import time

import torch

threads = int(os.environ.get("SODEEP_GEMM_THREADS", "1"))
torch.set_num_threads(threads)
here = os.path.dirname(os.path.abspath(__file__))
for line in open(os.path.join(here, "gemm_shapes.txt")):
    if not line.strip() or line.startswith("#"):
        continue
    what, dims = line.split(":", 1)
    m, n, k, ta, tb, reps = (int(v) for v in dims.split())
    a = torch.full((k, m), 0.5).t() if ta else torch.full((m, k), 0.5)
    b = torch.full((n, k), 0.25).t() if tb else torch.full((k, n), 0.25)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    print(f"{what.strip()}: {2 * m * n * k / best / 1e9:.1f} GFLOP/s (best of {reps}, {threads} thread(s))")
