"""NDCG through any ranker on the device (the core's ``NdcgLoss``): per query q,

    L_q = 1 − Σ_i G(rel_i) · D(R_i) · ramp_k(R_i) / IDCG_q,

with ``R_i = max(n_q · r_i, 1)`` the ranker's rank in raw units, ``D(R) = 1/log2(1 + R)``,
``ramp_k(R) = clamp(k + 1 − R, 0, 1)`` with a cutoff k (1 without), G the gain
(``2^rel − 1`` or ``rel``) and ``IDCG_q`` the ideal DCG of the query's labels (the largest
gains at the first k positions, from a sort of the gains on the device).

Queries are bucketed by length as in the core: a bucket of b queries of n items is ranked as
one ``(b, n)`` batch, or, for a fixed-length sorter with ``d ≠ n``, laid out in groups of d
by the core's seeded grouping. A query without a relevant item (``IDCG_q = 0``) carries no
signal: as in the core, it is ranked with its bucket (so the layout depends on the query ids
only, never on the labels) and masked (0 in the sum, out of the mean).

>>> import torch
>>> from sodeep._torch.losses import ndcg_loss
>>> rel = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
>>> v = ndcg_loss(rel, rel, "softrank:eps=0.0001", None, None, "exp", "mean", 0)
>>> round(v.item(), 6)  # already in the ideal order
0.0
"""
import math
from functools import lru_cache

import numpy as np
import torch

from .. import rankers
from . import ties
from .layout import (Layouts, as_vector, check_reduction, members_by_id, plan_key, reduce,
                     rows_as_lists, to_device, wide)

_GAINS = ("exp", "linear")


def check_k(k):
    if k is not None and k == 0:
        raise ValueError("invalid argument: a top-k cutoff of k = 0 scores no position: use "
                         "k ≥ 1, or None for the whole query")
    return k


def check_gain(gain):
    if gain not in _GAINS:
        raise ValueError(f"invalid argument: unknown gain '{gain}': use exp (2^rel − 1) or "
                         "linear (rel)")


def queries(scores, relevance, ids):
    """The scores and labels as vectors and one query id per item (``QueryLoss::forward``
    then ``Queries::new`` of the core): a ``(B, n)`` batch is B queries of n items."""
    if ids is None:
        batch = rows_as_lists(scores, relevance)
        if batch is not None:
            ids = batch[2]
            scores, relevance = scores.reshape(-1), relevance.reshape(-1)
    s = as_vector(scores, "scores")
    m = s.shape[0]
    rel = as_vector(relevance, "relevance")
    if rel.shape[0] != m:
        raise ValueError(f"invalid argument: {m} scores but {rel.shape[0]} relevance labels: "
                         "give one label per item")
    if m == 0:
        raise ValueError("invalid argument: no item to rank: m = 0 scores")
    return s, rel, (np.zeros(m, dtype=np.int64) if ids is None else np.asarray(ids, np.int64))


def gains(rel, gain):
    """``G(rel)`` in the wide dtype."""
    r = rel.to(wide(rel.device))
    return torch.exp2(r) - 1 if gain == "exp" else r


def ideal_dcg(g, real, k):
    """The ideal DCG of the gains ``g`` (rows, ``real`` marks the items of each row; k the
    cutoff or None): the largest gains at the first k positions."""
    ordered = torch.where(real, g, torch.full_like(g, -math.inf)).sort(-1, descending=True).values
    length = g.shape[-1]
    at = torch.arange(length, device=g.device)
    counted = at < (length if k is None else k)
    counted = counted & (at < real.sum(-1, keepdim=True))
    discount = 1.0 / torch.log2((at + 2).to(g.dtype))
    return torch.where(counted, ordered * discount, torch.zeros_like(ordered)).sum(-1)


def weights(g, idcg):
    """``G_i / IDCG_q`` where the query has a signal, 0 elsewhere."""
    has = (idcg > 0).unsqueeze(-1)
    return torch.where(has, g / torch.where(has, idcg.unsqueeze(-1), torch.ones_like(g)),
                       torch.zeros_like(g))


def discount(raw, k):
    """``D(R) · ramp_k(R)`` elementwise, with R floored at 1 (the core's ``discount_tensor``)."""
    raw = ties.maximum(raw, 1.0)
    d = torch.log(raw + 1).reciprocal() * math.log(2)
    if k is None:
        return d
    return d * ties.clamp(k + 1.0 - raw, 0.0, 1.0)


@lru_cache(maxsize=16)
def _plan(ids, fixed_len, seed, key):
    """Buckets of queries by length: ``(n, b, items, layout)`` with ``items`` the b·n items
    of the bucket's queries (query after query) on the device, and ``layout`` None or, for
    a fixed-length sorter with ``d ≠ n``, ``(groups, index, slot)`` of the seeded grouping;
    and where each query's value lands in the buckets' concatenation."""
    device = key[0]
    members = members_by_id(np.asarray(ids), len(ids))
    by_len = {}
    for q, items in enumerate(members):
        by_len.setdefault(len(items), []).append(q)
    stream = Layouts(seed)
    buckets, at, filled = [], np.zeros(len(members), dtype=np.int64), 0
    for n in sorted(by_len):
        qs = by_len[n]
        items = np.concatenate([members[q] for q in qs])
        layout = None
        if fixed_len is not None and fixed_len != n:
            local = np.repeat(np.arange(len(qs), dtype=np.int64), n)
            g = stream.next(len(items), local, fixed_len)
            layout = (g.groups, to_device(items[g.index], device), to_device(g.slot, device))
        buckets.append((n, len(qs), to_device(items, device), layout))
        at[qs] = np.arange(filled, filled + len(qs))
        filled += len(qs)
    return buckets, to_device(at, device)


def ndcg_loss(scores, relevance, ranker, ids, k, gain, reduction, seed):
    """``1 − NDCG`` per query; ``reduction='none'`` gives one value per query id, in
    increasing id order (0 for a query without a relevant item)."""
    check_reduction(reduction)
    check_gain(gain)
    s, rel, ids = queries(scores, relevance, ids)
    k = check_k(k)
    r = rankers.build(ranker)
    buckets, at = _plan(tuple(ids.tolist()), r.fixed_len, int(seed), plan_key(s.device))
    values, signal = [], []
    for n, b, items, layout in buckets:
        g = gains(rel.index_select(0, items).view(b, n), gain)
        idcg = ideal_dcg(g, torch.ones_like(g, dtype=torch.bool), k)
        if layout is None:
            ranks = r.rank(s.index_select(0, items).view(b, n))
        else:
            groups, index, slot = layout
            laid = s.index_select(0, index).view(groups, r.fixed_len)
            ranks = r.rank(laid).reshape(-1).index_select(0, slot).view(b, n)
        d = discount(ranks * n, k)
        values.append(1 - (d * weights(g, idcg).to(s.dtype)).sum(1))
        signal.append(idcg > 0)
    per_query = torch.cat(values).index_select(0, at)
    has = torch.cat(signal).index_select(0, at).to(s.dtype)
    return reduce(per_query, has, reduction)
