"""The isotonic step of soft rank and soft sort as a torch custom op, ``sodeep::isotonic``.

``isotonic(s, w, regularization) -> (value, start)`` on ``(B, n)`` rows (float32 or float64):
the non-increasing fit of the core's ``sodeep::relax::softrank::isotonic``, as pool-adjacent-
violators blocks. L2: a block's value is the mean of ``s − w`` over it; KL:
``log Σ_B e^{s_j} − log Σ_B e^{w_j}``. ``value`` (``s``'s dtype) holds each position's block
value and ``start`` (int64) the block's first position.

Kernels, by device:

- CPU: the core (``sodeep._native.isotonic``, float64);
- CUDA: the parallel Triton solver of ``isotonic_triton``, on torch's current stream;
- meta (and fake tensors): shapes and dtypes only;
- any other device (mps, xpu, …): the CPU kernel on a host copy, its result copied back. That
  reads the data and so synchronises the device: a fallback that keeps such devices working,
  not the no-copy path CUDA has (Triton compiles for neither mps nor, here, xpu).

Gradient (``register_autograd``): the block structure is locally constant, so with ``G`` the
block sum of the incoming gradient ``g``,

- L2: ``∂/∂s_j = G/|B|`` and ``∂/∂w_j = −G/|B|``;
- KL: ``∂/∂s_j = softmax(s_B)_j·G`` and ``∂/∂w_j = −softmax(w_B)_j·G``,

written with torch operations only (``scatter_add`` over the block starts), so it runs on any
device, meta included.

>>> import torch
>>> from sodeep._torch.isotonic import isotonic
>>> s = torch.tensor([[1.0, 3.0, 2.0]], dtype=torch.float64, requires_grad=True)
>>> v, start = isotonic(s, torch.zeros(1, 3, dtype=torch.float64), "l2")
>>> v.tolist(), start.tolist()
([[2.0, 2.0, 2.0]], [[0, 0, 2]])
>>> v.backward(torch.tensor([[3.0, 0.0, 1.0]], dtype=torch.float64))
>>> s.grad.tolist()
[[1.5, 1.5, 1.0]]
"""
from typing import Tuple

import torch

from .. import _native

REGULARIZATIONS = ("l2", "kl")


@torch.library.custom_op("sodeep::isotonic", mutates_args=())
def _isotonic(s: torch.Tensor, w: torch.Tensor, regularization: str) -> Tuple[torch.Tensor, torch.Tensor]:
    # the default kernel: devices without one of their own go through the host (see above)
    value, start = _cpu(s.cpu(), w.cpu(), regularization)
    return value.to(s.device), start.to(s.device)


@_isotonic.register_kernel("cpu")
def _cpu(s, w, regularization):
    value, start = _native.isotonic(s.detach().to(torch.float64).contiguous().numpy(),
                                    w.detach().to(torch.float64).contiguous().numpy(),
                                    regularization)
    return torch.from_numpy(value).to(s.dtype), torch.from_numpy(start)


@_isotonic.register_kernel("cuda")
def _cuda(s, w, regularization):
    from . import isotonic_triton  # Triton is needed on CUDA only

    return isotonic_triton.isotonic(s.contiguous(), w.contiguous(), regularization)


@_isotonic.register_fake
def _fake(s, w, regularization):
    return torch.empty_like(s), torch.empty(s.shape, dtype=torch.int64, device=s.device)


def segment_sum(t, start):
    """Each block's sum of ``t``, at the block's first position (0 elsewhere)."""
    return torch.zeros_like(t).scatter_add_(-1, start, t)


def block_end(start):
    """Each position's block end (one past its last position), from the block starts: the
    nearest block last position at or after it, by a reversed running minimum (a scan, not
    atomics contending on one address per block)."""
    n = start.shape[-1]
    pos = torch.arange(n, device=start.device).expand_as(start)
    last = torch.ones_like(start, dtype=torch.bool)
    last[..., :-1] = start[..., 1:] != start[..., :-1]
    marks = torch.where(last, pos, torch.full_like(pos, n))
    return marks.flip(-1).cummin(-1).values.flip(-1) + 1


def block_softmax(t, start):
    """``softmax`` of ``t`` over each block, at every position of the block."""
    # the block maximum only keeps exp in range (its choice cancels): a constant
    m = torch.full_like(t, float("-inf")).scatter_reduce_(-1, start, t.detach(), "amax")
    e = torch.exp(t - m.gather(-1, start))
    return e / segment_sum(e, start).gather(-1, start)


def _setup(ctx, inputs, output):
    s, w, regularization = inputs
    _, start = output
    ctx.kl = regularization == "kl"
    ctx.mark_non_differentiable(start)
    if ctx.kl:
        ctx.save_for_backward(s, w, start)
    else:
        ctx.save_for_backward(start)


def _backward(ctx, g, _g_start):
    if ctx.kl:
        s, w, start = ctx.saved_tensors
    else:
        (start,) = ctx.saved_tensors
    total = segment_sum(g, start).gather(-1, start)
    need_s, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    if not ctx.kl:
        mean = total / (block_end(start) - start).to(g.dtype)
        return (mean if need_s else None), (-mean if need_w else None), None
    gs = block_softmax(s, start) * total if need_s else None
    gw = -block_softmax(w, start) * total if need_w else None
    return gs, gw, None


torch.library.register_autograd("sodeep::isotonic", _backward, setup_context=_setup)


def isotonic(s, w, regularization):
    """``(value, start)`` of the ``(B, n)`` rows (see the module docs), differentiable in
    ``s`` and ``w``."""
    if regularization not in REGULARIZATIONS:
        raise ValueError(f"invalid argument: regularization must be 'l2' or 'kl', got '{regularization}'")
    if s.dim() != 2 or s.shape != w.shape:
        raise ValueError(f"isotonic: s has shape {tuple(s.shape)} but w {tuple(w.shape)}; "
                         "both must be (B, n)")
    if s.dtype not in (torch.float32, torch.float64) or w.dtype != s.dtype:
        raise ValueError(f"isotonic: s and w must share a float32 or float64 dtype, got "
                         f"{s.dtype} and {w.dtype}")
    if s.device != w.device:
        raise ValueError(f"isotonic: s is on {s.device} but w on {w.device}")
    return _isotonic(s.contiguous(), w.contiguous(), regularization)
