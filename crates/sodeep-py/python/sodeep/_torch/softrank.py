"""Soft rank and soft sort by projection onto the permutahedron (Blondel et al., ICML 2020) on
torch tensors: the core's ``relax/softrank.rs``, in torchsort's conventions, built from
``torch.sort``, gathers and scatters and the isotonic op (``isotonic.py``), so that autograd
gives the core's gradient.

For a row ``x`` of length n, with ``ρ = (n, n−1, …, 1)`` and strength ``ε > 0``:

- ``soft_rank(x)``: ascending soft ranks (≈ 1 for the smallest, ≈ n for the largest). ``s`` is
  ``(x − c)/ε`` sorted descending, ``c`` the row's median (``x`` at sorted position ⌊n/2⌋: a
  constant, since soft ranks do not move when every score does); ``w = ρ`` (L2) or ``log ρ``
  (KL); the isotonic step gives the blocks, and the output at sorted position k of block B is
  ``(s_k − mean_B s) + mean_B w`` (L2) or ``exp((s_k − lse_B s) + lse_B w)`` (KL), scattered
  back to input order. Written this way, as in the core, ``s`` never cancels against a value
  that holds ``ρ``'s units (as ``s − v`` with the isotonic value ``v`` would): a block of one
  gives ``ρ_k`` (or ``e^{log ρ_k}``) exactly, however large ``s_k`` is. Only the block starts
  come from the isotonic op here; the gradient flows through the block means.
- ``soft_sort(x)``: ascending soft sort, ``v − s`` with ``s = ρ/ε``, ``w = sort_desc(−x)`` and
  ``v`` the isotonic value.

``SoftRank`` is the ``softrank`` ranker: SoDeep ranks ``soft_rank(−x)/n`` and the descending
soft sort. Sorting ties go by index; computation is in float64 (float32 on mps, which lacks
float64) and the result is cast to the input's dtype.

>>> import torch
>>> from sodeep._torch.softrank import soft_rank, soft_sort
>>> x = torch.tensor([[0.3, -1.0, 2.0]])
>>> soft_rank(x, 1e-3, "l2").tolist(), soft_sort(x, 1e-3, "l2").tolist()
([[2.0, 1.0, 3.0]], [[-1.0, 0.30000001192092896, 2.0]])
>>> soft_rank(x, 1e9, "l2").tolist()  # ε → ∞: every rank tends to (n + 1)/2
[[2.0, 2.0, 2.0]]
"""
import numpy as np
import torch

from .blackbox import ascending_order, descending_order
from .isotonic import REGULARIZATIONS, block_end, isotonic, segment_sum
from .rankers import TorchRanker


def check(what, eps, regularization):
    """The core's checks of ε and the regulariser, with its messages."""
    eps = float(eps)
    if not (np.isfinite(eps) and eps > 0):
        shown = "NaN" if np.isnan(eps) else np.format_float_positional(eps, trim="-")
        raise ValueError(f"invalid argument: {what}: the strength ε must be a positive number, "
                         f"got {shown}")
    if regularization not in REGULARIZATIONS:
        raise ValueError(f"invalid argument: regularization must be 'l2' or 'kl', got '{regularization}'")
    return eps


def _wide(x):
    """float64 wherever the device has it."""
    return torch.float32 if x.device.type == "mps" else torch.float64


def _rho(n, like):
    """``ρ = (n, …, 1)`` in ``like``'s dtype and device, exact integers."""
    return torch.arange(n, 0, -1, device=like.device, dtype=like.dtype)


def _soft_rank(rows, eps, regularization, scale=1.0):
    """``scale · soft_rank(rows)`` in the working dtype."""
    b, n = rows.shape
    order = descending_order(rows)
    xs = rows.to(_wide(rows)).gather(-1, order)
    centre = xs[:, n // 2:n // 2 + 1].detach()
    s = (xs - centre) / eps
    rho = _rho(n, s).expand(b, n)
    w = rho if regularization == "l2" else torch.log(rho)
    _, start = isotonic(s.detach(), w.contiguous(), regularization)
    end = block_end(start)
    length = (end - start).to(s.dtype)
    # Σ_B ρ in closed form: exact integers, as the core's running sum of them is
    sum_rho = ((2 * n + 1 - start - end) * (end - start) // 2).to(s.dtype)
    # a block of one gives its ρ exactly, even where s is infinite (0 stands in for s there,
    # with no gradient, as the core's block-of-one case has none)
    s = torch.where(length == 1, torch.zeros_like(s), s)
    if regularization == "l2":
        primal = (s - segment_sum(s, start).gather(-1, start) / length) + sum_rho / length
    else:
        # s falls along each block, so its first value is the block's maximum
        m = s.detach().gather(-1, start)
        lse_s = m + torch.log(segment_sum(torch.exp(s - m), start).gather(-1, start))
        primal = torch.exp((s - lse_s) + torch.log(sum_rho))
    return torch.zeros_like(primal).scatter(-1, order, scale * primal)


def _soft_sort(rows, eps, regularization):
    """The ascending soft sort of ``rows`` in the working dtype."""
    b, n = rows.shape
    order = ascending_order(rows)
    w = -rows.to(_wide(rows)).gather(-1, order)  # sort_desc(−x)
    s = (_rho(n, w) / eps).expand(b, n).contiguous()
    v, _ = isotonic(s, w, regularization)
    return v - s


def soft_rank(rows, eps, regularization):
    """torchsort's ``soft_rank`` of the ``(B, n)`` rows: ascending soft ranks 1..n, in the
    rows' dtype, differentiable."""
    eps = check("softrank", eps, regularization)
    return _soft_rank(rows, eps, regularization).to(rows.dtype)


def soft_sort(rows, eps, regularization):
    """torchsort's ``soft_sort`` of the ``(B, n)`` rows: each row sorted ascending, softly."""
    eps = check("softsort", eps, regularization)
    return _soft_sort(rows, eps, regularization).to(rows.dtype)


class SoftRank(TorchRanker):
    """The ``softrank`` ranker: SoDeep ranks ``soft_rank(−x)/n`` (largest → about 1/n) and the
    descending soft sort (the core's ``SoftSortDesc``)."""

    def __init__(self, eps, regularization="l2", name="softrank"):
        self.eps = check("softrank", eps, regularization)
        self.regularization = regularization
        self.name = name

    def rank(self, x):
        return _soft_rank(-x, self.eps, self.regularization, 1.0 / x.shape[-1]).to(x.dtype)

    def sort(self, x):
        return _soft_sort(x, self.eps, self.regularization).flip(-1).to(x.dtype)


def from_knobs(family, knobs, spec):
    """``softrank`` with knobs ``eps`` and ``reg`` (``l2`` or ``kl``)."""
    return SoftRank(float(knobs["eps"]), knobs["reg"], spec)
