"""Blackbox differentiation of exact ranks (Rolínek et al., CVPR 2020) on torch tensors, and
the exact orders and ranks it is built on (the core's ``relax/blackbox.rs`` and ``rank.rs``).

Forward: the exact SoDeep ranks ``r_i = (#{j : x_j > x_i, or x_j = x_i and j < i} + 1)/n``,
values ordered as IEEE's total order (``-0.0`` below ``0.0``), ties by index. Backward: with
``λ' = λ·n·sd(x)`` (sd of the row, 1 when it is 0 or not finite), the gradient of the
piecewise-linear interpolation of Vlastelica et al., ``−(r(x) − r(x + λ'·g))/λ'``, the
re-ranking done on the device.

>>> import torch
>>> from sodeep._torch.blackbox import Blackbox, exact_ranks
>>> exact_ranks(torch.tensor([[0.3, -1.0, 2.0, 0.3]])).mul(4).tolist()
[[2.0, 4.0, 1.0, 3.0]]
>>> x = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64, requires_grad=True)
>>> r = Blackbox(1.0).rank(x)
>>> r.backward(torch.tensor([[-1.0, 0.0, 0.0]], dtype=torch.float64))  # 0.3 pushed below −1
>>> r.mul(3).tolist(), (x.grad.abs() > 0).tolist()
([[2.0, 3.0, 1.0]], [[True, True, False]])
"""
import torch

from .rankers import TorchRanker

# the mask that turns an IEEE float's bits, read as a signed integer, into an integer of the
# same total order: negative floats (sign bit set) have their other bits reversed
_KEY_MASK = {torch.float32: (torch.int32, 31, 0x7FFFFFFF),
             torch.float64: (torch.int64, 63, 0x7FFFFFFFFFFFFFFF)}


def _total_order_key(x):
    """Integers ordered as ``x`` is under IEEE's total order (``f64::total_cmp``)."""
    if x.dtype not in _KEY_MASK:
        x = x.to(torch.float32)
    as_int, shift, mask = _KEY_MASK[x.dtype]
    bits = x.contiguous().view(as_int)
    return bits ^ ((bits >> shift) & mask)


def descending_order(x):
    """``(B, n)`` input indices of each row by decreasing score, ties by index (the core's
    ``argsort_desc``): a stable ascending sort of the negated keys (``~k`` reverses the
    order without overflow)."""
    return torch.sort(~_total_order_key(x), dim=-1, stable=True).indices


def ascending_order(x):
    """``(B, n)`` input indices of each row by increasing score, ties by index."""
    return torch.sort(_total_order_key(x), dim=-1, stable=True).indices


def exact_ranks(x):
    """Exact SoDeep ranks of the ``(B, n)`` rows (largest → 1/n, ties by index), in x's
    dtype, without a gradient."""
    n = x.shape[-1]
    order = descending_order(x)
    pos = torch.arange(1, n + 1, device=x.device, dtype=x.dtype).div_(n)
    return torch.empty_like(x).scatter_(-1, order, pos.expand_as(x))


def _wide(x):
    """The backward pass works in float64 as the core does (a perturbed order must not depend
    on float32 rounding), except on devices without float64."""
    return x.to(x.dtype if x.device.type == "mps" else torch.float64)


class _BlackboxRank(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        ctx.save_for_backward(x)
        return exact_ranks(x)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xw, gw = _wide(x), g.to(_wide(x).dtype)
        n = x.shape[-1]
        sd = (xw - xw.mean(-1, keepdim=True)).square().mean(-1, keepdim=True).sqrt()
        sd = torch.where((sd > 0) & torch.isfinite(sd), sd, torch.ones_like(sd))
        lam = ctx.lam * n * sd
        grad = -(exact_ranks(xw) - exact_ranks(xw + lam * gw)) / lam
        return grad.to(x.dtype), None


class Blackbox(TorchRanker):
    """The ``blackbox`` ranker: exact ranks forward, interpolated gradient backward."""

    name = "blackbox"

    def __init__(self, lam):
        self.lam = float(lam)

    def rank(self, x):
        return _BlackboxRank.apply(x, self.lam)


def from_knobs(family, knobs, spec):
    """``blackbox`` with knob ``lambda``."""
    return Blackbox(float(knobs["lambda"]))
