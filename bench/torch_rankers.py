"""PyTorch references for `sodeep bench rankers`: torchsort's soft rank and diffsort's networks.

Written for this project (not copied). The Rust side starts this script once, with the same
thread count as itself, and sends one request per line:

    METHOD MODE BATCH N

METHOD is `torchsort-softrank`, `diffsort-oddeven` or `diffsort-bitonic`; MODE is `fwd`
(forward only) or `fwdbwd` (forward, then the backward of sum(w * ranks)). The script answers
with the seconds one call took, or `absent` when the library is not installed. Inputs are built
once per (METHOD, BATCH, N) and reused, so only the call itself is timed. `quit` ends it.

The first line printed is `ready torch <v> torchsort <v|absent> diffsort <v|absent>`.
Install the references with
    pip install torch
    pip install --no-build-isolation torchsort==0.1.10
    pip install diffsort==0.2.0
"""

import argparse
import sys
import time

import torch


def optional(name):
    try:
        module = __import__(name)
    except Exception:  # noqa: BLE001 - any import failure means "not installed" here
        return None, "absent"
    return module, getattr(module, "__version__", "installed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torchsort, ts_version = optional("torchsort")
    diffsort, ds_version = optional("diffsort")
    if diffsort is not None and ds_version == "installed":
        try:
            from importlib.metadata import version

            ds_version = version("diffsort")
        except Exception:  # noqa: BLE001
            pass
    if torchsort is not None and ts_version == "installed":
        try:
            from importlib.metadata import version

            ts_version = version("torchsort")
        except Exception:  # noqa: BLE001
            pass
    print(
        f"ready torch {torch.__version__} torchsort {ts_version} diffsort {ds_version}",
        flush=True,
    )
    cache = {}
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        method, mode, batch, n = parts[0], parts[1], int(parts[2]), int(parts[3])
        key = (method, batch, n)
        if key not in cache:
            gen = torch.Generator().manual_seed(0)
            x = torch.randn(batch, n, generator=gen)
            w = torch.randn(batch, n, generator=gen)
            if method == "torchsort-softrank":
                if torchsort is None:
                    cache[key] = None
                else:

                    def op(v):
                        return torchsort.soft_rank(
                            v, regularization="l2", regularization_strength=1.0
                        )

                    cache[key] = (op, x, w)
            elif method.startswith("diffsort-"):
                if diffsort is None:
                    cache[key] = None
                else:
                    kind = "odd_even" if method == "diffsort-oddeven" else "bitonic"
                    net = diffsort.DiffSortNet(
                        kind, n, steepness=10.0, distribution="cauchy"
                    )
                    positions = torch.arange(n, dtype=x.dtype)

                    def op(v, net=net, positions=positions):
                        # ranks from the relaxed permutation, as sodeep's diffsort ranker
                        _, perm = net(v)
                        return perm @ positions

                    cache[key] = (op, x, w)
            else:
                print(f"unknown method {method}", flush=True)
                continue
        entry = cache[key]
        if entry is None:
            print("absent", flush=True)
            continue
        op, x, w = entry
        if mode == "fwd":
            t0 = time.perf_counter()
            with torch.no_grad():
                op(x)
            dt = time.perf_counter() - t0
        else:
            xv = x.clone().requires_grad_(True)
            t0 = time.perf_counter()
            (op(xv) * w).sum().backward()
            dt = time.perf_counter() - t0
        print(f"{dt:.9f}", flush=True)


if __name__ == "__main__":
    main()
