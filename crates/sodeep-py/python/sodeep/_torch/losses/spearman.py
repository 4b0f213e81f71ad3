"""The Spearman loss on the device (the core's ``SpearmanLoss``):

    L = mean_i (r(ŷ)_i − r*(y)_i)²,

the ranker's ranks of the predictions against the exact ranks of the targets (tied targets
share their mean rank), both within the groups of the core's seeded layout; pads are ranked
with their group and dropped after, so each item counts once.

>>> import torch
>>> from sodeep._torch.losses import spearman_loss
>>> pred = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
>>> target = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
>>> round(spearman_loss(-pred, target, "softrank:eps=0.001", None, "mean", 0).item(), 9)
0.0
>>> round(spearman_loss(pred, target, "softrank:eps=0.001", None, "mean", 0).item(), 4)
0.3125
"""
import torch

from .. import rankers
from .layout import (as_vector, check_reduction, exact_ranks, first_layout, reduce,
                     rows_as_lists)


def spearman_loss(pred, target, ranker, ids, reduction, seed):
    """``pred`` is ``(m,)``, ``(m, 1)`` or a ``(B, n)`` batch of lists; ``target`` likewise;
    ``ids`` one group id per item (or None). ``reduction='none'`` gives one value per item
    (``(B, n)`` for a batch)."""
    check_reduction(reduction)
    batch = None if ids is not None else rows_as_lists(pred, target)
    if batch is not None:
        b, n, ids = batch
        pred, target = pred.reshape(-1), target.reshape(-1)
    pred = as_vector(pred, "predictions")
    target = as_vector(target, "targets")
    m = pred.shape[0]
    if target.shape[0] != m:
        raise ValueError(f"invalid argument: {m} predictions but {target.shape[0]} targets")
    r = rankers.build(ranker)
    g = first_layout(m, ids, r.fixed_len, seed, pred.device)
    r_pred = r.rank(g.gather(pred))
    r_true = exact_ranks(g.gather(target))
    per_item = g.scatter_back((r_pred - r_true).square())
    out = reduce(per_item, torch.ones_like(per_item), reduction)
    if batch is not None and reduction == "none":
        return out.reshape(b, n)
    return out
