"""The paper's untrained sorter (the core's sorter/handcrafted.rs):
``r_i = (1 + Σ_{j≠i} σ(λ (y_j − y_i))) / n``.

Each sigmoid softly counts whether ``y_j`` beats ``y_i``; the ``j = i`` term of the full sum
is ``σ(0) = 1/2``, so the sum over all ``j`` plus 1/2 is the formula. It has no weights and
takes rows of any length, and computes in the input's dtype (as the core does: it has no
float32 weights to match).

>>> import torch
>>> from sodeep._torch.sorters.handcrafted import Handcrafted
>>> r = Handcrafted(100.0).rank(torch.tensor([[0.3, -1.0, 2.0]]))
>>> r.mul(3).round().tolist()
[[2.0, 3.0, 1.0]]
"""
import torch

from ..rankers import TorchRanker


def handcrafted_ranks(x, lam):
    """``(B, n)`` scores → ``(B, n)`` handcrafted ranks with sharpness ``lam``."""
    diff = x.unsqueeze(1) - x.unsqueeze(2)  # diff[b, i, j] = y_j − y_i
    return (torch.sigmoid(diff * lam).sum(2) + 0.5) / x.shape[1]


class Handcrafted(TorchRanker):
    """The pairwise-sigmoid sorter with sharpness ``lam``."""

    def __init__(self, lam, name=None):
        self.lam = float(lam)
        self.name = name or f"handcrafted:{self.lam}"

    def rank(self, x):
        return handcrafted_ranks(x, self.lam)
