"""The learned pairwise sorter (the core's sorter/pairwise.rs, computed as its fused CPU op
kernels/pairwise.rs does): for a standardised row ``z`` of length ``n``,

    r_i = (1 + Σ_{j>i} f(z_j − z_i) + Σ_{j<i} (1 − f(z_i − z_j))) / n,
    f(t) = Σ_k a_k σ(λ_k t),   λ_k = e^u_k / (1 + e^u_k / Λ),   u_k = s_k + (1 + γ) ln n,
    a = softmax(m),

with ``K`` comparators (log-sharpness ``s``, mixing logits ``m``), the length exponent ``γ``
and the sharpness bound ``Λ`` (the card's ``lambda``; absent: unbounded). As in the kernel,
each pair is compared once, ``f`` of the pair ``i < j`` serving both ranks (``f(−t) = 1 − f(t)``),
and ``λ`` and ``a`` are derived in float64 from the float32 weights (``e^u`` capped at the
largest float32) and rounded to float32, on the device. The rest is float32.

>>> import torch
>>> from sodeep._torch.sorters.pairwise import Pairwise
>>> zero = torch.zeros(1)
>>> net = Pairwise({"log_sharpness": zero, "mix": zero, "len_exponent": zero}, float("inf"))
>>> r = net(torch.tensor([[0.5, -0.5]]))  # λ = n = 2 on z = (1, −1)
>>> s = torch.sigmoid(torch.tensor(-4.0))
>>> torch.allclose(r, torch.stack([(1 + s) / 2, (2 - s) / 2]).unsqueeze(0))
True
"""
import math

import torch

from .fp32 import wide_dtype
from .standardize import standardize_rows

_F32_MAX = float(torch.finfo(torch.float32).max)


class Pairwise(torch.nn.Module):
    """The pairwise comparison layer on standardised rows; ``weights`` holds
    ``log_sharpness``, ``mix`` (``K`` each) and ``len_exponent`` (1) on the device."""

    def __init__(self, weights, bound):
        super().__init__()
        self.s, self.m, self.gamma = (
            weights["log_sharpness"], weights["mix"], weights["len_exponent"])
        self.bound = float(bound)

    def comparators(self, n):
        """``(λ, a)``, float32 ``K``-vectors, for rows of length ``n``."""
        wide = wide_dtype(self.s.device)
        s, m, gamma = (v.to(wide) for v in (self.s, self.m, self.gamma))
        e = torch.exp(s + (1.0 + gamma) * math.log(n)).clamp(max=_F32_MAX)
        lam = e / (1.0 + e / self.bound)  # Λ = ∞: e / 1
        return lam.float(), torch.softmax(m, 0).float()

    def forward(self, x):
        z = standardize_rows(x)
        n = z.shape[1]
        lam, a = self.comparators(n)
        t = z.unsqueeze(1) - z.unsqueeze(2)  # t[b, i, j] = z_j − z_i
        f = torch.zeros_like(t)
        for k in range(lam.shape[0]):
            f = f + a[k] * torch.sigmoid(lam[k] * t)
        # row i takes f of its pairs with j > i, column j takes 1 − f of the same pairs
        r = 1.0 + torch.triu(f, 1).sum(2) + torch.triu(1.0 - f, 1).sum(1)
        return r * (1.0 / n)
