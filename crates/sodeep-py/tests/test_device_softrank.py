"""Soft rank and soft sort through the torch ops (``sodeep._torch.softrank``, the device code
path) against the core's CPU path: values and gradients, L2 and KL, torchsort's and SoDeep's
conventions, meta tensors and autocast; and the isotonic op's Triton kernel against the core's
solver (on the GPU, or without one under ``TRITON_INTERPRET=1``: in this process when
conftest turned the interpreter on, else in a subprocess, so that no other test sees
interpreted kernels).

The torch ops run on the CPU (``backend("torch")``) always, and on CUDA where there is one,
there with torch's sync debug mode set to fail on any synchronisation.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import sodeep
import sodeep.torch as st
from sodeep._native import isotonic as native_isotonic

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
TOL = {torch.float32: 1e-5, torch.float64: 1e-9}
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "soft_rank.json")


def _rows(dtype, seed=0):
    """A batch with a run of ties, a row of many ties, and a row a thousand times wider."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 37, generator=g, dtype=torch.float64)
    x[0, :9] = x[0, 9]  # a run of ties
    x[1] = torch.randint(0, 4, (37,), generator=g).to(torch.float64)  # many ties
    x[3] *= 1e3
    return x.to(dtype)


def _close(actual, expected, dtype, floor):
    """Within the tolerance relative to each value, down to ``floor`` times the tolerance
    relative to the largest value (for values that cancel to about 0)."""
    tol = TOL[dtype]
    scale = expected.abs().max().item() if expected.numel() else 0.0
    torch.testing.assert_close(actual.cpu(), expected, rtol=tol,
                               atol=tol * floor * max(scale, 1e-30))


def _value_and_grad(fn, x, g, device, torch_path):
    x = x.clone().to(device).requires_grad_()
    g = g.to(device)
    if device == "cuda":  # the device path reads no value back: any synchronisation fails
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
    try:
        with st.backend("torch" if torch_path else "auto"):
            y = fn(x)
        (y * g).sum().backward()
    finally:
        if device == "cuda":
            torch.cuda.set_sync_debug_mode("default")
    assert y.dtype == x.dtype and y.device == x.device and y.shape == x.shape
    return y.detach().cpu(), x.grad.cpu()


def _compare(fn, x, device):
    """``fn`` through the torch ops on ``device`` against the core on the CPU."""
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    g = g.to(x.dtype)
    y0, gx0 = _value_and_grad(fn, x, g, "cpu", torch_path=False)
    y1, gx1 = _value_and_grad(fn, x, g, device, torch_path=True)
    _close(y1, y0, x.dtype, floor=1e-3)
    _close(gx1, gx0, x.dtype, floor=1.0)  # gradients are sums of terms that cancel


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reg", ["l2", "kl"])
def test_torchsort_functions_equal_core(device, reg):
    for dtype in (torch.float32, torch.float64):
        x = _rows(dtype)
        # tiny ε: exact ranks, all blocks singletons but ties; huge ε: one block per row
        for eps in (1e-9, 0.01, 1.0, 1e9):
            for f in (st.soft_rank, st.soft_sort):
                _compare(lambda t: f(t, regularization_strength=eps, regularization=reg),
                         x, device)
        for f in (st.soft_rank, st.soft_sort):  # n = 1 and n = 2
            _compare(lambda t: f(t, regularization_strength=0.5, regularization=reg),
                     x[:, :1], device)
            _compare(lambda t: f(t, regularization_strength=0.5, regularization=reg),
                     x[:, :2], device)
    # the median centring keeps a huge common offset from swamping ρ
    x = _rows(torch.float64) + 1.7e15
    _compare(lambda t: st.soft_rank(t, 0.5, reg), x, device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec", ["softrank:eps=0.05", "softrank:eps=0.2,reg=kl"])
def test_ranker_rank_and_sort_equal_core(device, spec):
    for dtype in (torch.float32, torch.float64):
        x = _rows(dtype, seed=2)
        _compare(lambda t: st.rank(t, spec, descending=True, normalized=True), x, device)
        _compare(lambda t: st.rank(t, spec), x, device)
        _compare(lambda t: st.sort(t, spec), x, device)


@pytest.mark.parametrize("device", DEVICES)
def test_torchsort_fixture_through_torch_ops(device):
    with open(FIXTURE) as f:
        cases = json.load(f)["cases"]
    for case in cases:
        fn = st.soft_rank if case["op"] == "soft_rank" else st.soft_sort
        x = torch.tensor(case["x"], dtype=torch.float64, device=device, requires_grad=True)
        with st.backend("torch"):
            y = fn(x, regularization_strength=case["strength"],
                   regularization=case["regularization"])
        np.testing.assert_allclose(y.detach().cpu().numpy(), case["y"], atol=1e-6, rtol=0)
        (y * torch.tensor(case["w"], dtype=torch.float64, device=device)).sum().backward()
        np.testing.assert_allclose(x.grad.cpu().numpy(), case["grad_x_of_sum_w_y"], atol=1e-6,
                                   rtol=0)


def test_meta_tensors_give_shapes_forward_and_backward():
    for reg in ("l2", "kl"):
        for fn in (st.soft_rank, st.soft_sort,
                   lambda t, e, r: st.rank(t, f"softrank:eps={e},reg={r}"),
                   lambda t, e, r: st.sort(t, f"softrank:eps={e},reg={r}")):
            x = torch.empty(5, 11, device="meta", requires_grad=True)
            y = fn(x, 0.1, reg)
            assert (y.shape, y.dtype, y.device.type) == ((5, 11), torch.float32, "meta")
            y.sum().backward()
            assert x.grad.shape == (5, 11) and x.grad.device.type == "meta"
    # a 3-d input ranked along a middle axis
    x = torch.empty(2, 6, 3, device="meta", dtype=torch.float64)
    assert st.soft_rank(x, dim=1).shape == (2, 6, 3)


@pytest.mark.parametrize("device", DEVICES)
def test_half_inputs_under_autocast(device):
    x32 = _rows(torch.float32, seed=3)
    for half, tol in ((torch.float16, 1e-3), (torch.bfloat16, 8e-3)):
        x = x32.to(half).to(device).requires_grad_()
        with st.backend("torch"), torch.autocast(device, dtype=half):
            y = st.soft_rank(x, 0.1)
        y.float().sum().backward()
        assert y.dtype == half and x.grad.dtype == half
        # computed in float32 on the rounded inputs and cast back, as the core's path does
        core = st.soft_rank(x.detach().cpu(), 0.1)
        torch.testing.assert_close(y.cpu(), core, rtol=tol, atol=0)


def test_bad_strength_and_regularization_raise_the_core_messages():
    from sodeep._torch.softrank import SoftRank, soft_rank, soft_sort

    x = torch.zeros(1, 3)
    for eps in (0.0, -1.5, float("nan"), float("inf")):
        with pytest.raises(ValueError) as core:
            st.soft_rank(x, eps)
        with pytest.raises(ValueError) as mine:
            soft_rank(x, eps, "l2")
        assert str(mine.value) == str(core.value)
        with pytest.raises(ValueError, match="softrank: the strength ε must be a positive"):
            SoftRank(eps)
        with pytest.raises(ValueError, match="softsort: the strength ε must be a positive"):
            soft_sort(x, eps, "l2")
    with pytest.raises(ValueError) as core:
        st.soft_rank(x, 1.0, "l1")
    with pytest.raises(ValueError) as mine:
        soft_rank(x, 1.0, "l1")
    assert str(mine.value) == str(core.value)


@pytest.mark.parametrize("device", DEVICES)
def test_isotonic_op_gradient_and_registration(device):
    from sodeep._torch.isotonic import _isotonic, isotonic

    g = torch.Generator().manual_seed(4)
    for reg in ("l2", "kl"):
        s = torch.randn(3, 9, generator=g, dtype=torch.float64).to(device).requires_grad_()
        w = torch.randn(3, 9, generator=g, dtype=torch.float64).to(device).requires_grad_()
        # random rows: no tie between block values, so the block structure is locally constant
        assert torch.autograd.gradcheck(lambda a, b: isotonic(a, b, reg)[0], (s, w))
        torch.library.opcheck(_isotonic, (s, w, reg))
        v, start = isotonic(s.detach().cpu(), w.detach().cpu(), reg)
        v0, start0 = native_isotonic(s.detach().cpu().numpy(), w.detach().cpu().numpy(), reg)
        np.testing.assert_array_equal(start.numpy(), start0)
        np.testing.assert_allclose(v.numpy(), v0, rtol=1e-15)


# --- the Triton kernel against the core's solver ------------------------------------------

def _isotonic_rows(kind, n, reg, rng):
    """``(s, w)`` rows of one kind: random, ties, pooling whole, never pooling, or a ripple
    (one block absorbing every singleton before it, one at a time)."""
    b = 2 if n < 1000 else 1
    k = np.arange(n, dtype=np.float64)
    rho = np.tile(n - k, (b, 1))
    w = np.log(rho) if reg == "kl" else rho
    if kind == "random":
        s = rng.normal(size=(b, n)) * 3.0
        w = w + rng.normal(size=(b, n))
    elif kind == "ties":
        s = rng.integers(0, 3, size=(b, n)).astype(np.float64) * 2.0
    elif kind == "pool":
        s = np.tile(k * 0.5 + 2 * n, (b, 1))
    elif kind == "never":
        s = np.tile(-3.0 * k, (b, 1))
    else:
        s = np.tile(-1e-3 * k, (b, 1))
        s[:, -1] = n
        w = np.zeros_like(s)
    return s, w


def _check_triton_kernel(device):
    """Runs the Triton kernel on every case; returns a list of failures."""
    from sodeep._torch import isotonic_triton as it

    rng = np.random.default_rng(0)
    cases = [(kind, n) for n in (1, 2, 3, 17, 60)
             for kind in ("random", "ties", "pool", "never", "ripple")]
    cases += [("random", 1000), ("pool", 1000)]
    failures = []
    for reg in ("l2", "kl"):
        for i, (kind, n) in enumerate(cases):
            s, w = _isotonic_rows(kind, n, reg, rng)
            dtype = torch.float32 if i % 4 == 3 else torch.float64
            if dtype == torch.float32:  # the core sees the same float32 values
                s, w = (a.astype(np.float32).astype(np.float64) for a in (s, w))
            v0, start0 = native_isotonic(s, w, reg)
            st_, wt = (torch.tensor(a, dtype=dtype, device=device) for a in (s, w))
            v, start = it.isotonic(st_, wt, reg)
            v, start = v.cpu().double().numpy(), start.cpu().numpy()
            same = np.array_equal(start, start0) and np.allclose(
                v, v0.astype(np.float32) if dtype == torch.float32 else v0,
                rtol=1e-12, atol=1e-12 * np.abs(v0).max())
            if not same:
                failures.append(f"{reg} {kind} n={n} {dtype}: starts {start[0][:12]} vs "
                                f"{start0[0][:12]}, max value error {np.abs(v - v0).max()}")
    # a plan with the lane cap reached: chunks of 26 positions, tiles of 4 in the last pass
    it.MAX_LANES, before = 4, it.MAX_LANES
    try:
        for reg, kind in (("l2", "ripple"), ("kl", "random")):
            s, w = _isotonic_rows(kind, 101, reg, rng)
            v0, start0 = native_isotonic(s, w, reg)
            v, start = it.isotonic(torch.tensor(s, device=device),
                                   torch.tensor(w, device=device), reg)
            if not (np.array_equal(start.cpu().numpy(), start0)
                    and np.allclose(v.cpu().numpy(), v0, rtol=1e-12)):
                failures.append(f"{reg} {kind} n=101 with 4 lanes")
    finally:
        it.MAX_LANES = before
    return failures


def test_triton_kernel_equals_core_solver():
    if torch.cuda.is_available():
        assert _check_triton_kernel("cuda") == []
        return
    from triton.runtime.interpreter import InterpretedFunction

    from sodeep._torch import isotonic_triton

    if isinstance(isotonic_triton._isotonic_kernel, InterpretedFunction):
        # the interpreter was on when the kernel was defined (conftest turns it on)
        assert _check_triton_kernel("cpu") == []
        return
    # else in a process of its own: the interpreter must be on before the kernel is defined
    env = dict(os.environ, TRITON_INTERPRET="1")
    package_root = os.path.dirname(os.path.dirname(sodeep.__file__))
    env["PYTHONPATH"] = os.pathsep.join([package_root, os.path.dirname(__file__),
                                         env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c",
                          "import test_device_softrank as t, sys; f = t._check_triton_kernel("
                          "'cpu'); print('\\n'.join(f)); sys.exit(1 if f else 0)"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
