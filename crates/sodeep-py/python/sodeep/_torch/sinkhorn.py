"""Soft ranks by entropic optimal transport (Cuturi et al., NeurIPS 2019) on torch tensors, the
core's ``relax/sinkhorn.rs`` with its hand-written reverse sweep.

A row is squashed to ``x̃ = sigmoid((x − mean)/σ)`` (σ the standard deviation, floored at
1e-12 so a constant row maps to 0) and transported onto the targets ``y_j = j/(n−1)``
(``1/2`` when n = 1), uniform weights ``1/n``, cost ``C_ij = (x̃_i − y_j)²``, by ``iters``
log-domain Sinkhorn iterations from ``f = 0``, each updating g then f:

    g_j = ε·log(1/n) − ε·LSE_i((f_i − C_ij)/ε),   f_i = ε·log(1/n) − ε·LSE_j((g_j − C_ij)/ε),
    P_ij = exp((f_i + g_j − C_ij)/ε).

SoDeep ranks are ``r_i = Σ_j (n − j)·P_ij``; the relaxed permutation (row k: the k-th
largest) is ``n·P[i, n−1−k]``. The backward pass runs the core's reverse sweep through the
unrolled iterations from the stored potentials (O(iters·n) per row kept, not O(iters·n²)).

The computation runs in float64, as the core's does (it widens every row), and the results are
rounded to the input's dtype: the exponents are costs divided by ε, so float32's rounding of
the O(1) costs (about 6e-8) would become a relative error of about 6e-8/ε in the plan, already
2e-5 at the default ε = 3e-3. Devices without float64 keep float32.

>>> import torch
>>> from sodeep._torch.sinkhorn import Sinkhorn
>>> x = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)
>>> Sinkhorn(1e-3, 200).rank(x).mul(3).round().tolist()
[[2.0, 3.0, 1.0]]
"""
import math

import torch

from .rankers import TorchRanker

#: the floor of the standard deviation in the squashing step (the core's ``STD_FLOOR``)
STD_FLOOR = 1e-12


def _squash(x):
    """``(x̃, z, σ, floored)`` of the rows. The mean is ``x_0 + mean(x − x_0)``, so a constant
    row gets exactly zero deviations (rounding noise would be blown up to order 1)."""
    x0 = x[:, :1]
    mean = x0 + (x - x0).mean(-1, keepdim=True)
    sd = (x - mean).square().mean(-1, keepdim=True).sqrt()
    floored = sd <= STD_FLOOR
    sigma = torch.where(floored, torch.full_like(sd, STD_FLOOR), sd)
    z = (x - mean) / sigma
    return torch.sigmoid(z), z, sigma, floored


def _squash_vjp(xt, z, sigma, floored, xt_bar):
    """``∂L/∂x`` from ``∂L/∂x̃``; at the floor σ is a constant."""
    z_bar = xt_bar * xt * (1 - xt)
    mean_bar = z_bar.mean(-1, keepdim=True)
    mean_bar_z = torch.where(floored, torch.zeros_like(mean_bar),
                             (z_bar * z).mean(-1, keepdim=True))
    return (z_bar - mean_bar - z * mean_bar_z) / sigma


def _working_dtype(x):
    """float64 wherever the device has it (see the module docs)."""
    return x.dtype if x.device.type == "mps" else torch.float64


def _targets(n, like):
    if n == 1:
        return torch.full((1,), 0.5, device=like.device, dtype=like.dtype)
    return torch.arange(n, device=like.device, dtype=like.dtype) / (n - 1)


class _Plan(torch.autograd.Function):
    """``x`` → the ``(B, n, n)`` plan ``P`` (row i an input, column j a target), its backward
    pass the core's ``plan_vjp``."""

    @staticmethod
    def forward(ctx, x, eps, iters):
        n = x.shape[-1]
        xt, z, sigma, floored = _squash(x)
        y = _targets(n, x)
        d = xt.unsqueeze(-1) - y  # (B, n, n): x̃_i − y_j
        cost = d * d
        inv, log_w = 1.0 / eps, -math.log(n)
        f = torch.zeros_like(x)
        # every iteration's potentials when a backward pass will read them, else the last
        keep = ctx.needs_input_grad[0]
        fs, gs = [f], []
        for _ in range(iters):
            g = eps * (log_w - torch.logsumexp((f.unsqueeze(-1) - cost) * inv, dim=-2))
            f = eps * (log_w - torch.logsumexp((g.unsqueeze(-2) - cost) * inv, dim=-1))
            if keep:
                fs.append(f)
                gs.append(g)
        if keep:
            ctx.eps, ctx.iters = eps, iters
            ctx.save_for_backward(xt, z, sigma, floored, torch.stack(fs), torch.stack(gs))
        return torch.exp((f.unsqueeze(-1) + g.unsqueeze(-2) - cost) * inv)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        xt, z, sigma, floored, fs, gs = ctx.saved_tensors
        eps, iters = ctx.eps, ctx.iters
        n = xt.shape[-1]
        inv, log_n = 1.0 / eps, math.log(n)
        d = xt.unsqueeze(-1) - _targets(n, xt)
        cost = d * d

        def kernel(f, g):
            # n·exp((f_i + g_j − C_ij)/ε): the softmaxes of the LSEs, whose normalisers the
            # stored potentials already hold
            return torch.exp((f.unsqueeze(-1) + g.unsqueeze(-2) - cost) * inv + log_n)

        # P_ij passes Ḡ_ij·P_ij/ε to f_i and g_j, minus that to C_ij
        w = grad * torch.exp((fs[-1].unsqueeze(-1) + gs[-1].unsqueeze(-2) - cost) * inv) * inv
        f_bar = w.sum(-1)
        g_bar = w.sum(-2)
        xt_bar = -(w * 2 * d).sum(-1)
        for t in range(iters, 0, -1):
            # f^t_i = ε log a − ε LSE_j((g_j − C_ij)/ε): ∂f_i/∂g_j = −L_ij, ∂f_i/∂C_ij = L_ij
            w = f_bar.unsqueeze(-1) * kernel(fs[t], gs[t - 1])
            g_bar = g_bar - w.sum(-2)
            xt_bar = xt_bar + (w * 2 * d).sum(-1)
            # g^t_j = ε log b − ε LSE_i((f_i − C_ij)/ε): ∂g_j/∂f_i = −K_ij, ∂g_j/∂C_ij = K_ij;
            # f^{t−1} feeds only g^t and g^{t−1} only f^{t−1}: both adjoints start afresh
            w = g_bar.unsqueeze(-2) * kernel(fs[t - 1], gs[t - 1])
            f_bar = -w.sum(-1)
            xt_bar = xt_bar + (w * 2 * d).sum(-1)
            g_bar = torch.zeros_like(g_bar)
        return _squash_vjp(xt, z, sigma, floored, xt_bar), None, None


class Sinkhorn(TorchRanker):
    """The ``sinkhorn`` ranker: regularisation ε, ``iters`` iterations."""

    name = "sinkhorn"

    def __init__(self, eps, iters):
        self.eps = float(eps)
        self.iters = int(iters)

    def plan(self, x):
        """The ``(B, n, n)`` transport plans (rows of ``n·P`` sum to 1), in the working dtype
        (see the module docs)."""
        return _Plan.apply(x.to(_working_dtype(x)), self.eps, self.iters)

    def rank(self, x):
        n = x.shape[-1]
        plan = self.plan(x)
        weights = torch.arange(n, 0, -1, device=x.device, dtype=plan.dtype)  # n − j
        return (plan @ weights).to(x.dtype)

    def permutation(self, x):
        n = x.shape[-1]
        return (self.plan(x).transpose(-1, -2).flip(-2) * n).to(x.dtype)


def from_knobs(family, knobs, spec):
    """``sinkhorn`` with knobs ``eps`` and ``iters``."""
    return Sinkhorn(float(knobs["eps"]), int(knobs["iters"]))
