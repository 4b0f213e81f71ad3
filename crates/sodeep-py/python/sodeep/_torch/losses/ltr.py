"""The learning-to-rank baselines on the device (the core's ``LtrLoss``), per query q of
``n_q`` items with scores s and labels rel:

- ``mse``: ``mean_i (s_i − rel_i)²``;
- ``ranknet``: ``Σ_{rel_i > rel_j} log(1 + exp(−σ(s_i − s_j)))`` / the number of such pairs;
- ``lambdarank``: the same pairs weighted by ``|ΔNDCG_ij| = |G_i − G_j|·|D(p_i) − D(p_j)| /
  IDCG_q``, p the 1-based positions in the current score order (ties by item index);
- ``listnet``: ``logsumexp(s) − Σ_i softmax(rel)_i s_i``;
- ``listmle``: ``Σ_k [log Σ_{j≥k} exp(s_{π_j}) − s_{π_k}] / n_q``, π by relevance descending,
  ties in the order of the core's seeded shuffle;
- ``approxndcg``: ``1 − Σ_i G_i D(π̂_i) / IDCG_q``, ``π̂_i = 1 + Σ_{j≠i} σ((s_j − s_i)/T)``.

The queries are laid out one per row by the core's seeded grouping. What the core computes
on the host from the labels and the detached scores (pairs, label softmax, ideal DCG, score
positions, the label order) is computed here on the device as masks, sorts and pairwise
comparisons with the same values; ListMLE's tie shuffles depend on the seed and the query
lengths only, and come from the core's stream. Queries without a signal (no pair for
ranknet and lambdarank, no relevant item for approxndcg) are masked, as in the core.

>>> import torch
>>> from sodeep._torch.losses import ltr_loss
>>> rel = torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64)
>>> tied = torch.zeros(3, dtype=torch.float64)
>>> v = ltr_loss("ranknet", tied, rel, None, None, "exp", 1.0, 1.0, "mean", 0)
>>> round(v.item(), 9)  # each of the 3 pairs costs log(1 + e⁰) = ln 2
0.693147181
"""
import math
from functools import lru_cache

import numpy as np
import torch

from . import ties
from .layout import Layouts, check_reduction, plan_key, reduce, to_device, wide
from .ndcg import check_gain, check_k, discount, gains, ideal_dcg, queries, weights

KINDS = ("mse", "ranknet", "lambdarank", "listnet", "listmle", "approxndcg")


def _number(v):
    """A float as the core prints it (``0``, ``-1``, ``inf``, ``NaN``, ``0.5``)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return str(int(v)) if v == int(v) else repr(v)


def _check(kind, sigma, temperature, k):
    if kind not in KINDS:
        raise ValueError(f"invalid argument: unknown learning-to-rank loss '{kind}': use one of "
                         f"{', '.join(KINDS)}")
    for what, v in (("sigma", sigma), ("temperature", temperature)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"invalid argument: {kind}: {what} = {_number(v)}; it must be a "
                             "finite number > 0 (default 1)")
    return check_k(k)


class _Layout:
    """The queries one per row of ``G × L`` slots (device tensors): ``index`` (G·L items),
    ``real`` (G × L, a real item and not a pad), ``count`` (G); and, for listmle, ``shuffled``
    (G × L): the core's shuffled order of each query's slots, the pads' slots after them."""

    def __init__(self, ids, seed, listmle, device):
        stream = Layouts(seed)
        g = stream.next(len(ids), ids, None)
        self.groups, self.len = g.groups, g.len
        real = g.mask.reshape(g.groups, g.len) > 0
        count = real.sum(1)
        self.index = to_device(g.index, device)
        self.real = to_device(real, device, torch.bool)
        self.count = to_device(count, device, wide(device))
        self.shuffled = None
        if listmle:
            # a query's real items fill its first slots; the core shuffles them query by
            # query, after the grouping, from the same stream
            shuffled = np.tile(np.arange(g.len, dtype=np.int64), (g.groups, 1))
            for q in range(g.groups):
                shuffled[q, :count[q]] = stream.shuffle(int(count[q]))
            self.shuffled = to_device(shuffled, device)


@lru_cache(maxsize=16)
def _layout(ids, seed, listmle, key):
    return _Layout(ids, seed, listmle, key[0])


def _softplus(x):
    """``log(1 + e^x)`` as the core computes it: ``b + log(e^a + e^{−b})`` with
    ``a = min(x, 0)``, ``b = max(x, 0)`` (derivative ½ at 0 from the ties' rule)."""
    a = ties.minimum(x, 0.0)
    b = ties.maximum(x, 0.0)
    return b + torch.log(torch.exp(a) + torch.exp(-b))


def _total_key(x):
    """Integers in the order of Rust's ``f64::total_cmp`` of ``x`` (``−0 < +0``, NaNs at the
    ends by sign), so that sorts and comparisons of values match the core's host code."""
    bits = x.contiguous().view(torch.int64 if x.dtype == torch.float64 else torch.int32)
    width = 64 if x.dtype == torch.float64 else 32
    return bits ^ ((bits >> (width - 1)) & ((1 << (width - 1)) - 1))


def _pairs(rel, real):
    """``(G, L, L)``: real pairs (i, j) with ``rel_i > rel_j``."""
    both = real.unsqueeze(2) & real.unsqueeze(1)
    return both & (rel.unsqueeze(2) > rel.unsqueeze(1))


def _mse(s, rel, lay):
    w = lay.real.to(lay.count.dtype) / lay.count.unsqueeze(1)
    values = ((s - rel).square() * w.to(s.dtype)).sum(1)
    return values, torch.ones_like(values)


def _pairwise(s, rel, lay, sigma, lambda_):
    pairs = _pairs(rel, lay.real)
    count = pairs.sum((1, 2))
    f = wide(s.device)
    if lambda_ is None:
        w = pairs.to(f) / count.clamp(min=1).to(f).view(-1, 1, 1)
    else:
        gain, k = lambda_
        # positions in the current score order (detached), ties by item index
        sd = _total_key(s.detach())
        item = lay.index.view(lay.groups, lay.len)
        ahead = (sd.unsqueeze(1) > sd.unsqueeze(2)) | (
            (sd.unsqueeze(1) == sd.unsqueeze(2)) & (item.unsqueeze(1) < item.unsqueeze(2)))
        p = (ahead & lay.real.unsqueeze(1)).sum(2)
        cut = lay.count.unsqueeze(1) if k is None else k
        d = torch.where(p < cut, 1.0 / torch.log2((p + 2).to(f)), torch.zeros((), dtype=f,
                                                                             device=s.device))
        g = gains(rel, gain)
        idcg = ideal_dcg(g, lay.real, k)
        w = ((g.unsqueeze(2) - g.unsqueeze(1)).abs() * (d.unsqueeze(2) - d.unsqueeze(1)).abs()
             / torch.where(idcg > 0, idcg, torch.ones_like(idcg)).view(-1, 1, 1))
        w = torch.where(pairs & (idcg > 0).view(-1, 1, 1), w, torch.zeros_like(w))
    diff = s.unsqueeze(2) - s.unsqueeze(1)
    term = _softplus(diff * -sigma)
    values = (term * w.to(s.dtype)).flatten(1).sum(1)
    return values, (count > 0).to(s.dtype)


def _listnet(s, rel, lay):
    f = wide(s.device)
    r = torch.where(lay.real, rel.to(f), torch.full_like(rel, -math.inf, dtype=f))
    e = torch.exp(r - r.amax(1, keepdim=True))
    target = (e / e.sum(1, keepdim=True)).to(s.dtype)
    # pads are copies of real items, so the row maximum is a real item's score
    c = s.detach().amax(1, keepdim=True)
    sum_exp = (torch.exp(s - c) * lay.real.to(s.dtype)).sum(1, keepdim=True)
    lse = (torch.log(sum_exp) + c).squeeze(1)
    values = lse - (s * target).sum(1)
    return values, torch.ones_like(values)


def _listmle(s, rel, lay):
    # the label order: a stable sort of the shuffled slots by label, descending; the pads'
    # slots sort last
    key = _total_key(rel).gather(1, lay.shuffled)
    real_k = lay.real  # the real positions k < n_q are the first ones, as the real slots
    key = torch.where(real_k, key, torch.full_like(key, torch.iinfo(key.dtype).min))
    by_label = key.sort(dim=1, descending=True, stable=True).indices
    order = lay.shuffled.gather(1, by_label)
    # positions past n_q repeat the first item; they are masked out below
    order = torch.where(real_k, order, order[:, :1])
    s_pi = s.gather(1, order)
    top = torch.where(real_k, s_pi.detach(), torch.full_like(s_pi, -math.inf))
    best = top.flip(1).cummax(1).values.flip(1)
    shift = torch.where(real_k, best, torch.zeros_like(best))
    at = torch.arange(lay.len, device=s.device)
    suffix = ((at.view(1, 1, -1) >= at.view(1, -1, 1)) & real_k.unsqueeze(1)
              & real_k.unsqueeze(2)).to(s.dtype)
    z = (s_pi.unsqueeze(1) - shift.unsqueeze(2)) * suffix
    # pad positions have an empty suffix: adding 1 keeps their log finite (and 0)
    sum_exp = (torch.exp(z) * suffix).sum(2) + (~real_k).to(s.dtype)
    lse = torch.log(sum_exp) + shift
    terms = ((lse - s_pi) * real_k.to(s.dtype)).sum(1)
    values = terms * (1.0 / lay.count).to(s.dtype)
    return values, torch.ones_like(values)


def _approx_ndcg(s, rel, lay, temperature, gain, k):
    real = lay.real
    eye = torch.eye(lay.len, dtype=torch.bool, device=s.device)
    others = (real.unsqueeze(2) & real.unsqueeze(1) & ~eye).to(s.dtype)
    g = gains(rel, gain)
    idcg = ideal_dcg(g, real, k)
    w = torch.where(real, weights(g, idcg), torch.zeros_like(g)).to(s.dtype)
    diff = s.unsqueeze(1) - s.unsqueeze(2)  # s_j − s_i
    above = (torch.sigmoid(diff * (1.0 / temperature)) * others).sum(2)
    d = discount(above + 1, k)
    values = 1 - (d * w).sum(1)
    return values, (idcg > 0).to(s.dtype)


def ltr_loss(kind, scores, relevance, ids, k, gain, sigma, temperature, reduction, seed):
    """The baseline ``kind`` per query; ``reduction='none'`` gives one value per query id, in
    increasing id order (0 for a query without a signal)."""
    check_reduction(reduction)
    check_gain(gain)
    k = _check(kind, sigma, temperature, k)
    s, rel, ids = queries(scores, relevance, ids)
    lay = _layout(tuple(ids.tolist()), int(seed), kind == "listmle", plan_key(s.device))
    s_l = s.index_select(0, lay.index).view(lay.groups, lay.len)
    rel_l = rel.index_select(0, lay.index).view(lay.groups, lay.len)
    if kind == "mse":
        values, signal = _mse(s_l, rel_l, lay)
    elif kind == "ranknet":
        values, signal = _pairwise(s_l, rel_l, lay, sigma, None)
    elif kind == "lambdarank":
        values, signal = _pairwise(s_l, rel_l, lay, sigma, (gain, k))
    elif kind == "listnet":
        values, signal = _listnet(s_l, rel_l, lay)
    elif kind == "listmle":
        values, signal = _listmle(s_l, rel_l, lay)
    else:
        values, signal = _approx_ndcg(s_l, rel_l, lay, temperature, gain, k)
    return reduce(values, signal, reduction)
