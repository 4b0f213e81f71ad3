"""Full-precision float32 for the learned sorters on a GPU: TensorFloat-32 off for cuBLAS
matmuls and cuDNN convolutions and RNNs while a sorter runs, forward and backward.

cuDNN RNNs and convolutions use TF32 by default on Ampere and later GPUs (10 mantissa bits,
errors near 1e-3), which would break the sorters' equality with the core's float32 values.
The flags are read when a kernel is launched, and the backward kernels launch when
``backward()`` runs, outside any ``with`` block of the forward pass: ``exact`` therefore runs
the network as one autograd node whose backward pass re-enters the same settings.

The flags are process-wide (as in ``torch.backends.cudnn.flags``): they are set for the span
of the calls and restored after. ``wide_dtype`` is the dtype of the few steps that the core
computes in float64 (float32 on devices without float64).

>>> import torch
>>> from sodeep._torch.sorters.fp32 import exact
>>> x = torch.tensor([[1.0, 2.0]], requires_grad=True)
>>> y = exact(lambda v: v * v, x)
>>> y.sum().backward()
>>> x.grad.tolist()
[[2.0, 4.0]]
"""
import contextlib

import torch
from torch.autograd.function import once_differentiable


def wide_dtype(device):
    """float64, or float32 on a device without it (Apple's MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _knobs():
    """The per-operation precision settings (torch ≥ 2.9), or None on older versions."""
    b = torch.backends
    rnn = getattr(b.cudnn, "rnn", None)
    if rnn is None or not hasattr(rnn, "fp32_precision"):
        return None
    return (b.cuda.matmul, b.cudnn.conv, rnn)


@contextlib.contextmanager
def ieee_fp32():
    """float32 matmuls, convolutions and RNNs without TF32 inside the block."""
    knobs = _knobs()
    if knobs is None:
        # older torch: the legacy switches (the per-operation API does not exist to mix with)
        b = torch.backends
        before = (b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32)
        b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32 = False, False
        try:
            yield
        finally:
            b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32 = before
        return
    before = [k.fp32_precision for k in knobs]
    for k in knobs:
        k.fp32_precision = "ieee"
    try:
        yield
    finally:
        for k, v in zip(knobs, before):
            k.fp32_precision = v


class _Exact(torch.autograd.Function):
    """``net(x)`` as one node: the inner graph is recorded under ``ieee_fp32`` and
    differentiated under it again. Gradients reach ``x`` only (the sorters are frozen). The
    inner graph lives as long as this node, so that a graph kept with ``retain_graph`` can be
    differentiated again, as the core's tape can."""

    @staticmethod
    def forward(ctx, x, net):
        with torch.enable_grad(), ieee_fp32():
            inner = x.detach().requires_grad_()
            y = net(inner)
        ctx.inner, ctx.y = inner, y
        return y.detach()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        with ieee_fp32():
            (gx,) = torch.autograd.grad(ctx.y, ctx.inner, grad, retain_graph=True)
        return gx, None


def exact(net, x):
    """``net(x)`` in full float32 precision, forward and backward (see the module)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _Exact.apply(x, net)
    with ieee_fp32():
        return net(x)
