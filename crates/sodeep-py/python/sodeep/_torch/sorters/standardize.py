"""The sorters' input standardisation (the core's ``standardize_rows``, sorter/net.rs):
``(x − mean) / std`` per row in the input's dtype, a strictly increasing map of each row, so
ranks are unchanged, and one that ignores the row's offset and scale down to the spacings the
dtype can tell apart. No variance floor: an exactly constant row becomes all zeros, with the
gradient of ``x − mean``.

The core's steps, each needed for the invariance in floating point:

- a row whose largest magnitude ``t`` exceeds 1e18 is first divided by ``2^k``, the smallest
  power of two (``k ≥ 0``) that brings ``t`` to at most 1e18, so that the mean cannot
  overflow; the division is exact and the scale a constant (no gradient). Every row is
  divided by its own scale, 1 for the others, chosen with ``torch.where``: the core's
  "all rows small" shortcut returns the same values, and no row's size is read on the host;
- the row is centred twice, ``c = x − mean(x)`` then ``c − mean(c)``, which removes the
  rounding error of the first mean (a shift as large as the spacing of scores packed near a
  large offset);
- an exactly constant row (max = min) is centred to exact zeros as ``c − c.detach()``;
- ``c`` is divided by its largest magnitude (detached: the result does not depend on it), so
  that its squares neither underflow nor overflow; a constant row's zero scale and variance
  are replaced by one.

>>> import torch
>>> from sodeep._torch.sorters.standardize import standardize_rows
>>> x = torch.tensor([[1.0, 2.0, 3.0], [3e38, -3e38, 0.0]])
>>> standardize_rows(x).mul(1000).round().tolist()
[[-1225.0, 0.0, 1225.0], [1225.0, -1225.0, 0.0]]
>>> e = 2.0 ** -40  # spacings of 1e-12 near an offset of 0.5
>>> tiny = torch.tensor([[0.5 + 3 * e, 0.5 + e, 0.5 + 2 * e]], dtype=torch.float64)
>>> standardize_rows(tiny).mul(1000).round().tolist()
[[1225.0, -1225.0, 0.0]]
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


def _one_if_zero(v):
    """``v`` with its zeros replaced by ones."""
    return v + (v == 0).to(v.dtype)


def standardize_rows(x):
    """``(B, n)`` → ``(B, n)`` standardised rows (see the module)."""
    x = x / _scale(x)
    c = x - x.mean(1, keepdim=True)
    c = c - c.mean(1, keepdim=True)
    constant = (x.amax(1, keepdim=True) == x.amin(1, keepdim=True)).to(x.dtype)
    c = c - c.detach() * constant
    top = c.detach().abs().amax(1, keepdim=True)
    u = c / _one_if_zero(top)
    return u / _one_if_zero(u.square().mean(1, keepdim=True)).sqrt()
