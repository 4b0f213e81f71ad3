"""The isotonic step of soft rank and soft sort as a Triton kernel: a parallel
pool-adjacent-violators (PAV) solver, one program per row, the CUDA kernel of the
``sodeep::isotonic`` op (``isotonic.py``).

For each row it finds the non-increasing fit of ``s`` against ``w`` that the core's
``sodeep::relax::softrank::isotonic`` finds, as PAV blocks: L2, a block's value is the mean of
``y = s − w`` over it; KL, ``log Σ e^{s_j} − log Σ e^{w_j}``. A later block violates an earlier
one when its value is larger, and violators are pooled (merged). The unique solution does not
depend on the order in which adjacent violators are pooled, which is what lets the work split:

1. *Chunks.* The row is cut into ``L`` contiguous chunks of ``C`` positions, one per lane
   (``L·C ≥ n``, ``L`` a power of two ≤ 1024). Each lane runs the sequential PAV on its chunk,
   all lanes in step: position ``p`` opens a block ``[p, p + 1)``, which absorbs the block
   before it while it violates it, as the core's stack does.
2. *Tree.* Neighbouring solved segments merge pairwise, ``⌈log₂(n/C)⌉`` levels. Only the
   boundary can violate: the left segment's last block starts the merge, and the current block
   absorbs its left and its right neighbours (within the merged segment) while either violates
   it. Absorbing both at once is two valid PAV steps: absorbing one neighbour moves the value
   away from the other, which therefore still violates.
3. *Starts.* A position's block start is the largest live block start at or before it: a
   prefix maximum, by scans over tiles of ``L`` positions.

Blocks live in per-row global scratch as a linked structure: ``nxt[st] = en`` for a live
block ``[st, en)`` (0 once ``st`` is absorbed, so live ⇔ ``nxt[p] > p``), ``prv[en − 1] = st``
(so the block before ``st`` starts at ``prv[st − 1]``), and its sums at ``st``: L2, ``Σ y`` in
``a`` (its length is ``en − st``); KL, ``log Σ e^s`` in ``a`` and ``log Σ e^w`` in ``b``. Sums
are float64 whatever the input's dtype, and pooled as the core pools them (the later block's
sum times the earlier's length against the converse for L2; ``log-sum-exp`` pairs for KL).

Work: O(n) per row (each pooling removes one block; every lane steps over its C positions, a
merge looks at one neighbour pair per pooling). Depth: the sum over the C chunk steps of the
most poolings any lane makes at that step, plus the sum over the levels of the most poolings
one merge makes, plus C for the starts: O(C + log n) when blocks are local (the common case,
rows that pool whole included: each chunk step pools once, each merge once), O(n) at worst (a
block that absorbs half the row one block at a time at the top level). Every step ends with a
block-wide barrier, since one lane's stores are read by other lanes' threads.

Runs under ``TRITON_INTERPRET=1`` on CPU tensors (how the tests check it without a GPU).

>>> from sodeep._torch.isotonic_triton import plan
>>> plan(1000)  # 128 lanes of 8 positions, 7 levels of merges
(128, 8, 7)

On a CUDA tensor (or a CPU one under the interpreter):

>>> import torch
>>> from sodeep._torch.isotonic_triton import isotonic
>>> v, st = isotonic(torch.tensor([[1.0, 3.0, 2.0]]), torch.zeros(1, 3), "l2")  # doctest: +SKIP
>>> v.tolist(), st.tolist()  # doctest: +SKIP
([[2.0, 2.0, 2.0]], [[0, 0, 2]])
"""
import contextlib

import torch
import triton
import triton.language as tl

#: the most lanes (chunks) of one row's program
MAX_LANES = 1024
#: the chunk length the lane count aims at (small: the chunk pass is the sequential part)
CHUNK = 8


@triton.jit
def _lse(a, b):
    """``log(e^a + e^b)``, as the core computes it."""
    m = tl.maximum(a, b)
    return m + tl.log(tl.exp(a - m) + tl.exp(b - m))


@triton.jit
def _violates(pa, pb, plen, ca, cb, clen, KL: tl.constexpr):
    """Whether the later block (sums ``ca``, ``cb``, length ``clen``) has a larger value than
    the earlier one (``pa``, ``pb``, ``plen``): L2 compares the means without dividing."""
    if KL:
        out = (ca - cb) > (pa - pb)
    else:
        out = ca * plen.to(tl.float64) > pa * clen.to(tl.float64)
    return out


@triton.jit
def _pool(pa, pb, ca, cb, KL: tl.constexpr):
    """The sums of the earlier block ``p`` pooled with the later block ``c``."""
    if KL:
        ra = _lse(pa, ca)
        rb = _lse(pb, cb)
    else:
        ra = pa + ca
        rb = pb
    return ra, rb


@triton.jit
def _max(a, b):
    return tl.maximum(a, b)


@triton.jit
def _isotonic_kernel(s_ptr, w_ptr, value_ptr, start_ptr, nxt_ptr, prv_ptr, a_ptr, b_ptr,
                     n, C, levels, KL: tl.constexpr, LANES: tl.constexpr):
    row = tl.program_id(0).to(tl.int64) * n
    s_ptr += row
    w_ptr += row
    value_ptr += row
    start_ptr += row
    nxt_ptr += row
    prv_ptr += row
    a_ptr += row
    b_ptr += row

    lane = tl.arange(0, LANES)
    lo = lane * C
    hi = tl.minimum(lo + C, n)
    zero = tl.zeros([LANES], dtype=tl.float64)

    # 1. sequential PAV on every chunk, lanes in step
    for i in range(0, C):
        p = lo + i
        act = p < hi
        sp = tl.load(s_ptr + p, mask=act, other=0.0).to(tl.float64)
        wp = tl.load(w_ptr + p, mask=act, other=0.0).to(tl.float64)
        if KL:
            ca = sp
            cb = wp
        else:
            ca = sp - wp
            cb = zero
        st = p
        go = act & (st > lo)
        while tl.max(go.to(tl.int32), 0) > 0:
            q = tl.load(prv_ptr + st - 1, mask=go, other=0)
            pa = tl.load(a_ptr + q, mask=go, other=0.0)
            if KL:
                pb = tl.load(b_ptr + q, mask=go, other=0.0)
            else:
                pb = zero
            pool = go & _violates(pa, pb, st - q, ca, cb, p + 1 - st, KL)
            na, nb = _pool(pa, pb, ca, cb, KL)
            ca = tl.where(pool, na, ca)
            cb = tl.where(pool, nb, cb)
            # the current start is absorbed (p's own entry is written here for the first time)
            tl.store(nxt_ptr + st, tl.zeros_like(st), mask=pool)
            st = tl.where(pool, q, st)
            go = pool & (st > lo)
        tl.store(nxt_ptr + st, p + 1, mask=act)
        tl.store(prv_ptr + p, st, mask=act)
        tl.store(a_ptr + st, ca, mask=act)
        if KL:
            tl.store(b_ptr + st, cb, mask=act)
        tl.debug_barrier()

    # 2. pairwise merges of solved segments [a0, m) and [m, bnd), in a tree
    width = C
    for _ in range(0, levels):
        a0 = tl.minimum(lane.to(tl.int64) * (2 * width), n).to(tl.int32)
        m = tl.minimum(a0 + width, n)
        bnd = tl.minimum(a0 + 2 * width, n)
        act = m < n
        # the current block: the left segment's last block [st, en)
        st = tl.load(prv_ptr + m - 1, mask=act, other=0)
        en = m
        ca = tl.load(a_ptr + st, mask=act, other=0.0)
        if KL:
            cb = tl.load(b_ptr + st, mask=act, other=0.0)
        else:
            cb = zero
        go = act
        while tl.max(go.to(tl.int32), 0) > 0:
            has_l = go & (st > a0)
            lq = tl.load(prv_ptr + st - 1, mask=has_l, other=0)
            la = tl.load(a_ptr + lq, mask=has_l, other=0.0)
            has_r = go & (en < bnd)
            re = tl.load(nxt_ptr + en, mask=has_r, other=0)
            ra = tl.load(a_ptr + en, mask=has_r, other=0.0)
            if KL:
                lb = tl.load(b_ptr + lq, mask=has_l, other=0.0)
                rb = tl.load(b_ptr + en, mask=has_r, other=0.0)
            else:
                lb = zero
                rb = zero
            pool_l = has_l & _violates(la, lb, st - lq, ca, cb, en - st, KL)
            pool_r = has_r & _violates(ca, cb, en - st, ra, rb, re - en, KL)
            na, nb = _pool(la, lb, ca, cb, KL)
            ca = tl.where(pool_l, na, ca)
            cb = tl.where(pool_l, nb, cb)
            na, nb = _pool(ca, cb, ra, rb, KL)
            ca = tl.where(pool_r, na, ca)
            cb = tl.where(pool_r, nb, cb)
            tl.store(nxt_ptr + st, tl.zeros_like(st), mask=pool_l)
            tl.store(nxt_ptr + en, tl.zeros_like(en), mask=pool_r)
            st = tl.where(pool_l, lq, st)
            en = tl.where(pool_r, re, en)
            go = pool_l | pool_r
        tl.store(nxt_ptr + st, en, mask=act)
        tl.store(prv_ptr + en - 1, st, mask=act)
        tl.store(a_ptr + st, ca, mask=act)
        if KL:
            tl.store(b_ptr + st, cb, mask=act)
        tl.debug_barrier()
        width = width * 2

    # 3. each position's block start: the prefix maximum of the live starts, over tiles of
    # LANES positions (coalesced), each a scan carried on from the tile before
    carry = tl.full([LANES], -1, tl.int32)
    for t in range(0, n, LANES):
        p = t + lane
        act = p < n
        e = tl.load(nxt_ptr + p, mask=act, other=0)
        run = tl.associative_scan(tl.where(act & (e > p), p, -1), 0, _max)
        run = tl.maximum(run, carry)
        carry = tl.zeros_like(carry) + tl.max(run, 0)
        ca = tl.load(a_ptr + run, mask=act, other=0.0)
        if KL:
            v = ca - tl.load(b_ptr + run, mask=act, other=0.0)
        else:
            en = tl.load(nxt_ptr + run, mask=act, other=1)
            v = ca / (en - run).to(tl.float64)
        tl.store(value_ptr + p, v.to(value_ptr.dtype.element_ty), mask=act)
        tl.store(start_ptr + p, run.to(tl.int64), mask=act)


def plan(n):
    """``(lanes, chunk length, tree levels)`` for rows of length ``n``."""
    lanes = min(MAX_LANES, triton.next_power_of_2(triton.cdiv(n, CHUNK)))
    chunk = triton.cdiv(n, lanes)
    levels = (triton.cdiv(n, chunk) - 1).bit_length()
    return lanes, chunk, levels


def isotonic(s, w, regularization):
    """``(value, start)`` of the ``(B, n)`` rows of ``s`` and ``w`` (contiguous, one dtype,
    float32 or float64, on a CUDA device, or the CPU under ``TRITON_INTERPRET=1``):
    ``value`` in ``s``'s dtype, ``start`` int64. Launches on torch's current stream."""
    b, n = s.shape
    value = torch.empty_like(s)
    start = torch.empty((b, n), dtype=torch.int64, device=s.device)
    if b == 0 or n == 0:
        return value, start
    if n >= 2 ** 30:
        raise ValueError(f"isotonic: rows of {n} positions are too long (at most 2**30 - 1)")
    kl = regularization == "kl"
    lanes, chunk, levels = plan(n)
    nxt = torch.empty((b, n), dtype=torch.int32, device=s.device)
    prv = torch.empty_like(nxt)
    a = torch.empty((b, n), dtype=torch.float64, device=s.device)
    bb = torch.empty_like(a) if kl else a  # L2 never touches b
    warps = max(1, min(16, lanes // 32))
    # no fused multiply-add: the L2 comparison must round as the core's does
    on = torch.cuda.device(s.device) if s.device.type == "cuda" else contextlib.nullcontext()
    with on:
        _isotonic_kernel[(b,)](s, w, value, start, nxt, prv, a, bb, n, chunk, levels,
                               KL=kl, LANES=lanes, num_warps=warps,
                               enable_fp_fusion=False)
    return value, start

