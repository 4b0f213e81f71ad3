#!/usr/bin/env python3
"""PyTorch references of the sodeep sorters, timed one run at a time for `sodeep bench sorters`.

Written for this project (not copied): the same architectures, sizes and PyTorch weight layout
as crates/sodeep/src/sorter. Protocol: the Rust side writes a case name per line on stdin; this
script runs that case once and prints its wall time in seconds on one line. `quit` ends it.
The first line printed is `ready torch <version>` once the imports are done.

With `--memory-probe CASE` it instead builds that case, runs one step, prints the growth of the
peak resident set size during the step (bytes, from /proc/self/status) and exits.
"""
import argparse
import sys
import time

import torch
from torch import nn


class LstmSorter(nn.Module):
    def __init__(self, d, hidden, layers=2):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, layers, batch_first=True, bidirectional=True)
        self.conv1 = nn.Conv1d(d, d, 2 * hidden)

    def forward(self, x):
        h, _ = self.lstm(x.unsqueeze(2))
        return self.conv1(h).squeeze(2)


class GruSorter(nn.Module):
    def __init__(self, d, hidden=64, layers=3):
        super().__init__()
        self.rnn = nn.GRU(1, hidden, layers, batch_first=True, bidirectional=True)

    def forward(self, x):
        h, _ = self.rnn(torch.sigmoid(x / 2 + 1).unsqueeze(2))
        return torch.sigmoid(h.sum(2))


class CnnSorter(nn.Module):
    """8 dilated conv blocks (kernel 3) + BatchNorm + ReLU, residual middle blocks, last block
    with d channels, then a 1x1 conv head: the sodeep `cnn` design."""

    def __init__(self, d, channels=64):
        super().__init__()
        reach_unit = 2 * ((1 << 7) - 1) + 2
        s = max(1, -(-2 * max(d - 1, 0) // reach_unit))
        self.dil = [s << k for k in range(7)] + [1]
        convs, bns = [], []
        for k, dl in enumerate(self.dil):
            cin = 1 if k == 0 else channels
            cout = d if k == 7 else channels
            convs.append(nn.Conv1d(cin, cout, 3, dilation=dl))
            bns.append(nn.BatchNorm1d(cout))
        self.convs, self.bns = nn.ModuleList(convs), nn.ModuleList(bns)
        self.head = nn.Conv1d(d, 1, 1)

    def forward(self, x):
        h = x.unsqueeze(1)
        for dl, conv, bn in zip(self.dil, self.convs, self.bns):
            y = torch.relu(bn(conv(nn.functional.pad(h, (dl, dl)))))
            h = y + h if y.shape == h.shape else y
        return self.head(h).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--len", type=int, default=100)
    ap.add_argument("--memory-probe", default=None)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d, b = a.len, a.batch
    dev = torch.device(a.device)
    x = torch.randn(b, d).to(dev)
    target = torch.rand(b, d).to(dev)
    models = {}

    def model(case):
        if case not in models:
            m = {
                "lstm-h128-train": lambda: LstmSorter(d, 128),
                "lstm-h128-forward": lambda: LstmSorter(d, 128),
                "lstm-h128-loss": lambda: LstmSorter(d, 128),
                "lstm-h512-train": lambda: LstmSorter(d, 512),
                "gru-train": lambda: GruSorter(d),
                "cnn-train": lambda: CnnSorter(d),
            }[case]().to(dev)
            opt = torch.optim.Adam(m.parameters(), lr=1e-3)
            if case == "lstm-h128-loss":
                for p in m.parameters():
                    p.requires_grad_(False)
            models[case] = (m, opt)
        return models[case]

    def run(case):
        m, opt = model(case)
        if case.endswith("-train"):
            m.train()
            opt.zero_grad()
            loss = (m(x) - target).abs().mean()
            loss.backward()
            opt.step()
        elif case.endswith("-forward"):
            m.eval()
            with torch.no_grad():
                m(x)
        else:  # frozen sorter inside a loss: forward and the gradient for the input only
            m.eval()
            xi = x.clone().requires_grad_(True)
            loss = (m(xi) - target).pow(2).mean()
            loss.backward()

    if a.memory_probe:
        model(a.memory_probe)
        before = status_kb("VmRSS")
        run(a.memory_probe)
        print((status_kb("VmHWM") - before) * 1024, flush=True)
        return

    print(f"ready torch {torch.__version__}", flush=True)
    for line in sys.stdin:
        case = line.strip()
        if case == "quit":
            break
        model(case)
        t0 = time.perf_counter()
        run(case)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        print(f"{time.perf_counter() - t0:.6f}", flush=True)


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


if __name__ == "__main__":
    main()
