"""Rankers and rank losses for torch tensors on any device (torch is imported only here).

Every function computes where its input lives and returns a tensor of the input's dtype on
the input's device:

- on the CPU, through the Rust core, as ``torch.autograd.Function``s;
- on any other device (CUDA, and ``meta``), as torch operations (``sodeep._torch``), with soft
  rank's isotonic step in a Triton kernel on CUDA: on torch's current stream, with no copy to
  the host and no synchronisation beyond torch's own. Values and gradients equal the CPU
  path's. ``backend("torch")`` runs that code path on CPU tensors too.

float16 and bfloat16 inputs (autocast's) are computed in float32 and cast back. ``dim`` selects
the ranking axis of an N-d tensor. Gradients reach the first input (scores, predictions,
similarities), never the targets or labels. Bad settings raise ``ValueError`` on every device;
the values of a device tensor are not checked (NaN scores are refused on the CPU only), since
reading them would synchronise the device.

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

import contextlib as _contextlib
import importlib as _importlib

from ._ops import lists_arg, op

__all__ = [
    "soft_rank", "soft_sort", "rank", "permutation", "sort", "argsort", "topk",
    "spearman_loss", "map_loss", "recall_loss", "rank_sum_loss", "ndcg_loss", "ltr_loss",
    "backend", "set_backend", "get_backend",
]

_BACKENDS = ("auto", "torch")
_backend = "auto"


def set_backend(name):
    """``"auto"`` (default): CPU tensors through the Rust core, others through torch ops.
    ``"torch"``: torch ops on every device, the CPU included (the device code path, testable
    without a GPU)."""
    global _backend
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend '{name}': use one of {', '.join(_BACKENDS)}")
    _backend = name


def get_backend():
    """The current backend (see ``set_backend``)."""
    return _backend


@_contextlib.contextmanager
def backend(name):
    """``set_backend(name)`` for the duration of a ``with`` block."""
    before = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(before)


def _on_device(x):
    """Whether ``x`` goes through the torch ops rather than the Rust core."""
    return _backend == "torch" or x.device.type != "cpu"


def _device(module):
    """A module of ``sodeep._torch`` (``rankers``, ``softrank`` or ``losses``), imported on
    first use: the CPU path never needs them."""
    return _importlib.import_module(f"sodeep._torch.{module}")


def _no_autocast(x):
    """The torch ops compute in the dtype they are given (float32 for half inputs), whatever
    autocast region the caller is in."""
    kind = x.device.type
    if kind in ("cuda", "cpu", "xpu", "mps"):
        return torch.autocast(kind, enabled=False)
    return _contextlib.nullcontext()

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
    if x.dtype in _CAST:
        return x.to(torch.float32), x.dtype
    if x.dtype not in _COMPUTED:
        raise ValueError(f"{what} must be a floating-point tensor, got {x.dtype}")
    return x, x.dtype


def _constant(t, like, what):
    """A target-like input: no gradient, on the scores' device, in the scores' dtype."""
    if t is None:
        return None
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(_numpy.asarray(t), device=like.device)
    if t.device != like.device:
        raise ValueError(f"{what} are on {t.device} but the scores on {like.device}: "
                         "put both on one device")
    return t.detach().to(like.dtype).contiguous()


def _rowwise(x, dim, o, device_fn, keep_last=True):
    """Applies a ranking op to the ``dim`` axis of ``x``: that axis becomes the rows' length.
    ``o`` is the core's op (CPU); ``device_fn(rows)`` the same op in torch operations."""
    x, dtype = _tensor(x, "x")
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension to rank along")
    if x.dim() == 2 and dim in (-1, 1) and keep_last and not _on_device(x):
        # rows already: no view to record, so the backward pass walks one node fewer per view
        return _Apply.apply(x.contiguous(), o, None, None, 0).to(dtype)
    moved = x.movedim(dim, -1)
    lead = moved.shape[:-1]
    rows = moved.reshape(-1, moved.shape[-1]).contiguous()
    if _on_device(x):
        if rows.shape[0] == 0 or rows.shape[1] == 0:
            raise ValueError(f"nothing to rank: x has shape {tuple(x.shape)}")
        with _no_autocast(x):
            y = device_fn(rows)
    else:
        y = _Apply.apply(rows, o, None, None, 0)
    if keep_last:
        y = y.reshape(*lead, moved.shape[-1]).movedim(-1, dim)
    else:  # a (n, n) matrix per row
        y = y.reshape(*lead, *y.shape[-2:])
    return y.to(dtype)


def soft_rank(x, regularization_strength=1.0, regularization="l2", dim=-1):
    """torchsort's ``soft_rank``: ascending soft ranks 1..n along ``dim``."""
    o = op("soft_rank", float(regularization_strength), regularization, False)
    return _rowwise(x, dim, o, lambda rows: _device("softrank").soft_rank(
        rows, float(regularization_strength), regularization))


def soft_sort(x, regularization_strength=1.0, regularization="l2", dim=-1):
    """torchsort's ``soft_sort``: values sorted ascending along ``dim``, softly."""
    o = op("soft_rank", float(regularization_strength), regularization, True)
    return _rowwise(x, dim, o, lambda rows: _device("softrank").soft_sort(
        rows, float(regularization_strength), regularization))


def _ranker(spec):
    return _device("rankers").build(spec)


def rank(x, ranker="softrank:eps=0.1", descending=False, normalized=False, dim=-1):
    """Differentiable ranks along ``dim`` through any ranker spec, shipped sorters included:
    ascending raw 1..n by default; ``descending=True, normalized=True`` is SoDeep's convention."""
    o = op("rank", ranker, bool(descending), bool(normalized))
    return _rowwise(x, dim, o, lambda rows: _device("rankers").rank_with(
        _ranker(ranker), rows, bool(descending), bool(normalized)))


def permutation(x, ranker="neuralsort", dim=-1):
    """Relaxed permutation matrices ``(..., n, n)`` of the ``dim`` axis (descending: row k
    weighs the inputs of the k-th largest score)."""
    return _rowwise(x, dim, op("permutation", ranker), lambda rows: _device("rankers").permutation(
        _ranker(ranker), rows), keep_last=False)


def sort(x, ranker="neuralsort", dim=-1):
    """The descending differentiable sort along ``dim``."""
    return _rowwise(x, dim, op("sort", ranker),
                    lambda rows: _device("rankers").sort(_ranker(ranker), rows))


def argsort(x, ranker="neuralsort", dim=-1):
    """Soft argsort along ``dim``, descending: the expected 0-based index of the k-th largest."""
    return _rowwise(x, dim, op("argsort", ranker),
                    lambda rows: _device("rankers").soft_argsort(_ranker(ranker), rows))


def topk(x, k, ranker="neuralsort", dim=-1):
    """Soft top-k membership along ``dim``: each position's weight among the k largest."""
    return _rowwise(x, dim, op("topk", ranker, int(k)),
                    lambda rows: _device("rankers").soft_top_k(_ranker(ranker), rows, int(k)))


def _loss(o, x, aux, lists, seed, device_fn):
    """A loss of scores ``x`` against constants ``aux``: the core's op ``o`` on the CPU, or
    ``device_fn(x, aux, ids, seed)`` in torch operations."""
    x, dtype = _tensor(x, "the scores")
    x = x.contiguous()
    aux = _constant(aux, x, "the targets")
    ids = lists_arg(lists, x.shape[0])
    if _on_device(x):
        with _no_autocast(x):
            return device_fn(x, aux, ids, int(seed)).to(dtype)
    return _Apply.apply(x, o, aux, ids, int(seed)).to(dtype)


def spearman_loss(pred, target, ranker="softrank:eps=0.1", lists=None, reduction="mean", seed=0):
    """``mean_i (r(pred)_i − r*(target)_i)²``: the ranker's ranks of the predictions against
    the exact ranks of the targets. ``pred`` is ``(m,)``, ``(m, 1)`` or a ``(B, n)`` batch of
    lists; ``lists`` gives one group id per item (ranks within each group only)."""
    return _loss(op("spearman_loss", ranker, reduction), pred, target, lists, seed,
                 lambda x, t, ids, sd: _device("losses").spearman_loss(
                     x, t, ranker, ids, reduction, sd))


def map_loss(scores, labels, ranker="softrank:eps=0.1", lists=None, normalized=False,
             reduction="mean", seed=0):
    """Per label column: the sum of the positives' ranks among the ``(m, C)`` scores."""
    return _loss(op("map_loss", ranker, bool(normalized), reduction), scores, labels, lists, seed,
                 lambda x, t, ids, sd: _device("losses").map_loss(
                     x, t, ranker, ids, bool(normalized), reduction, sd))


def recall_loss(sim, ranker="softrank:eps=0.1", margin=0.02, both_directions=True, reduction="mean",
                seed=0):
    """SoDeep's recall loss on a square similarity matrix whose positives lie on the diagonal."""
    return _loss(op("recall_loss", ranker, float(margin), bool(both_directions), reduction),
                 sim, None, None, seed,
                 lambda x, _, __, sd: _device("losses").recall_loss(
                     x, ranker, float(margin), bool(both_directions), reduction, sd))


def rank_sum_loss(sim, ranker="softrank:eps=0.1", both_directions=True, reduction="mean", seed=0):
    """The sum of the diagonal's ranks of a square similarity matrix."""
    return _loss(op("rank_sum_loss", ranker, bool(both_directions), reduction), sim, None, None,
                 seed, lambda x, _, __, sd: _device("losses").rank_sum_loss(
                     x, ranker, bool(both_directions), reduction, sd))


def ndcg_loss(scores, relevance, ranker="softrank:eps=0.1", lists=None, k=None, gain="exp",
              reduction="mean", seed=0):
    """``1 − NDCG`` per query through any ranker (``lists``: one query id per document)."""
    k = None if k is None else int(k)
    return _loss(op("ndcg_loss", ranker, k, gain, reduction), scores, relevance, lists, seed,
                 lambda x, t, ids, sd: _device("losses").ndcg_loss(
                     x, t, ranker, ids, k, gain, reduction, sd))


def ltr_loss(kind, scores, relevance, lists=None, k=None, gain="exp", sigma=1.0,
             temperature=1.0, reduction="mean", seed=0):
    """A learning-to-rank baseline per query: ``mse``, ``ranknet``, ``lambdarank``,
    ``listnet``, ``listmle`` or ``approxndcg``."""
    k = None if k is None else int(k)
    return _loss(op("ltr_loss", kind, k, gain, float(sigma), float(temperature), reduction),
                 scores, relevance, lists, seed,
                 lambda x, t, ids, sd: _device("losses").ltr_loss(
                     kind, x, t, ids, k, gain, float(sigma), float(temperature), reduction, sd))
