"""Rank losses over the global batch of a data-parallel job (``torch.distributed``, DDP).

A rank loss is no sum over items: each item's rank depends on every other score of its list.
Under data parallelism process r holds one shard ``(B_r, ...)`` of the batch, so a loss over
the *global* batch needs every process's scores. ``all_gather`` concatenates the W shards
along dim 0, process 0's first, on every process, and keeps the gradient path to the local
shard; ``gather_lists`` does the same for group ids (host-side lists)::

    scores = all_gather(model(x).squeeze(1))          # (B_0 + ... + B_{W-1},), differentiable
    target = all_gather(y)                            # no gradient: y does not require one
    loss = sodeep.torch.spearman_loss(scores, target)  # the same value on every process
    (loss * torch.distributed.get_world_size()).backward()   # under DDP, see below

Shards may have different sizes B_r; the other dims must agree. The shapes are exchanged
first and read on the host (a few integers per process; on a GPU, a synchronisation).

Gradient convention. Every process computes the same global loss L from the gathered tensor.
``all_gather``'s backward averages the W processes' gradients of the gathered tensor and
returns the local slice, so each process's gradient of ``L`` with respect to its own scores
is ∂L/∂(its scores) on the concatenated batch, exactly as in one process. (Summing instead,
as ``torch.distributed.nn.functional.all_gather`` does, would give W times that.) More
generally, when the processes compute different losses L_r from the gathered tensor, the
local gradient is that of their mean (1/W) Σ_r L_r.

Under DDP. DDP averages the W processes' parameter gradients, which is right for W shard
losses whose mean is the objective. Here each process holds the whole objective L, and its
parameter gradient is its own shard's part of ∂L/∂θ; the average is thus ∂L/∂θ / W.
Back-propagating ``loss * world_size`` restores it: every process then ends with the
parameter gradients of single-process training on the global batch (the optimizer step and
learning rate carry over unchanged). Every process must run the backward pass through each
gathered tensor that requires a gradient (the backward is a collective).

Group ids. ``gather_lists(ids)`` concatenates the processes' lists in the same order. By
default an id means the same group on every process (e.g. a dataset-wide query id whose
documents are split across processes). ``distinct=True`` keeps each process's groups apart
(e.g. ids 0..q-1 numbered within each process): process r's ids are shifted by the sum of
(largest id + 1) over processes 0..r-1, which keeps them in the same order. Losses that draw
a seeded grouping (fixed-length sorters, padded lists) must get the same ``seed`` on every
process, as they do by default.

Without an initialised process group (or with a single process) both functions return their
input, so the same code runs in one process.

>>> import torch
>>> from sodeep.distributed import all_gather, gather_lists
>>> all_gather(torch.tensor([0.5, -1.0])).tolist(), gather_lists([2, 0], distinct=True)
([0.5, -1.0], [2, 0])
"""
import torch
import torch.distributed as dist

from ._ops import lists_arg

__all__ = ["all_gather", "gather_lists"]


def _world(group):
    """The number of processes of ``group``, 1 without an initialised process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


class _AllGather(torch.autograd.Function):
    """Concatenation of the processes' shards; the backward averages the processes' gradients
    of the concatenation and returns the local slice."""

    @staticmethod
    def forward(ctx, x, group):
        world = dist.get_world_size(group)
        me = dist.get_rank(group)
        # the shapes first (host-side sizes): shards may differ in length along dim 0
        shape = torch.tensor(x.shape, dtype=torch.int64, device=x.device)
        shapes = [torch.empty_like(shape) for _ in range(world)]
        dist.all_gather(shapes, shape, group=group)
        shapes = [tuple(s.tolist()) for s in shapes]
        if any(s[1:] != shapes[0][1:] for s in shapes):
            # every process sees the same shapes, so every process raises: no one waits
            raise ValueError(f"all_gather: the shards differ beyond dim 0: shapes {shapes}")
        sizes = [s[0] for s in shapes]
        longest = max(sizes)
        # collectives move equal-sized buffers: pad to the longest shard, cut after
        padded = x.new_zeros((longest,) + tuple(x.shape[1:]))
        padded[:sizes[me]] = x
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded, group=group)
        ctx.group, ctx.world = group, world
        ctx.start, ctx.size = sum(sizes[:me]), sizes[me]
        return torch.cat([p[:b] for p, b in zip(parts, sizes)])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        # a copy: the reduction works in place, and autograd may share the incoming buffer
        total = grad.contiguous().clone()
        dist.all_reduce(total, group=ctx.group)
        mine = total[ctx.start:ctx.start + ctx.size]
        return mine / ctx.world, None


def all_gather(x, group=None):
    """The processes' ``(B_r, ...)`` tensors concatenated along dim 0 in process order, on every
    process of ``group`` (default: all). Differentiable: the gradient reaching ``x`` is the
    average of the processes' gradients of the result, restricted to ``x``'s slice (see the
    module docs for what that means under DDP). Returns ``x`` without a process group."""
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        raise ValueError("all_gather needs a tensor with a dim 0 to concatenate along")
    if _world(group) == 1:
        return x
    return _AllGather.apply(x.contiguous(), group)


def gather_lists(lists, group=None, distinct=False):
    """The processes' group ids (one non-negative int per local item, or None) concatenated in
    process order, as a Python list, on every process of ``group``. ``distinct=True`` shifts
    each process's ids past the previous processes' so that no two processes share a group.
    None on every process gives None (one list of the global batch)."""
    ids = None if lists is None else lists_arg(lists, len(lists))
    if _world(group) == 1:
        return ids
    every = [None] * dist.get_world_size(group)
    dist.all_gather_object(every, ids, group=group)
    if all(part is None for part in every):
        return None
    if any(part is None for part in every):
        # the same on every process, so every process raises
        raise ValueError("gather_lists: some processes gave group ids and others None")
    out, shift = [], 0
    for part in every:
        out.extend(i + shift for i in part)
        if distinct and part:  # without distinct, shift stays 0
            shift += max(part) + 1
    return out
