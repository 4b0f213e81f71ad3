"""The dilated CNN sorter (the core's sorter/cnn.rs) in evaluation mode: 8 blocks of
``Conv1d(kernel 3, dilation δ_k, "same" zero padding) → BatchNorm (running statistics) →
ReLU``, residual between equally shaped blocks, then ``head`` (``Conv1d(d, 1, 1)``) over the
last block's ``d`` channels at each position.

The dilations are ``s·2^k`` for the first seven blocks, with ``s`` the smallest integer ≥ 1
for which the receptive field spans ``2d − 1`` positions, and 1 for the last. BatchNorm +
ReLU is computed as the core's fused evaluation op (kernels/batchnorm.rs) does:
``relu(x·a + b)`` with ``a = γ / sqrt(σ²_run + 1e-5)`` (float64, rounded to float32) and
``b = β − μ_run·a`` (float32).

>>> from sodeep._torch.sorters.cnn import dilations
>>> dilations(100), dilations(300)
([1, 2, 4, 8, 16, 32, 64, 1], [3, 6, 12, 24, 48, 96, 192, 1])
"""
import torch
import torch.nn.functional as F

from .fp32 import wide_dtype

BLOCKS = 8
_EPS = 1e-5  # candle's BatchNormConfig default, which the core's layers use


def dilations(d):
    """The blocks' dilations for vectors of length ``d`` (see the module)."""
    reach_unit = 2 * ((1 << (BLOCKS - 1)) - 1) + 2  # receptive field − 1 at s = 1
    s = max(-(-2 * max(d - 1, 0) // reach_unit), 1)
    return [s << k for k in range(BLOCKS - 1)] + [1]


class Cnn(torch.nn.Module):
    """The CNN sorter for vectors of length ``d``."""

    def __init__(self, weights, d):
        super().__init__()
        self.blocks = []
        for k, dil in enumerate(dilations(d)):
            w = lambda name: weights[f"blocks.{k}.{name}"]  # noqa: E731
            wide = wide_dtype(w("bn.weight").device)
            a = (w("bn.weight").to(wide) / (w("bn.running_var").to(wide) + _EPS).sqrt()).float()
            shift = w("bn.bias") - w("bn.running_mean") * a
            self.blocks.append((w("conv.weight"), w("conv.bias"), dil,
                                a.unsqueeze(1), shift.unsqueeze(1)))
        self.head = (weights["head.weight"], weights["head.bias"])

    def forward(self, x):
        h = x.unsqueeze(1)
        for w, b, dil, a, shift in self.blocks:
            pad = (w.shape[2] - 1) // 2 * dil
            z = F.conv1d(h, w, b, padding=pad, dilation=dil)
            y = torch.relu(z * a + shift)
            h = y + h if y.shape == h.shape else y
        return F.conv1d(h, *self.head).squeeze(1)
