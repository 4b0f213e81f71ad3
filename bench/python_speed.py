"""sodeep.torch against torchsort (soft rank) and diffsort (sorting networks), from Python.

Usage: python bench/python_speed.py [--threads N] [--reps R] [--json FILE]

In one process, on the same threads, at batch 256 and n = 100, 1,000 and 10,000: forward, and
forward + backward, each timed alternately (ours, theirs, ours, ...) so that drift on a shared
machine hits both, in blocks of calls that last about 20 ms; the median of R blocks is reported, and the ratio is theirs / ours (above 1:
sodeep is faster). Every Python overhead is included: the timed call is the public function on a
torch tensor. torchsort and diffsort are references for this benchmark only (pip install
torchsort diffsort); a missing one is reported and skipped.
"""
import argparse
import json
import statistics
import sys
import time

import torch

import sodeep
import sodeep.torch as st

BATCH = 256
SIZES = [100, 1000, 10000]


def timed(fn, backward):
    """A closure that runs ``calls`` calls of ``fn`` (and the backward pass) and returns the
    seconds per call."""
    def run(x, calls=1):
        xs = [x.detach().requires_grad_(backward) for _ in range(calls)]
        start = time.perf_counter()
        for xi in xs:
            y = fn(xi)
            if backward:
                y.sum().backward()
        return (time.perf_counter() - start) / calls
    return run


def race(ours, theirs, x, reps):
    """Median seconds per call of each, measured alternately after a warm-up call each. Fast
    calls are timed in blocks of at least about 20 ms, so timer and scheduler noise stays
    small beside them."""
    single = max(ours(x), theirs(x), 1e-6)
    calls = max(1, int(0.02 / single))
    a, b = [], []
    for _ in range(reps):
        a.append(ours(x, calls))
        b.append(theirs(x, calls))
    return statistics.median(a), statistics.median(b)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--json", help="also write the rows to this file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sodeep.set_num_threads(a.threads)
    torch.manual_seed(0)
    rows = []

    def report(name, n, backward, ours_s, theirs_s):
        row = {"case": name, "n": n, "batch": BATCH, "pass": "fwd+bwd" if backward else "fwd",
               "sodeep_ms": ours_s * 1e3, "reference_ms": theirs_s * 1e3,
               "speedup": theirs_s / ours_s}
        rows.append(row)
        print(f"{name:<28} n={n:<6} {row['pass']:<8} sodeep {row['sodeep_ms']:9.2f} ms   "
              f"reference {row['reference_ms']:9.2f} ms   speedup ×{row['speedup']:.2f}",
              flush=True)

    try:
        import torchsort
    except ImportError as e:
        print(f"torchsort not importable ({e}): soft rank rows skipped", file=sys.stderr)
        torchsort = None
    if torchsort is not None:
        for n in SIZES:
            x = torch.randn(BATCH, n)
            for backward in (False, True):
                ours = timed(lambda t: st.soft_rank(t, regularization_strength=0.1), backward)
                theirs = timed(lambda t: torchsort.soft_rank(t, regularization_strength=0.1),
                               backward)
                report("soft_rank vs torchsort", n, backward, *race(ours, theirs, x, a.reps))

    try:
        from diffsort import DiffSortNet
    except ImportError as e:
        print(f"diffsort not importable ({e}): sorting-network rows skipped", file=sys.stderr)
        DiffSortNet = None
    if DiffSortNet is not None:
        # diffsort multiplies an n × n permutation per layer and row (about 55 layers of
        # 256 × 1024² floats at n = 1,000): only n = 100 runs in reasonable time and memory
        for n in [s for s in SIZES if s <= 100]:
            x = torch.randn(BATCH, n)
            for network in ("bitonic", "odd_even"):
                if network == "bitonic" and n & (n - 1):
                    size = 1 << (n - 1).bit_length()  # bitonic needs a power of two: pad
                else:
                    size = n
                net = DiffSortNet(network, size, steepness=10.0, device="cpu")
                spec = f"diffsort-{'bitonic' if network == 'bitonic' else 'oddeven'}:steepness=10"

                def theirs_fn(t, net=net, size=size):
                    if size != t.shape[1]:
                        t = torch.cat([t, torch.full((t.shape[0], size - t.shape[1]), 1e9)], 1)
                    return net(t)[0]

                for backward in (False, True):
                    ours = timed(lambda t, spec=spec: st.sort(t, ranker=spec), backward)
                    report(f"diffsort {network} sort", n, backward,
                           *race(ours, timed(theirs_fn, backward), x, max(3, a.reps // 2)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": a.threads, "torch": torch.__version__, "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
