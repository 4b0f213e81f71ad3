#!/usr/bin/env python3
"""Learning curve of a `sodeep train-sorter` run from its progress log (stdout/stderr captured to a file),
and a power-law projection of the steps needed to reach a target validation L1.

Usage: scripts/learning-curve.py LOG BATCH [TARGET=0.0033]

Wall time is rebuilt from the logged rates: each progress line gives the mean vectors/s since its process
started, so the time between two logged steps is (steps between them) x BATCH / rate. The projection fits
log(val L1) = a + b log(step) to the validation points from step 1,000 on, a rough extrapolation: the
learning-rate schedule and the noise of a 1,000-vector validation set both bend the real curve.
"""
import math
import re
import sys

log, batch = sys.argv[1], int(sys.argv[2])
target = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0033
text = open(log, errors="replace").read().replace("\r", "\n")
pat = re.compile(r"step (\d+) loss [\d.]+ val L1 ([\d.]+) best [\d.]+ lr ([\d.e+-]+) (\d+) vec/s")
points = {}
wall, last_step = 0.0, 0
for m in pat.finditer(text):
    step, val, lr, rate = int(m[1]), float(m[2]), float(m[3]), float(m[4])
    if step <= last_step:  # a restart repeats the resume step
        last_step = step
        continue
    wall += (step - last_step) * batch / max(rate, 1e-9)
    last_step = step
    if step % 200 == 0:
        points[step] = (wall, val, lr)
print("| step | wall time (s) | val L1 | learning rate |")
print("|---|---|---|---|")
for step in sorted(points):
    if step % 400 == 0 or step == max(points):
        w, v, lr = points[step]
        print(f"| {step} | {w:.0f} | {v:.5f} | {lr:.2e} |")
fit = [(math.log(s), math.log(v)) for s, (_, v, _) in points.items() if s >= 1000]
if len(fit) >= 3:
    n = len(fit)
    mx, my = sum(x for x, _ in fit) / n, sum(y for _, y in fit) / n
    b = sum((x - mx) * (y - my) for x, y in fit) / sum((x - mx) ** 2 for x, _ in fit)
    a = my - b * mx
    last = max(points)
    sec_per_step = points[last][0] / last
    if b < 0:
        steps = math.exp((math.log(target) - a) / b)
        print(f"\nfit: val L1 = {math.exp(a):.4f} * step^{b:.3f} (steps >= 1000, {n} points); "
              f"reaches {target} at about {steps:,.0f} steps, {steps - last:,.0f} more, "
              f"about {(steps - last) * sec_per_step / 3600:,.0f} h at this run's {sec_per_step:.2f} s/step")
    else:
        print(f"\nfit exponent {b:.3f} >= 0: no projection")
