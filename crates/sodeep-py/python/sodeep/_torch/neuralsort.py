"""NeuralSort and SoftSort relaxed permutations on torch tensors (the core's
``relax/neuralsort.rs``), with the core's hand-written backward pass.

Row k (0-based) of the ``(n, n)`` matrix of a row of scores ``s`` is a distribution over the
input positions for the k-th largest score:

- NeuralSort (``neuralsort``): ``P[k,:] = softmax(((n − 1 − 2k)·s − A_s·1)/τ)``,
  ``A_s[j,l] = |s_j − s_l|``;
- SoftSort (``softsort-perm``): ``P[k,:] = softmax(−|sort_desc(s)_k − s|/τ)``.

The SoDeep ranks are ``r_i = Σ_k (k+1)·P[k,i]/n``. Derivatives at ties use ``d|u|/du = 0`` at
``u = 0``, and SoftSort's sorted value passes its gradient to the position it picked (ties:
the lower index).

The computation runs in float64, as the core's does (it widens every row), and the results are
rounded to the input's dtype, so float32 values and gradients equal the core's whatever τ
(in float32 the logits' rounding grows with their size, n·spread/τ). Devices without float64
keep float32.

>>> import torch
>>> from sodeep._torch.neuralsort import NeuralSort
>>> x = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)
>>> NeuralSort(0.01, soft=False).permutation(x)[0, 0].round().tolist()
[0.0, 0.0, 1.0]
>>> NeuralSort(0.01, soft=False).rank(x).mul(3).round().tolist()
[[2.0, 3.0, 1.0]]
"""
import torch

from .blackbox import ascending_order, descending_order
from .rankers import TorchRanker


def _neuralsort_logits(x, inv_tau):
    """NeuralSort's ``(B, n, n)`` logits, each row relative to its peak (the k-th largest
    score, logit 0).

    Along the ascending order the logit of row k changes by ``gap_p·(2n − 3 − 2p − 2k)`` from
    position p to p + 1: positive below the peak (position ``n − 1 − k``), negative above it.
    Summing these steps outward from the peak never cancels, where ``Σ_l |s_j − s_l|`` computed
    directly swamps the gaps between small scores beside a huge one. The two sums are
    cumulative sums of the steps on either side of the peak, the other side masked to exact
    zeros."""
    b, n = x.shape
    asc = ascending_order(x)
    v = x.gather(-1, asc)
    gaps = (v[:, 1:] - v[:, :-1]).unsqueeze(1)  # (B, 1, n−1)
    k = torch.arange(n, device=x.device).unsqueeze(1)
    p = torch.arange(n - 1, device=x.device).unsqueeze(0)
    coef = (2 * n - 3 - 2 * p - 2 * k).to(x.dtype)  # (n, n−1), exact integers
    steps = gaps * coef
    below = p < (n - 1 - k)  # the steps between positions p and p + 1 below row k's peak
    zero = torch.zeros((), device=x.device, dtype=x.dtype)
    # position p < peak: −Σ_{q=p}^{peak−1} step_q; position p > peak: Σ_{q=peak}^{p−1} step_q
    down = torch.where(below, steps, zero).flip(-1).cumsum(-1).flip(-1)
    up = torch.where(below, zero, steps).cumsum(-1)
    pad = torch.nn.functional.pad
    sorted_logits = (pad(-down, (0, 1)) + pad(up, (1, 0))) * inv_tau
    index = asc.unsqueeze(1).expand(b, n, n)
    return torch.empty_like(sorted_logits).scatter_(-1, index, sorted_logits)


def _softsort_logits(x, inv_tau):
    """SoftSort's ``(B, n, n)`` logits ``−|top_k − s_j|/τ`` and the descending order."""
    order = descending_order(x)
    top = x.gather(-1, order)
    return -(top.unsqueeze(-1) - x.unsqueeze(-2)).abs() * inv_tau, order


def _rank_weights(n, like):
    """``(k+1)/n`` for the rows k of a permutation: SoDeep ranks are ``w @ P``."""
    return torch.arange(1, n + 1, device=like.device, dtype=like.dtype) / n


def _forward(x, soft, inv_tau):
    if soft:
        logits, order = _softsort_logits(x, inv_tau)
    else:
        logits, order = _neuralsort_logits(x, inv_tau), None
    return torch.softmax(logits, dim=-1), order


def _backward(x, order, u, soft, inv_tau):
    """The gradient wrt x from ``u``, the cotangent of the logits (softmax already pulled
    back), as the core's ``logits_vjp`` and ``finish``."""
    n = x.shape[-1]
    if soft:
        top = x.gather(-1, order)
        d = torch.sign(top.unsqueeze(-1) - x.unsqueeze(-2)) * u * inv_tau
        grad = d.sum(-2)
        # the sorted value top_k = s_{order_k} receives −Σ_j of its row's terms
        return grad.scatter_add(-1, order, -d.sum(-1))
    k = torch.arange(n, device=x.device, dtype=x.dtype)
    c = (n - 1 - 2 * k) * inv_tau
    grad = (c.unsqueeze(-1) * u).sum(-2)
    # the logits hold −A_s·1/τ: b_j = Σ_l |s_j − s_l| receives β = −Σ_k u[k,j]/τ, and
    # ∂(Σ_j β_j b_j)/∂s_m = Σ_l (β_m + β_l)·sign(s_m − s_l), tied scores contributing 0
    beta = -(u * inv_tau).sum(-2)
    sign = torch.sign(x.unsqueeze(-1) - x.unsqueeze(-2))
    grad = grad + beta * sign.sum(-1) + (sign @ beta.unsqueeze(-1)).squeeze(-1)
    return grad


class _Permutation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, soft, inv_tau):
        p, order = _forward(x, soft, inv_tau)
        ctx.soft, ctx.inv_tau = soft, inv_tau
        ctx.save_for_backward(x, p, order)
        return p

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        x, p, order = ctx.saved_tensors
        u = p * (g - (p * g).sum(-1, keepdim=True))
        return _backward(x, order, u, ctx.soft, ctx.inv_tau), None, None


class _Ranks(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, soft, inv_tau):
        p, order = _forward(x, soft, inv_tau)
        ctx.soft, ctx.inv_tau = soft, inv_tau
        ctx.save_for_backward(x, p, order)
        w = _rank_weights(x.shape[-1], p)
        return (w.unsqueeze(-1) * p).sum(-2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        x, p, order = ctx.saved_tensors
        # the cotangent of P is G[k,i] = w_k·g_i (never built): u = w_k·P·(g − (P g)_k)
        w = _rank_weights(x.shape[-1], p).unsqueeze(-1)
        g = g.unsqueeze(-2)
        u = w * p * (g - (p * g).sum(-1, keepdim=True))
        return _backward(x, order, u, ctx.soft, ctx.inv_tau), None, None


def _working_dtype(x):
    """float64 wherever the device has it (see the module docs)."""
    return x.dtype if x.device.type == "mps" else torch.float64


class NeuralSort(TorchRanker):
    """``neuralsort`` (``soft=False``) or ``softsort-perm`` (``soft=True``) at temperature τ."""

    def __init__(self, tau, soft):
        self.tau = float(tau)
        self.soft = bool(soft)
        self.name = "softsort-perm" if soft else "neuralsort"

    def rank(self, x):
        return _Ranks.apply(x.to(_working_dtype(x)), self.soft, 1.0 / self.tau).to(x.dtype)

    def permutation(self, x):
        wide = x.to(_working_dtype(x))
        return _Permutation.apply(wide, self.soft, 1.0 / self.tau).to(x.dtype)


def from_knobs(family, knobs, spec):
    """``neuralsort`` and ``softsort-perm``, knob ``tau``."""
    return NeuralSort(float(knobs["tau"]), soft=family == "softsort-perm")
