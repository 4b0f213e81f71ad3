"""Rankers and rank losses on NumPy arrays.

Ranking functions take ``(batch, n)`` float32 or float64 arrays (a 1-D array is one row) and
return arrays of the same dtype. Each has a ``*_vjp(x, grad, ...)`` companion: the
vector-Jacobian product ``d sum(f(x) * grad) / dx``, for frameworks other than PyTorch.

>>> import numpy as np
>>> from sodeep.numpy import soft_rank
>>> soft_rank(np.array([[3.0, 1.0, 2.0]]), regularization_strength=0.01).tolist()
[[3.0, 1.0, 2.0]]
"""
import numpy as np

from ._ops import op

__all__ = [
    "rank", "rank_vjp", "soft_rank", "soft_rank_vjp", "soft_sort", "soft_sort_vjp",
    "permutation", "permutation_vjp", "sort", "sort_vjp", "argsort", "argsort_vjp",
    "topk", "topk_vjp",
]


def _rows(x):
    a = np.asarray(x)
    if a.dtype not in (np.float32, np.float64):
        if a.dtype.kind in "iub" or a.dtype == np.float16:
            a = a.astype(np.float32 if a.dtype == np.float16 else np.float64)
        else:
            raise ValueError(f"expected a float array, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"expected a (batch, n) array, got shape {a.shape}")
    return np.ascontiguousarray(a)


def _call(o, x, grad=None, one_row=None):
    a = _rows(x)
    squeeze = np.asarray(x).ndim == 1 if one_row is None else one_row
    if grad is None:
        y = o.forward(a)
    else:
        g = np.ascontiguousarray(np.asarray(grad, dtype=a.dtype))
        if squeeze:
            g = g[None, ...]
        y = o.vjp(a, g)
    return y[0] if squeeze else y


def rank(x, ranker="softrank:eps=0.1", descending=False, normalized=False):
    """Differentiable ranks of every row through ``ranker``: ascending raw 1..n by default
    (torchsort's and scipy's convention); ``descending=True, normalized=True`` gives SoDeep's
    (largest score → 1/n)."""
    return _call(op("rank", ranker, bool(descending), bool(normalized)), x)


def rank_vjp(x, grad, ranker="softrank:eps=0.1", descending=False, normalized=False):
    """``d sum(rank(x) * grad) / dx``."""
    return _call(op("rank", ranker, bool(descending), bool(normalized)), x, grad)


def soft_rank(x, regularization_strength=1.0, regularization="l2"):
    """torchsort's ``soft_rank``: ascending soft ranks 1..n (Blondel et al. 2020)."""
    return _call(op("soft_rank", float(regularization_strength), regularization, False), x)


def soft_rank_vjp(x, grad, regularization_strength=1.0, regularization="l2"):
    """``d sum(soft_rank(x) * grad) / dx``."""
    return _call(op("soft_rank", float(regularization_strength), regularization, False), x, grad)


def soft_sort(x, regularization_strength=1.0, regularization="l2"):
    """torchsort's ``soft_sort``: every row sorted ascending, softly."""
    return _call(op("soft_rank", float(regularization_strength), regularization, True), x)


def soft_sort_vjp(x, grad, regularization_strength=1.0, regularization="l2"):
    """``d sum(soft_sort(x) * grad) / dx``."""
    return _call(op("soft_rank", float(regularization_strength), regularization, True), x, grad)


def permutation(x, ranker="neuralsort"):
    """``(batch, n, n)`` relaxed permutation matrices: row k weighs the input positions of the
    k-th largest score, so ``P @ x`` sorts descending."""
    return _call(op("permutation", ranker), x)


def permutation_vjp(x, grad, ranker="neuralsort"):
    """``d sum(permutation(x) * grad) / dx``."""
    return _call(op("permutation", ranker), x, grad)


def sort(x, ranker="neuralsort"):
    """The descending differentiable sort of every row through a permutation-based ranker."""
    return _call(op("sort", ranker), x)


def sort_vjp(x, grad, ranker="neuralsort"):
    """``d sum(sort(x) * grad) / dx``."""
    return _call(op("sort", ranker), x, grad)


def argsort(x, ranker="neuralsort"):
    """Soft argsort, descending: entry k is the expected (0-based) input index of the k-th
    largest score."""
    return _call(op("argsort", ranker), x)


def argsort_vjp(x, grad, ranker="neuralsort"):
    """``d sum(argsort(x) * grad) / dx``."""
    return _call(op("argsort", ranker), x, grad)


def topk(x, k, ranker="neuralsort"):
    """Soft top-k membership: the weight in [0, 1] each position puts among the k largest."""
    return _call(op("topk", ranker, int(k)), x)


def topk_vjp(x, grad, k, ranker="neuralsort"):
    """``d sum(topk(x, k) * grad) / dx``."""
    return _call(op("topk", ranker, int(k)), x, grad)
