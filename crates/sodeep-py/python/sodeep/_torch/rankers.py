"""The ``TorchRanker`` interface (the Rust ``Ranker`` trait on torch tensors) and ``build(spec)``.

A ranker maps a ``(B, n)`` batch of scores to SoDeep ranks: the largest score of a row gets
``1/n`` and the smallest ``1``. Rankers that build a relaxed permutation also give it as
``(B, n, n)`` matrices whose row k weighs the inputs of the k-th largest score, so that
``P @ x`` is the descending soft sort.

``build`` reads the spec through the Rust parser (``sodeep._native.describe``), so a spec
means the same here as in the core, defaults and errors included.

>>> import torch
>>> from sodeep._torch.rankers import build
>>> r = build("softrank:eps=0.001")
>>> r.rank(torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)).mul(3).round().tolist()
[[2.0, 3.0, 1.0]]
"""
from functools import lru_cache
from importlib import import_module

import torch

from .._native import describe


class TorchRanker:
    """Base class: subclasses set ``name`` and ``fixed_len`` and implement ``rank``, and
    ``permutation`` (or ``sort``) when they have one."""

    name = "?"
    #: the vector length the ranker is limited to, or None for any length
    fixed_len = None

    def rank(self, x):
        """``(B, n)`` scores → ``(B, n)`` SoDeep ranks (largest → 1/n), differentiable."""
        raise NotImplementedError

    def permutation(self, x):
        """``(B, n, n)`` relaxed permutation matrices (descending), or None."""
        return None

    def sort(self, x):
        """``(B, n)`` descending soft sort, or None (by default through ``permutation``)."""
        p = self.permutation(x)
        if p is None:
            return None
        return (p @ x.to(p.dtype).unsqueeze(-1)).squeeze(-1)


# family (as sodeep._native.describe names it) → module of this package defining `from_knobs`
_FAMILIES = {
    "softrank": "softrank",
    "neuralsort": "neuralsort",
    "softsort-perm": "neuralsort",
    "sinkhorn": "sinkhorn",
    "diffsort-oddeven": "diffsort",
    "diffsort-bitonic": "diffsort",
    "blackbox": "blackbox",
    "handcrafted": "sorters",
    "sorter": "sorters",
}


@lru_cache(maxsize=128)
def build(spec):
    """The torch ranker of ``spec`` (cached: a learned sorter loads its weights once).

    Each family's module has ``from_knobs(family, knobs, spec)``, with ``knobs`` a dict of
    the resolved knob values as strings (defaults included). Bad specs raise ``ValueError``
    with the core's message."""
    family, knobs, fixed_len = describe(spec)
    module = import_module(f".{_FAMILIES[family]}", __package__)
    ranker = module.from_knobs(family, dict(knobs), spec)
    ranker.fixed_len = fixed_len
    return ranker


def check_length(ranker, n):
    """A fixed-length sorter refuses other lengths, with the core's message."""
    if ranker.fixed_len is not None and n != ranker.fixed_len:
        raise ValueError(
            f"vector 0 has length {n}, but this sorter ranks vectors of length "
            f"d = {ranker.fixed_len}; use a sorter trained for d = {n} or the handcrafted "
            "sorter, which takes any length")


def rank_with(ranker, x, descending, normalized):
    """Ranks of the ``(B, n)`` rows in the requested convention: ascending ranks are the
    descending ranks of ``−x``, raw ranks are normalised ranks × n (the core's ``rank_with``)."""
    check_length(ranker, x.shape[1])
    r = ranker.rank(x if descending else -x)
    return r if normalized else r * x.shape[1]


def _need(t, ranker, what):
    if t is None:
        raise ValueError(
            f"ranker '{ranker.name}' has no {what}: use neuralsort, softsort-perm, sinkhorn or "
            "a diffsort network")
    return t


def permutation(ranker, x):
    """``(B, n, n)`` relaxed permutations (descending), or a ``ValueError`` naming the rankers
    that have one."""
    check_length(ranker, x.shape[1])
    return _need(ranker.permutation(x), ranker, "relaxed permutation")


def sort(ranker, x):
    """The descending soft sort of the rows."""
    check_length(ranker, x.shape[1])
    return _need(ranker.sort(x), ranker, "differentiable sort")


def soft_argsort(ranker, x):
    """``(B, n)``: entry k is the expected 0-based input index of the k-th largest score."""
    p = permutation(ranker, x)
    idx = torch.arange(x.shape[1], device=p.device, dtype=p.dtype)
    return p @ idx


def soft_top_k(ranker, x, k):
    """``(B, n)`` weights in [0, 1]: the mass each position puts in the k largest."""
    n = x.shape[1]
    if k == 0 or k > n:
        raise ValueError(f"top-k: k must be between 1 and n = {n}, got {k}")
    return permutation(ranker, x)[:, :k].sum(1)
