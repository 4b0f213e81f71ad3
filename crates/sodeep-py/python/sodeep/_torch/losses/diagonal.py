"""The losses of a square similarity matrix whose positives lie on the diagonal, on the device
(the core's ``RecallLoss`` and ``RankSumLoss``):

    recall:   Σ_i max(0, α + r(S_i·)_i − min_{j≠i} r(S_i·)_j),
    rank-sum: Σ_i r(S_i·)_i,

over the rows, then over the columns with ``both_directions``. Each row's columns are laid
out by the core's seeded grouping (rows first, then columns, from one stream); row i is ranked
within the group that holds its own positive column. The core ranks every group of every row
and keeps that one; rankers treat rows independently, so ranking only the kept row gives the
same values and gradients. The hardest negative is the smallest rank among the group's real
items other than the positive (pads and the positive are lifted past every rank first).

>>> import torch
>>> from sodeep._torch.losses import rank_sum_loss
>>> sim = torch.eye(3, dtype=torch.float64)
>>> v = rank_sum_loss(sim, "softrank:eps=0.001", True, "sum", 0)
>>> round(v.item(), 6)  # each positive ranks first, 1/3, in 6 rows and columns
2.0
"""
from functools import lru_cache

import numpy as np
import torch

from .. import rankers
from . import ties
from .layout import Layouts, check_reduction, plan_key, reduce, shape_of, to_device


@lru_cache(maxsize=16)
def _plan(n, fixed_len, seed, directions, key):
    """Per direction: the ``(n, L)`` columns of row i's own group, the positive's position in
    it, and the ``(n, L)`` mask of the row's real negatives (host-side settings only)."""
    device = key[0]
    stream = Layouts(seed)
    plans = []
    for _ in range(directions):
        g = stream.next(n, None, fixed_len)
        length = g.len
        own_group = g.slot // length
        pos_at = g.slot % length
        columns = g.index.reshape(g.groups, length)[own_group]
        real = g.mask.reshape(g.groups, length)[own_group] > 0
        negative = real & (np.arange(length)[None, :] != pos_at[:, None])
        plans.append((to_device(columns, device), to_device(pos_at, device).unsqueeze(1),
                      to_device(negative, device, torch.bool)))
    return plans


def _square(sim):
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError("invalid argument: a similarity matrix must be square (n × n, positives "
                         f"on the diagonal), got shape {shape_of(sim)}")
    return sim.shape[0]


def _diagonal_ranks(sim, ranker, both_directions, seed):
    """Per direction: the positive's rank ``(n,)`` and the own row's ranks with the mask of
    real negatives."""
    n = _square(sim)
    if n == 0:
        raise ValueError("empty input: no item to rank")
    r = rankers.build(ranker)
    plans = _plan(n, r.fixed_len, int(seed), 2 if both_directions else 1, plan_key(sim.device))
    out = []
    for s, (columns, pos_at, negative) in zip((sim, sim.t()), plans):
        own_ranks = r.rank(s.gather(1, columns))
        out.append((own_ranks.gather(1, pos_at).squeeze(1), own_ranks, negative))
    return out


def recall_loss(sim, ranker, margin, both_directions, reduction, seed):
    """One hinge per row (then per column) of the ``(n, n)`` similarities ``sim``."""
    check_reduction(reduction)
    if not np.isfinite(margin):
        raise ValueError(f"margin must be finite, got {margin}")
    terms = []
    for positive, own_ranks, negative in _diagonal_ranks(sim, ranker, both_directions, seed):
        # ranks are at most 1: a lift of 4 puts the non-negatives past every rank
        lifted = own_ranks + (~negative).to(own_ranks.dtype) * 4.0
        terms.append(ties.relu(positive - ties.row_min(lifted) + margin))
    all_terms = torch.cat(terms)
    return reduce(all_terms, torch.ones_like(all_terms), reduction)


def rank_sum_loss(sim, ranker, both_directions, reduction, seed):
    """The positives' ranks of the ``(n, n)`` similarities ``sim``, rows (then columns)."""
    check_reduction(reduction)
    terms = [p for p, _, _ in _diagonal_ranks(sim, ranker, both_directions, seed)]
    all_terms = torch.cat(terms)
    return reduce(all_terms, torch.ones_like(all_terms), reduction)
