"""The sorters' input standardisation (the core's ``standardize_rows``, sorter/net.rs):
``(x − mean) / sqrt(var + 1e-10)`` per row, a strictly increasing map of each row, so ranks
are unchanged (a constant row becomes all zeros, with finite gradients).

A row whose largest magnitude ``t`` exceeds 1e18 is first divided by ``2^k``, the smallest
power of two (``k ≥ 0``) that brings ``t`` to at most 1e18, so that the mean and the squares
cannot overflow; the division is exact and the scale a constant (no gradient). Every row is
divided by its own scale, 1 for the others, chosen with ``torch.where``: the core's
"all rows small" shortcut returns the same values, and no row's size is read on the host.

>>> import torch
>>> from sodeep._torch.sorters.standardize import standardize_rows
>>> x = torch.tensor([[1.0, 2.0, 3.0], [3e38, -3e38, 0.0]])
>>> standardize_rows(x).mul(1000).round().tolist()
[[-1225.0, 0.0, 1225.0], [1225.0, -1225.0, 0.0]]
"""
import torch

from .fp32 import wide_dtype


def _scale(x):
    """``2^k`` per row (``(B, 1)``, ``x``'s dtype): 1 unless the row's largest finite
    magnitude exceeds 1e18. Computed in float64 (where the device has it), as the core does."""
    top = x.detach().abs().amax(1, keepdim=True).to(wide_dtype(x.device))
    big = (top > 1e18) & torch.isfinite(top)
    # the other rows take log2(1) = 0, scale 1 (and no log2 of 0 or inf is taken)
    k = torch.ceil(torch.log2(torch.where(big, top / 1e18, torch.ones_like(top))))
    return torch.exp2(k).to(x.dtype)


def standardize_rows(x):
    """``(B, n)`` → ``(B, n)`` standardised rows (see the module)."""
    x = x / _scale(x)
    centered = x - x.mean(1, keepdim=True)
    std = (centered.square().mean(1, keepdim=True) + 1e-10).sqrt()
    return centered / std
