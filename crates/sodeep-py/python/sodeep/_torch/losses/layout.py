"""How a loss lays out its items on the device: the core's seeded grouping, exact ranks of
constants, and the reductions (the core's ``loss/grouping.rs`` and ``loss/mod.rs``).

The grouping rule (lists of items, groups of the ranker's length L, shuffles and pads drawn
from one seeded stream per loss call) depends on host-side settings only: the number of items
m, the group ids, the ranker's fixed length and the seed. ``Layouts(seed)`` draws it from the
core (``sodeep._native.Groupings``) and ships the index tensors to the device; the values are
then gathered on the device. Exact ranks of a ``(G, L)`` tensor, ties sharing their mean rank,

    r*_i = (L + 1 − (#{j: v_j < v_i} + #{j: v_j ≤ v_i} + 1) / 2) / L,

come from a sort and two binary searches per row, so no value leaves the device.

>>> import torch
>>> from sodeep._torch.losses.layout import exact_ranks
>>> exact_ranks(torch.tensor([[3.0, 1.0, 3.0, 2.0]])).mul(4).tolist()
[[1.5, 4.0, 1.5, 3.0]]
"""
from functools import lru_cache

import numpy as np
import torch

from ..._native import Groupings

_REDUCTIONS = ("mean", "sum", "none")


def to_device(values, device, dtype=torch.int64):
    """A host-side setting (an array or a list) as a tensor on ``device``; on CUDA through
    pinned memory and a non-blocking copy, so the device is not synchronised."""
    t = torch.as_tensor(np.asarray(values)).to(dtype)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def wide(device):
    """The dtype that constants derived from labels are computed in: float64 as the core
    computes them on the host, except on devices without float64."""
    return torch.float32 if device.type == "mps" else torch.float64


class Drawn:
    """``m`` items in ``groups × len`` slots, as ``sodeep::loss::Grouping`` lays them out, on
    the host (numpy): ``index`` (G·L items), ``mask`` (G·L, 1 for an item's own copy, 0 for
    a pad) and ``slot`` (m, each item's own slot)."""

    def __init__(self, groups, length, index, mask, slot):
        self.groups, self.len, self.index, self.mask, self.slot = groups, length, index, mask, slot


class Layout:
    """A ``Drawn`` layout on ``device``: ``index`` and ``slot`` (int64), ``mask`` (G × L,
    in the wide dtype)."""

    def __init__(self, drawn, device):
        self.groups, self.len = drawn.groups, drawn.len
        self.index = to_device(drawn.index, device)
        self.slot = to_device(drawn.slot, device)
        self.mask = to_device(drawn.mask, device, wide(device)).view(self.groups, self.len)

    def gather(self, values):
        """``values`` (m or m × k) laid out as G × L (or G × L × k)."""
        return values.index_select(0, self.index).reshape(
            self.groups, self.len, *values.shape[1:])

    def scatter_back(self, per_slot):
        """A G × L per-slot tensor back to the m items, in their order."""
        return per_slot.reshape(-1).index_select(0, self.slot)


class Layouts:
    """One loss call's random stream: each ``next`` lays out a batch (a ``Drawn``) as the
    core's loss does at the same point of its stream (a loss that groups twice draws
    twice)."""

    def __init__(self, seed):
        self._stream = Groupings(int(seed))

    def next(self, m, ids, fixed_len):
        return Drawn(*self._stream.next(m, None if ids is None else list(ids), fixed_len))

    def shuffle(self, n):
        """The order in which the core's ``slice.shuffle`` leaves ``[0, n)`` at this point of
        the stream (ListMLE's tie order)."""
        return self._stream.shuffle(n)


def plan_key(device):
    """What a cached plan of device tensors is keyed by besides its settings: the device and,
    on CUDA, the current stream, so that a cached tensor is only read on the stream its copy
    was queued on."""
    if device.type == "cuda":
        return device, torch.cuda.current_stream(device).cuda_stream
    return device, None


def first_layout(m, ids, fixed_len, seed, device):
    """The first layout of a loss call's stream, cached: it depends on settings only."""
    ids = None if ids is None else tuple(int(i) for i in ids)
    return _first_layout(m, ids, fixed_len, int(seed), plan_key(device))


@lru_cache(maxsize=16)
def _first_layout(m, ids, fixed_len, seed, key):
    return Layout(Layouts(seed).next(m, ids, fixed_len), key[0])


def members_by_id(ids, m):
    """The items of each group id: groups in increasing id order, items in index order
    (``members_by_id`` of the core). ``ids`` None: one group of all m."""
    if ids is None:
        return [np.arange(m, dtype=np.int64)]
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    cuts = np.flatnonzero(np.diff(ids[order])) + 1
    return np.split(order, cuts)


def exact_ranks(values):
    """Exact SoDeep ranks of every row of a ``(G, L)`` tensor, ties sharing their mean rank,
    computed in float64 as the core does and returned in ``values``' dtype, without a
    gradient."""
    v = values.detach()
    ordered = v.sort(dim=-1).values.contiguous()
    v = v.contiguous()
    below = torch.searchsorted(ordered, v, right=False)
    upto = torch.searchsorted(ordered, v, right=True)
    n = v.shape[-1]
    f = wide(v.device)
    ascending = (below + upto + 1).to(f) / 2
    return ((n + 1 - ascending) / n).to(values.dtype)


def check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"invalid argument: unknown reduction '{reduction}': "
                         "use mean, sum or none")


def reduce(values, weights, reduction):
    """``values`` (1-D) reduced where ``weights`` (0 or 1) says which count: ``none`` gives
    ``values · weights``, ``sum`` their sum, ``mean`` that sum over ``max(Σ weights, 1)``."""
    counted = values * weights
    if reduction == "none":
        return counted
    if reduction == "sum":
        return counted.sum()
    return counted.sum() / weights.sum().clamp(min=1)


def shape_of(t):
    """A shape as the core prints it: ``[3, 4]``."""
    return str(list(t.shape))


def as_vector(t, what):
    """A 1-D view of ``m`` values given as ``m`` or ``m × 1`` (the core's ``as_vector``)."""
    if t.dim() == 1:
        return t
    if t.dim() == 2 and t.shape[1] == 1:
        return t.reshape(t.shape[0])
    raise ValueError(f"invalid argument: {what} must be a vector of m values (or m × 1), "
                     f"got shape {shape_of(t)}")


def rows_as_lists(pred, target):
    """For a ``B × n`` batch with n > 1 (each row one list): ``(B, n, row ids)``; None for a
    vector of m values (the core's ``rows_as_lists``)."""
    if pred.dim() == 2 and pred.shape[1] > 1:
        b, n = pred.shape
        if tuple(target.shape) != (b, n):
            raise ValueError(f"invalid argument: predictions are a {b} × {n} batch of lists, "
                             f"but the targets have shape {shape_of(target)}")
        return b, n, np.repeat(np.arange(b, dtype=np.int64), n)
    return None
