"""The rank and learning-to-rank losses of ``sodeep.torch`` as torch operations on any device,
with the core's values and gradients (one module per loss family; ``layout``: the core's
seeded grouping, exact ranks and reductions; ``ties``: the core's derivatives at ties).

What stays on the host: the settings (ranker spec, reduction, gain, k, σ, T, margin), the
shapes, the group ids and the seed, from which the core draws the layouts. What the core
checks from values, the device path does not (reading them would synchronise the device):
relevance labels must be finite and ≥ 0 (NDCG, LTR), scores must not be NaN, and the core's
memory budget is not estimated; those checks are made on the CPU path only. Shape and
argument errors raise ``ValueError`` with the core's messages.

>>> import torch
>>> from sodeep._torch.losses import ltr_loss
>>> s = torch.zeros(3, dtype=torch.float64)
>>> rel = torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64)
>>> round(ltr_loss("listnet", s, rel, None, None, "exp", 1.0, 1.0, "mean", 0).item(), 9)
1.098612289
"""
from .diagonal import rank_sum_loss, recall_loss
from .ltr import ltr_loss
from .map import map_loss
from .ndcg import ndcg_loss
from .spearman import spearman_loss

__all__ = ["spearman_loss", "map_loss", "recall_loss", "rank_sum_loss", "ndcg_loss", "ltr_loss"]
