"""The dense analytic rankers as torch ops (``sodeep._torch``: neuralsort, softsort-perm,
sinkhorn, the diffsort networks, blackbox) against the Rust core: ranks, permutations, sorts,
soft argsorts and top-k, values and gradients (random upstream gradients), float32 and float64,
on the CPU under ``backend("torch")`` (and on CUDA when there is one), and on ``meta`` tensors
(shapes only, which proves that no score is read on the host).

Errors are measured against the largest magnitude of the core's tensor (at least 1e-2, for
gradients that are zero up to rounding, as sinkhorn's at n = 2 where standardised scores are
±1 whatever x): within 1e-5 of it in float32, 1e-9 in float64.
"""
import pytest
import torch

import sodeep.torch as st

RTOL = {torch.float32: 1e-5, torch.float64: 1e-9}
SPECS = [
    "neuralsort", "neuralsort:tau=0.05",
    "softsort-perm", "softsort-perm:tau=0.1",
    "sinkhorn", "sinkhorn:eps=0.1,iters=7",
    "diffsort-oddeven", "diffsort-oddeven:steepness=3,dist=logistic",
    "diffsort-bitonic", "diffsort-bitonic:steepness=20,dist=logistic_phi",
    "diffsort-bitonic:steepness=2,dist=reciprocal",
    "blackbox", "blackbox:lambda=0.3",
]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# bitonic pads 5 and 13 up to 8 and 16; 1 and 2 are the smallest networks
SIZES = [1, 2, 5, 8, 13]


def _outputs(spec, n):
    """``name → f(x)`` for the functions of ``sodeep.torch`` that ``spec`` supports."""
    out = {
        "rank": lambda x: st.rank(x, ranker=spec, descending=True, normalized=True),
        "rank-ascending-raw": lambda x: st.rank(x, ranker=spec),
    }
    if not spec.startswith("blackbox"):
        out.update({
            "permutation": lambda x: st.permutation(x, ranker=spec),
            "sort": lambda x: st.sort(x, ranker=spec),
            "argsort": lambda x: st.argsort(x, ranker=spec),
            "topk": lambda x: st.topk(x, max(1, n // 2), ranker=spec),
        })
    return out


def _run(f, x, g, device):
    """``f(x)`` and ``∂⟨f(x), g⟩/∂x`` computed on ``device`` (by the torch ops there, or on
    the CPU by the core unless under ``backend("torch")``), returned on the CPU."""
    xd = x.detach().to(device, copy=True).requires_grad_()
    y = f(xd)
    (y * g.to(device)).sum().backward()
    return y.detach().cpu(), xd.grad.cpu()


def _torch_path(f, x, g, device):
    with st.backend("torch"):
        return _run(f, x, g, device)


def _assert_close(got, want, dtype, what):
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.shape, want.shape)
    scale = max(want.abs().max().item(), 1e-2)
    err = (got - want).abs().max().item()
    assert err <= RTOL[dtype] * scale, f"{what}: error {err:.3g} at scale {scale:.3g}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("spec", SPECS)
def test_torch_ops_equal_the_core(spec, dtype, device):
    gen = torch.Generator().manual_seed(7)
    for n in SIZES:
        x = torch.randn(3, n, generator=gen, dtype=dtype)
        for name, f in _outputs(spec, n).items():
            what = f"{spec} {name} n={n}"
            if n == 1 and name in ("permutation", "sort"):
                # the core's row op returns a (B, 1) permutation at n = 1, which sodeep.torch
                # cannot shape as (B, 1, 1) (nor the core's sort multiply): the exact answer,
                # P = [[1]] and sort = x, instead
                shape = (3, 1, 1) if name == "permutation" else (3, 1)
                g = torch.randn(shape, generator=gen, dtype=dtype)
                y, grad = _torch_path(f, x, g, device)
                want, want_grad = ((x, g) if name == "sort"
                                   else (torch.ones(shape, dtype=dtype), torch.zeros_like(x)))
            else:
                g = torch.randn(f(x).shape, generator=gen, dtype=dtype)
                want, want_grad = _run(f, x, g, "cpu")
                y, grad = _torch_path(f, x, g, device)
            _assert_close(y, want, dtype, what + " value")
            _assert_close(grad, want_grad, dtype, what + " gradient")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("spec", SPECS)
def test_ties_signed_zeros_and_huge_scores(spec, dtype):
    # the core's tie rules: exact orders by IEEE total order (−0 below +0), ties by index;
    # d|u|/du = 0 at u = 0; NeuralSort's logits summed outward from each peak (a 1e20 beside
    # small scores); sinkhorn's standardisation of a constant row (its σ floor)
    x = torch.tensor([[1.0, 1.0, 0.0, 2.0, 0.0, -0.0],
                      [0.0, -0.0, 0.0, -0.0, 3.0, 3.0],
                      [1e20, 1.0, 2.0, 3.0, -1e20, 2.0],
                      [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]], dtype=dtype)
    gen = torch.Generator().manual_seed(3)
    for name, f in _outputs(spec, 6).items():
        g = torch.randn(f(x).shape, generator=gen, dtype=dtype)
        y0, grad0 = _run(f, x, g, "cpu")
        y, grad = _torch_path(f, x, g, "cpu")
        _assert_close(y, y0, dtype, f"{spec} {name} value")
        _assert_close(grad, grad0, dtype, f"{spec} {name} gradient")


@pytest.mark.parametrize("spec", ["diffsort-oddeven", "diffsort-bitonic:dist=logistic_phi"])
def test_diffsort_saturated_comparators(spec):
    # differences that overflow to ±∞: the comparator is hard with no slope, and its gradient
    # exactly 0 (not 0·∞)
    x = torch.tensor([[1.5e308, -1.5e308, 0.0, 1.0, 1e-300],
                      [-1.5e308, 2.0, 1.5e308, 1.0, 0.5]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    for name, f in _outputs(spec, 5).items():
        g = torch.randn(f(x).shape, generator=gen, dtype=x.dtype)
        y0, grad0 = _run(f, x, g, "cpu")
        y, grad = _torch_path(f, x, g, "cpu")
        _assert_close(y, y0, x.dtype, f"{spec} {name} value")
        _assert_close(grad, grad0, x.dtype, f"{spec} {name} gradient")


@pytest.mark.parametrize("spec", ["neuralsort", "softsort-perm", "sinkhorn:iters=3",
                                  "diffsort-oddeven", "diffsort-bitonic", "blackbox"])
def test_meta_tensors_forward_and_backward(spec):
    for name, f in _outputs(spec, 5).items():
        x = torch.empty(4, 5, device="meta", requires_grad=True)
        y = f(x)
        want = (4, 5, 5) if name == "permutation" else (4, 5)
        assert y.device.type == "meta" and tuple(y.shape) == want and y.dtype == x.dtype, name
        y.backward(torch.empty_like(y))
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype, name
