"""Soft rank on a GPU: torchsort's CUDA kernel against ``sodeep.torch.soft_rank`` (torch ops
with the parallel Triton isotonic solver), forward + backward, float32.

Written for this project. For each (batch, n) — 256 × 100, 256 × 1000, 256 × 10000 and
16 × 100000 by default — it times ``y = soft_rank(x, ε)`` then the backward of ``sum(w·y)``
(medians over ``--reps`` calls after ``--warmup`` calls, CUDA events around each call), the
isotonic op alone, and torchsort's ``soft_rank`` when ``import torchsort`` works (its rows are
skipped with a message otherwise). It prints a markdown table and writes the figures as JSON to
``--out``. Also the largest difference between the two libraries' outputs, as a check that
they compute the same thing.

    python bench/gpu_softrank.py --out results/gpu_softrank.json
    python bench/gpu_softrank.py --device cpu --sizes 4x100,4x1000 --reps 3   # smoke test

On ``--device cpu`` ``sodeep`` is the Rust core and ``sodeep (torch ops)`` the device code
path run on the CPU (``backend("torch")``).
"""
import argparse
import json
import statistics
import sys
import time

import torch

import sodeep.torch as st
from sodeep._torch.isotonic import isotonic


def optional_torchsort():
    try:
        import torchsort
    except Exception as e:  # noqa: BLE001 - any import failure means "not available" here
        return None, f"{type(e).__name__}: {e}"
    try:
        from importlib.metadata import version

        return torchsort, version("torchsort")
    except Exception:  # noqa: BLE001
        return torchsort, "installed"


def timer(device):
    """``time(fn) -> seconds`` of one call of ``fn``, on the device's clock."""
    if device.type == "cuda":
        def time_cuda(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        return time_cuda

    def time_host(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    return time_host


def median_seconds(fn, device, warmup, reps):
    clock = timer(device)
    for _ in range(warmup):
        clock(fn)
    return statistics.median(clock(fn) for _ in range(reps))


def fwd_bwd(soft_rank, x, w):
    """One forward and backward pass of ``sum(w · soft_rank(x))``."""
    def step():
        x.grad = None
        (soft_rank(x) * w).sum().backward()
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--sizes", default="256x100,256x1000,256x10000,16x100000",
                    help="comma-separated BATCHxN")
    ap.add_argument("--eps", type=float, default=1.0, help="regularization strength ε")
    ap.add_argument("--reg", default="l2", choices=["l2", "kl"])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--out", required=True, help="JSON file to write")
    args = ap.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --device cpu for a smoke test")
    torchsort, ts_version = optional_torchsort()
    if torchsort is None:
        print(f"torchsort rows skipped: import torchsort failed ({ts_version})")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    try:
        import triton

        triton_version = triton.__version__
    except Exception:  # noqa: BLE001
        triton_version = None

    methods = [("sodeep", lambda v: st.soft_rank(v, args.eps, args.reg))]
    if device.type == "cpu":
        def torch_ops(v):
            with st.backend("torch"):
                return st.soft_rank(v, args.eps, args.reg)
        methods.append(("sodeep (torch ops)", torch_ops))
    if torchsort is not None:
        methods.append(("torchsort", lambda v: torchsort.soft_rank(
            v, regularization=args.reg, regularization_strength=args.eps)))

    rows = []
    for size in args.sizes.split(","):
        batch, n = (int(v) for v in size.lower().split("x"))
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(batch, n, generator=gen).to(device).requires_grad_()
        w = torch.randn(batch, n, generator=gen).to(device)
        outputs = {}
        for method, fn in methods:
            seconds = median_seconds(fwd_bwd(fn, x, w), device, args.warmup, args.reps)
            with torch.no_grad():
                outputs[method] = fn(x)
            rows.append(dict(batch=batch, n=n, method=method, op="forward+backward",
                             median_ms=seconds * 1e3))
        # the isotonic step alone, on what soft rank gives it (sorted scores against ρ)
        s = (x.detach().double().sort(-1, descending=True).values / args.eps).contiguous()
        rho = torch.arange(n, 0, -1, device=device, dtype=torch.float64).expand(batch, n)
        rho = (rho if args.reg == "l2" else rho.log()).contiguous()
        seconds = median_seconds(lambda: isotonic(s, rho, args.reg), device, args.warmup,
                                 args.reps)
        rows.append(dict(batch=batch, n=n, method="sodeep isotonic op", op="forward",
                         median_ms=seconds * 1e3))
        if "torchsort" in outputs:
            diff = (outputs["sodeep"].double() - outputs["torchsort"].double()).abs().max()
            for r in rows[-1 - len(methods):-1]:
                r["max_abs_diff_vs_torchsort"] = float(diff)

    print(f"\nsoft rank, {args.reg}, ε = {args.eps}, float32, {name}; torch {torch.__version__}, "
          f"triton {triton_version}, torchsort {ts_version if torchsort else 'absent'}\n")
    print("| batch | n | method | op | median ms |")
    print("|---:|---:|---|---|---:|")
    for r in rows:
        print(f"| {r['batch']} | {r['n']} | {r['method']} | {r['op']} | {r['median_ms']:.3f} |")
    diffs = {(r["batch"], r["n"]): r["max_abs_diff_vs_torchsort"] for r in rows
             if "max_abs_diff_vs_torchsort" in r}
    for (batch, n), d in diffs.items():
        print(f"{batch}x{n}: max |sodeep - torchsort| = {d:.3g}")
    with open(args.out, "w") as f:
        json.dump(dict(device=name, torch=torch.__version__, triton=triton_version,
                       torchsort=ts_version if torchsort else None, eps=args.eps,
                       regularization=args.reg, dtype="float32", warmup=args.warmup,
                       reps=args.reps, rows=rows), f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
