#!/usr/bin/env python3
"""PyTorch's single-threaded GEMM rate on the shapes of examples/gemm_peak.rs (GFLOP/s, best of N)."""
import time

import torch

torch.set_num_threads(1)
for what, m, n, k, reps in [
    ("square 1024", 1024, 1024, 1024, 5),
    ("square 2048", 2048, 2048, 2048, 3),
    ("LSTM input projection (25600 x 512 x 256)", 25600, 512, 256, 3),
    ("LSTM recurrent step (256 x 512 x 128)", 256, 512, 128, 50),
    ("LSTM backward step (256 x 128 x 512)", 256, 128, 512, 50),
]:
    a, b = torch.full((m, k), 0.5), torch.full((k, n), 0.25)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    print(f"{what}: {2 * m * n * k / best / 1e9:.1f} GFLOP/s (best of {reps}, one thread)")
