"""Differentiable sorting networks (Petersen et al., ICML 2021 and ICLR 2022) on torch tensors,
the core's ``relax/diffsort``: the same compiled networks, the same relaxed comparator and the
same hand-written backward passes, one layer of disjoint comparators at a time.

A comparator ``(lo, hi)`` mixes the values in its two slots with ``α = f(s·(x_hi − x_lo))``:
``x_lo ← α·x_lo + (1 − α)·x_hi`` (soft min), ``x_hi ← (1 − α)·x_lo + α·x_hi`` (soft max), ``f``
one of ``logistic``, ``logistic_phi``, ``cauchy``, ``reciprocal`` and ``s`` the steepness.
Odd-even transposition has n layers; bitonic runs on the next power of two with ``+∞`` pads,
every comparator between a value and a pad resolved when the network is compiled (the value
is the min, exactly), so pads never reach the arithmetic.

The ascending 0-based soft rank of input i is ``(M_1 ⋯ M_L · [0, …, n−1])_i`` (the mixing
matrices are symmetric), so the SoDeep ranks ``(n − asc)/n`` need no permutation matrix.

The computation runs in float64, as the core's does (it widens every row), and the results are
rounded to the input's dtype: in float32 a steep comparator amplifies the rounding of the values
it compares (``s·Δ``), and ``α·(1 − α)`` loses its digits as α nears 1. Devices without float64
keep float32.

>>> import torch
>>> from sodeep._torch.diffsort import DiffSort
>>> x = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)
>>> r = DiffSort("bitonic", 1000.0, "cauchy")
>>> r.rank(x).mul(3).round().tolist(), r.sort(x).round(decimals=2).tolist()
([[2.0, 3.0, 1.0]], [[2.0, 0.3, -1.0]])
"""
import math
from functools import lru_cache

import torch

from .rankers import TorchRanker

#: the exponent λ of ``logistic_phi`` (diffsort's ``art_lambda``) and its ``|Δ| + ε`` guard
ART_LAMBDA = 0.25
PHI_EPS = 1e-10

DISTRIBUTIONS = ("logistic", "logistic_phi", "cauchy", "reciprocal")


@lru_cache(maxsize=64)
def compile_network(network, n):
    """The network for ``n`` inputs as ``(layers, out_slot)``: each layer a tuple of disjoint
    ``(lo, hi)`` slot pairs (empty layers dropped), ``out_slot[k]`` the slot holding the k-th
    smallest value at the end (the core's ``Network::compile``)."""
    layers = []
    if network == "oddeven":
        for l in range(n):
            layers.append(tuple((i, i + 1) for i in range(l % 2, n - 1, 2)))
        out_slot = tuple(range(n))
    else:
        wires = 1 << max(n - 1, 0).bit_length()
        k = wires.bit_length() - 1
        pad = None
        slot = [w if w < n else pad for w in range(wires)]
        for block in range(k):
            for layer in range(block + 1):
                m = 1 << (block - layer)
                pairs = []
                for i in range(0, wires, 2 * m):
                    for a in range(i, i + m):
                        b = a + m
                        # the direction alternates between blocks of 2^(block+1) wires
                        to_min, to_max = (b, a) if (a >> (block + 1)) & 1 else (a, b)
                        if slot[to_min] is not pad and slot[to_max] is not pad:
                            pairs.append((slot[to_min], slot[to_max]))
                        elif slot[to_min] is pad and slot[to_max] is not pad:
                            # real vs pad: the real value is the min, exactly
                            slot[to_min], slot[to_max] = slot[to_max], pad
                layers.append(tuple(pairs))
        # the pads end on the last wires; the real slots in wire order are the ascending output
        out_slot = tuple(s for s in slot if s is not pad)
    return tuple(l for l in layers if l), out_slot


def _index(values, device):
    """A host-side setting as an int64 tensor on ``device``; on CUDA through pinned memory
    and a non-blocking copy, so the device is not synchronised."""
    t = torch.tensor(values, dtype=torch.int64)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


class _Net:
    """A compiled network on one device: per layer the ``lo`` and ``hi`` index tensors (from
    one copy of the whole network) and the comparators' column range in the tapes."""

    def __init__(self, network, n, device):
        layers, out_slot = compile_network(network, n)
        self.n = n
        flat = [p for layer in layers for pair in layer for p in pair]
        pairs = _index(flat if flat else [0, 0], device).view(-1, 2)
        self.layers = []
        start = 0
        for layer in layers:
            end = start + len(layer)
            lo, hi = pairs[start:end, 0].contiguous(), pairs[start:end, 1].contiguous()
            self.layers.append((lo, hi, start, end))
            start = end
        self.m = start
        self.out_slot = _index(list(out_slot), device)


@lru_cache(maxsize=32)
def _cached_net(network, n, device, stream):
    return _Net(network, n, device)


def _net(network, n, device):
    """The compiled network on ``device``, cached per CUDA stream: its index tensors are
    copied on the stream that first uses them, so only that stream may read them unsynced."""
    stream = torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else None
    return _cached_net(network, n, device, stream)


def _working_dtype(x):
    """float64 wherever the device has it (see the module docs)."""
    return x.dtype if x.device.type == "mps" else torch.float64


def _alpha(dist, delta, s):
    """``(α, dα/dΔ)`` of the comparators at ``Δ = x_hi − x_lo``; where ``s·Δ`` is not finite
    the comparator is hard, with no slope."""
    v = s * delta
    if dist == "logistic":
        a = torch.sigmoid(v)
        da = s * a * (1 - a)
    elif dist == "logistic_phi":
        ad = delta.abs() + PHI_EPS
        scale = 1.0 / ad.sqrt().sqrt()  # (|Δ| + ε)^−λ, λ = ¼
        a = torch.sigmoid(v * scale)
        # d/dΔ [s·Δ·(|Δ|+ε)^−λ] = s·(|Δ|+ε)^−λ·(1 − λ·|Δ|/(|Δ|+ε))
        da = a * (1 - a) * (s * scale * (1 - ART_LAMBDA * delta.abs() / ad))
    elif dist == "cauchy":
        a = torch.atan(v) / math.pi + 0.5
        da = s / (math.pi * (1 + v * v))
    else:  # reciprocal
        d = 2 + v.abs()
        a = 0.5 * (v / d + 1)
        da = s / (d * d)
    finite = torch.isfinite(v)
    a = torch.where(finite, a, (v > 0).to(v.dtype))
    da = torch.where(finite, da, torch.zeros_like(da))
    return a, da


def _mix(buf, lo, hi, a):
    """A layer's comparators applied in place to ``buf`` along dimension 1 (slots), weight ``a``
    shaped to broadcast over the remaining dimensions."""
    p = buf.index_select(1, lo)
    q = buf.index_select(1, hi)
    buf.index_copy_(1, lo, a * p + (1 - a) * q)
    buf.index_copy_(1, hi, (1 - a) * p + a * q)


def _sweep(net, dist, s, x):
    """The values through the network: the final slots and the tape ``(α, dα/dΔ, x_lo − x_hi)``,
    each ``(B, m)`` in execution order."""
    buf = x.clone()
    shape = (x.shape[0], net.m)
    alpha, dalpha, diff = (x.new_empty(shape) for _ in range(3))
    for lo, hi, start, end in net.layers:
        p = buf.index_select(1, lo)
        q = buf.index_select(1, hi)
        a, da = _alpha(dist, q - p, s)
        buf.index_copy_(1, lo, a * p + (1 - a) * q)
        buf.index_copy_(1, hi, (1 - a) * p + a * q)
        alpha[:, start:end] = a
        dalpha[:, start:end] = da
        diff[:, start:end] = p - q
    return buf, (alpha, dalpha, diff)


def _position_vector(net, like):
    """``[0, …, n−1]`` on the slots that hold the sorted positions."""
    v = torch.zeros_like(like)
    pos = torch.arange(net.n, device=like.device, dtype=like.dtype).expand_as(like)
    return v.scatter_(1, net.out_slot.expand_as(like), pos)


def _ascending_ranks(net, alpha, like):
    v = _position_vector(net, like)
    for lo, hi, start, end in reversed(net.layers):
        _mix(v, lo, hi, alpha[:, start:end])
    return v


def _back_step(gb, lo, hi, a, da, diff, galpha):
    """One layer of the reverse pass through the value trajectory (the core's
    ``back_through_values``): per comparator ``∂L/∂Δ = α'·(g_α + (g_lo − g_hi)(x_lo − x_hi))``,
    exactly 0 where α' is (a saturated comparator, whose difference may be infinite)."""
    gl = gb.index_select(1, lo)
    gh = gb.index_select(1, hi)
    dg = gl - gh
    slope = da * (galpha + dg * diff)
    gd = torch.where(da == 0, torch.zeros_like(slope), slope)
    t = dg * a
    gb.index_copy_(1, lo, gh + t - gd)
    gb.index_copy_(1, hi, gl - t + gd)


def _columns(net, alpha, like, diffs=False):
    """X's columns per slot, ``(B, n slots, n inputs)``, built by mixing rows of the identity;
    with ``diffs``, also each comparator's pre-mixing ``col_lo − col_hi`` per layer."""
    b, n = like.shape
    cols = torch.eye(n, device=like.device, dtype=like.dtype).expand(b, n, n).clone()
    kept = []
    for lo, hi, start, end in net.layers:
        if diffs:
            kept.append(cols.index_select(1, lo) - cols.index_select(1, hi))
        _mix(cols, lo, hi, alpha[:, start:end].unsqueeze(-1))
    return cols, kept


class _Ranks(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, net, dist, s):
        _, tape = _sweep(net, dist, s, x)
        ctx.net = net
        ctx.save_for_backward(*tape)
        n = x.shape[-1]
        return (n - _ascending_ranks(net, tape[0], x)) / n

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        # the core's Tape::ranks_vjp: w = M_l ⋯ M_1·(−g/n) forward, storing w_lo − w_hi; then in
        # reverse ∂L/∂α_l = (w_lo − w_hi)(v_lo − v_hi), v rebuilt from [0, …, n−1]
        alpha, dalpha, diff = ctx.saved_tensors
        net = ctx.net
        n = g.shape[-1]
        w = -g / n
        dw = torch.empty_like(alpha)
        for lo, hi, start, end in net.layers:
            dw[:, start:end] = w.index_select(1, lo) - w.index_select(1, hi)
            _mix(w, lo, hi, alpha[:, start:end])
        v = _position_vector(net, g)
        gb = torch.zeros_like(g)  # the ranks do not read the final values
        for lo, hi, start, end in reversed(net.layers):
            a = alpha[:, start:end]
            galpha = dw[:, start:end] * (v.index_select(1, lo) - v.index_select(1, hi))
            _mix(v, lo, hi, a)
            _back_step(gb, lo, hi, a, dalpha[:, start:end], diff[:, start:end], galpha)
        return gb, None, None, None


class _Sort(torch.autograd.Function):
    """The descending soft sort: the final slots in reverse order of position."""

    @staticmethod
    def forward(ctx, x, net, dist, s):
        buf, tape = _sweep(net, dist, s, x)
        ctx.net = net
        ctx.save_for_backward(*tape)
        return buf.index_select(1, net.out_slot.flip(0))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        alpha, dalpha, diff = ctx.saved_tensors
        net = ctx.net
        gb = torch.zeros_like(g).index_copy_(1, net.out_slot.flip(0), g)
        zero = torch.zeros((), device=g.device, dtype=g.dtype)
        for lo, hi, start, end in reversed(net.layers):
            _back_step(gb, lo, hi, alpha[:, start:end], dalpha[:, start:end],
                       diff[:, start:end], zero)
        return gb, None, None, None


class _Permutation(torch.autograd.Function):
    """``P[k, i] = X[i, n−1−k]``: row k weighs the inputs for the k-th largest score."""

    @staticmethod
    def forward(ctx, x, net, dist, s):
        _, tape = _sweep(net, dist, s, x)
        ctx.net = net
        ctx.save_for_backward(*tape)
        cols, _ = _columns(net, tape[0], x)
        return cols.index_select(1, net.out_slot.flip(0))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        # the core's Tape::permutation_vjp: the columns' pre-mixing differences d, then in
        # reverse ∂L/∂α = Σ_i (G_lo − G_hi)_i·d_i with G mixed back like the columns
        alpha, dalpha, diff = ctx.saved_tensors
        net = ctx.net
        b, n = alpha.shape[0], g.shape[-1]
        _, diffs = _columns(net, alpha, g[:, 0], diffs=True)
        gc = torch.zeros_like(g).index_copy_(1, net.out_slot.flip(0), g)
        galpha = torch.empty_like(alpha)
        for (lo, hi, start, end), d in zip(reversed(net.layers), reversed(diffs)):
            galpha[:, start:end] = ((gc.index_select(1, lo) - gc.index_select(1, hi)) * d).sum(-1)
            _mix(gc, lo, hi, alpha[:, start:end].unsqueeze(-1))
        gb = g.new_zeros(b, n)
        for lo, hi, start, end in reversed(net.layers):
            _back_step(gb, lo, hi, alpha[:, start:end], dalpha[:, start:end],
                       diff[:, start:end], galpha[:, start:end])
        return gb, None, None, None


class DiffSort(TorchRanker):
    """``diffsort-oddeven`` / ``diffsort-bitonic``: ranks, permutation and descending sort."""

    def __init__(self, network, steepness, dist):
        if network not in ("oddeven", "bitonic"):
            raise ValueError(f"diffsort: unknown network '{network}'")
        if dist not in DISTRIBUTIONS:
            raise ValueError(f"diffsort: unknown distribution '{dist}': use one of "
                             f"{', '.join(DISTRIBUTIONS)}")
        self.network = network
        self.steepness = float(steepness)
        self.dist = dist
        self.name = f"diffsort-{network}"

    def _apply(self, fn, x):
        net = _net(self.network, x.shape[-1], x.device)
        return fn.apply(x.to(_working_dtype(x)), net, self.dist, self.steepness).to(x.dtype)

    def rank(self, x):
        return self._apply(_Ranks, x)

    def permutation(self, x):
        return self._apply(_Permutation, x)

    def sort(self, x):
        return self._apply(_Sort, x)


def from_knobs(family, knobs, spec):
    """``diffsort-oddeven`` and ``diffsort-bitonic``, knobs ``steepness`` and ``dist``."""
    return DiffSort(family.split("-", 1)[1], float(knobs["steepness"]), knobs["dist"])
