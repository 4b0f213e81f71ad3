"""The mAP loss on the device (the core's ``MapLoss``): for each label column c,

    L_c = Σ_{i: y_ic = 1} r(ŷ_·c)_i      (÷ the number of positives when normalized),

the ranker's ranks of the positives among their group of the core's seeded layout, every
column ranked within every group. Columns without a positive give 0 and are left out of the
mean: which columns have one is a mask on the device, not a host-side choice.

>>> import torch
>>> from sodeep._torch.losses import map_loss
>>> scores = torch.tensor([[3.0], [2.0], [1.0]], dtype=torch.float64)
>>> labels = torch.tensor([[1.0], [0.0], [1.0]], dtype=torch.float64)
>>> v = map_loss(scores, labels, "softrank:eps=0.001", None, False, "mean", 0)
>>> round(v.item() * 3, 6)  # ranks 1/3 and 3/3
4.0
"""
from .. import rankers
from .layout import check_reduction, first_layout, reduce, shape_of


def map_loss(scores, labels, ranker, ids, normalized, reduction, seed):
    """``scores`` and 0/1 ``labels`` are ``(m, C)``; ``ids`` one group id per row (or None).
    ``reduction='none'`` gives one value per column."""
    check_reduction(reduction)
    if scores.dim() != 2:
        raise ValueError("invalid argument: scores must be m × C (one column per label), "
                         f"got shape {shape_of(scores)}")
    m, c = scores.shape
    if tuple(labels.shape) != (m, c):
        raise ValueError(f"invalid argument: labels have shape {shape_of(labels)} but scores "
                         f"{shape_of(scores)}")
    r = rankers.build(ranker)
    g = first_layout(m, ids, r.fixed_len, seed, scores.device)
    groups, length = g.groups, g.len

    def by_column(t):
        # C·G rows of L values: every column within every group
        return g.gather(t).permute(2, 0, 1).reshape(c * groups, length)

    ranks = r.rank(by_column(scores))
    mask = g.mask.to(scores.dtype).reshape(1, groups * length).expand(c, -1)
    positives = by_column(labels) * mask.reshape(c * groups, length)
    per_column = (ranks * positives).reshape(c, groups * length).sum(1)
    counts = positives.reshape(c, groups * length).sum(1)
    has = (counts > 0).to(scores.dtype)
    if normalized:
        per_column = per_column / counts.clamp(min=1)
    return reduce(per_column, has, reduction)
