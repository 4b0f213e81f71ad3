"""Rankers and rank losses as ``torch.autograd.Function``s (torch is imported only here).

Every function computes on the CPU through the Rust core and returns a tensor of the input's
dtype. float16 and bfloat16 inputs are computed in float32 and cast back. ``dim`` selects the
ranking axis of an N-d tensor. A tensor on another device is refused with a ``ValueError``:
nothing is copied across devices silently. Gradients reach the first input (scores,
predictions, similarities), never the targets or labels.

``soft_rank`` and ``soft_sort`` are drop-in replacements for torchsort's: same arguments, same
ascending convention, same values and gradients.

>>> import torch, sodeep.torch as st
>>> x = torch.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
>>> st.soft_rank(x, regularization_strength=0.01).tolist()
[[3.0, 1.0, 2.0]]
"""
import numpy as _numpy

try:
    import torch
except ImportError as e:  # torch is an optional dependency: only this module needs it
    raise ImportError(
        "sodeep.torch needs PyTorch: pip install torch (or sodeep[torch]); sodeep.numpy works "
        "without it") from e

from ._ops import lists_arg, op

__all__ = [
    "soft_rank", "soft_sort", "rank", "permutation", "sort", "argsort", "topk",
    "spearman_loss", "map_loss", "recall_loss", "rank_sum_loss", "ndcg_loss", "ltr_loss",
]

_COMPUTED = (torch.float32, torch.float64)
_CAST = (torch.float16, torch.bfloat16)


class _Apply(torch.autograd.Function):
    """``op.forward`` and its vector-Jacobian product as one autograd node; ``aux`` is a
    constant input. When a gradient is needed, the forward pass keeps the Rust autograd graph
    (a tape), so the backward pass does not compute the forward again."""

    @staticmethod
    def forward(ctx, x, o, aux, lists, seed):
        aux_np = None if aux is None else aux.detach().numpy()
        if ctx.needs_input_grad[0]:
            y, ctx.tape = o.forward_tape(x.detach().numpy(), aux_np, lists, seed)
        else:
            y = o.forward(x.detach().numpy(), aux_np, lists, seed)
        ctx.dtype = x.dtype
        return torch.from_numpy(y)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        g = grad.detach().to(ctx.dtype).contiguous().numpy()
        dx = ctx.tape.vjp(g)
        return torch.from_numpy(dx), None, None, None, None


def _tensor(x, what):
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(_numpy.asarray(x))
    if x.device.type != "cpu":
        raise ValueError(
            f"{what} is on {x.device}: sodeep computes on the CPU; move it with .cpu() first "
            "(nothing is copied across devices silently)")
    if x.dtype in _CAST:
        return x.to(torch.float32), x.dtype
    if x.dtype not in _COMPUTED:
        raise ValueError(f"{what} must be a floating-point tensor, got {x.dtype}")
    return x, x.dtype


def _constant(t, like, what):
    """A target-like input: no gradient, on the CPU, in the scores' dtype."""
    if t is None:
        return None
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(_numpy.asarray(t))
    if t.device.type != "cpu":
        raise ValueError(f"{what} is on {t.device}: move it with .cpu() first")
    return t.detach().to(like.dtype).contiguous()


def _rowwise(x, dim, o, keep_last=True):
    """Applies a ranking op to the ``dim`` axis of ``x``: that axis becomes the rows' length."""
    x, dtype = _tensor(x, "x")
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension to rank along")
    moved = x.movedim(dim, -1)
    lead = moved.shape[:-1]
    rows = moved.reshape(-1, moved.shape[-1]).contiguous()
    y = _Apply.apply(rows, o, None, None, 0)
    if keep_last:
        y = y.reshape(*lead, moved.shape[-1]).movedim(-1, dim)
    else:  # a (n, n) matrix per row
        y = y.reshape(*lead, *y.shape[-2:])
    return y.to(dtype)


def soft_rank(x, regularization_strength=1.0, regularization="l2", dim=-1):
    """torchsort's ``soft_rank``: ascending soft ranks 1..n along ``dim``."""
    return _rowwise(x, dim, op("soft_rank", float(regularization_strength), regularization, False))


def soft_sort(x, regularization_strength=1.0, regularization="l2", dim=-1):
    """torchsort's ``soft_sort``: values sorted ascending along ``dim``, softly."""
    return _rowwise(x, dim, op("soft_rank", float(regularization_strength), regularization, True))


def rank(x, ranker="softrank:eps=0.1", descending=False, normalized=False, dim=-1):
    """Differentiable ranks along ``dim`` through any ranker spec, shipped sorters included:
    ascending raw 1..n by default; ``descending=True, normalized=True`` is SoDeep's convention."""
    return _rowwise(x, dim, op("rank", ranker, bool(descending), bool(normalized)))


def permutation(x, ranker="neuralsort", dim=-1):
    """Relaxed permutation matrices ``(..., n, n)`` of the ``dim`` axis (descending: row k
    weighs the inputs of the k-th largest score)."""
    return _rowwise(x, dim, op("permutation", ranker), keep_last=False)


def sort(x, ranker="neuralsort", dim=-1):
    """The descending differentiable sort along ``dim``."""
    return _rowwise(x, dim, op("sort", ranker))


def argsort(x, ranker="neuralsort", dim=-1):
    """Soft argsort along ``dim``, descending: the expected 0-based index of the k-th largest."""
    return _rowwise(x, dim, op("argsort", ranker))


def topk(x, k, ranker="neuralsort", dim=-1):
    """Soft top-k membership along ``dim``: each position's weight among the k largest."""
    return _rowwise(x, dim, op("topk", ranker, int(k)))


def _loss(o, x, aux, lists, seed):
    x, dtype = _tensor(x, "the scores")
    x = x.contiguous()
    aux = _constant(aux, x, "the targets")
    ids = lists_arg(lists, x.shape[0])
    return _Apply.apply(x, o, aux, ids, int(seed)).to(dtype)


def spearman_loss(pred, target, ranker="softrank:eps=0.1", lists=None, reduction="mean", seed=0):
    """``mean_i (r(pred)_i − r*(target)_i)²``: the ranker's ranks of the predictions against
    the exact ranks of the targets. ``pred`` is ``(m,)``, ``(m, 1)`` or a ``(B, n)`` batch of
    lists; ``lists`` gives one group id per item (ranks within each group only)."""
    return _loss(op("spearman_loss", ranker, reduction), pred, target, lists, seed)


def map_loss(scores, labels, ranker="softrank:eps=0.1", lists=None, normalized=False,
             reduction="mean", seed=0):
    """Per label column: the sum of the positives' ranks among the ``(m, C)`` scores."""
    return _loss(op("map_loss", ranker, bool(normalized), reduction), scores, labels, lists, seed)


def recall_loss(sim, ranker="softrank:eps=0.1", margin=0.02, both_directions=True, reduction="mean",
                seed=0):
    """SoDeep's recall loss on a square similarity matrix whose positives lie on the diagonal."""
    return _loss(op("recall_loss", ranker, float(margin), bool(both_directions), reduction),
                 sim, None, None, seed)


def rank_sum_loss(sim, ranker="softrank:eps=0.1", both_directions=True, reduction="mean", seed=0):
    """The sum of the diagonal's ranks of a square similarity matrix."""
    return _loss(op("rank_sum_loss", ranker, bool(both_directions), reduction), sim, None, None,
                 seed)


def ndcg_loss(scores, relevance, ranker="softrank:eps=0.1", lists=None, k=None, gain="exp",
              reduction="mean", seed=0):
    """``1 − NDCG`` per query through any ranker (``lists``: one query id per document)."""
    k = None if k is None else int(k)
    return _loss(op("ndcg_loss", ranker, k, gain, reduction), scores, relevance, lists, seed)


def ltr_loss(kind, scores, relevance, lists=None, k=None, gain="exp", sigma=1.0,
             temperature=1.0, reduction="mean", seed=0):
    """A learning-to-rank baseline per query: ``mse``, ``ranknet``, ``lambdarank``,
    ``listnet``, ``listmle`` or ``approxndcg``."""
    k = None if k is None else int(k)
    return _loss(op("ltr_loss", kind, k, gain, float(sigma), float(temperature), reduction),
                 scores, relevance, lists, seed)
