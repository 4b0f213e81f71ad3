"""Gradients through every ranker: torch.autograd.gradcheck in float64 where the ranker is
differentiable everywhere, a directional-derivative check elsewhere."""
import pytest
import torch

import sodeep.torch as st

torch.manual_seed(0)

# smooth in the scores: gradcheck's finite differences must match the analytic VJP
SMOOTH = ["neuralsort", "softsort-perm", "sinkhorn:eps=0.1", "diffsort-oddeven",
          "diffsort-bitonic"]
# piecewise smooth (soft rank's projection changes its blocks at kinks), or computed in
# float32 (the handcrafted and learned sorters), where finite differences need a wider step
PIECEWISE = ["softrank", "softrank:eps=0.1,reg=kl"]
FLOAT32 = ["handcrafted", "any", "best-100", "cnn-100"]


def _x(n=6, b=2, device="cpu"):
    # well-separated scores keep soft rank away from its kinks
    x = torch.randperm(b * n, dtype=torch.float64).reshape(b, n) / 3.0
    return x.to(device).requires_grad_()


@pytest.mark.parametrize("ranker", SMOOTH)
def test_gradcheck_rank(ranker, device):
    x = _x(8 if "bitonic" in ranker else 6, device=device)
    assert torch.autograd.gradcheck(lambda t: st.rank(t, ranker=ranker, descending=True,
                                                      normalized=True), (x,), eps=1e-6,
                                    atol=1e-5)


@pytest.mark.parametrize("ranker", ["neuralsort", "softsort-perm", "sinkhorn:eps=0.1"])
def test_gradcheck_permutation_sort_argsort_topk(ranker, device):
    x = _x(5, device=device)
    for f in (lambda t: st.permutation(t, ranker=ranker),
              lambda t: st.sort(t, ranker=ranker),
              lambda t: st.argsort(t, ranker=ranker),
              lambda t: st.topk(t, 2, ranker=ranker)):
        assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5)


def test_gradcheck_soft_rank_and_losses(device):
    # Gaussian scores: soft rank's kinks (where its blocks change) have measure zero, while a
    # grid of evenly spaced scores can sit exactly on one
    x = (2 * torch.randn(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
         ).to(device).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: st.soft_rank(t, 0.5), (x,), eps=1e-6, atol=1e-5)
    assert torch.autograd.gradcheck(lambda t: st.soft_sort(t, 0.5), (x,), eps=1e-6, atol=1e-5)
    target = torch.rand(2, 6, dtype=torch.float64).to(device)
    assert torch.autograd.gradcheck(
        lambda t: st.spearman_loss(t, target, ranker="neuralsort"), (x,), eps=1e-6, atol=1e-5)
    rel = torch.tensor([[0, 1, 2, 0, 3, 1], [2, 0, 0, 1, 0, 4]], dtype=torch.float64,
                       device=device)
    assert torch.autograd.gradcheck(
        lambda t: st.ndcg_loss(t, rel, ranker="neuralsort"), (x,), eps=1e-6, atol=1e-5)
    for kind in ["mse", "ranknet", "listnet", "listmle", "approxndcg"]:
        assert torch.autograd.gradcheck(lambda t: st.ltr_loss(kind, t, rel), (x,), eps=1e-6,
                                        atol=1e-5), kind


@pytest.mark.parametrize("ranker", PIECEWISE + FLOAT32)
def test_directional_derivative(ranker, device):
    n = 100 if ranker == "cnn-100" else 6  # cnn-100 reads vectors of 100
    # Gaussian scores, away from soft rank's kinks (see above)
    x = 2 * torch.randn(2, n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    w = torch.randn(2, n, dtype=torch.float64)
    v = torch.randn(2, n, dtype=torch.float64)
    x, w, v = x.to(device), w.to(device), v.to(device)
    f = lambda t: (st.rank(t, ranker=ranker, descending=True, normalized=True) * w).sum()
    xg = x.clone().requires_grad_()
    f(xg).backward()
    analytic = (xg.grad * v).sum().item()
    h, tol = (1e-3, 3e-2) if ranker in FLOAT32 else (1e-6, 1e-4)
    numeric = ((f(x + h * v) - f(x - h * v)) / (2 * h)).item()
    assert abs(analytic - numeric) <= tol * max(1.0, abs(numeric)), (analytic, numeric)


def test_blackbox_gradient_is_its_interpolation(device):
    # blackbox's backward is by definition −(r(x) − r(x + λ'·g)) / λ' with λ' = λ·n·sd(x):
    # exact ranks have no derivative to compare with
    x = _x(6, device=device).detach()
    g = torch.randn(2, 6, dtype=torch.float64).to(device)
    r = lambda t: st.rank(t, ranker="blackbox", descending=True, normalized=True)
    xg = x.clone().requires_grad_()
    (r(xg) * g).sum().backward()
    lam = 6 * x.std(dim=1, unbiased=False, keepdim=True)
    expected = -(r(x) - r(x + lam * g)) / lam
    assert torch.allclose(xg.grad, expected, atol=1e-9), (xg.grad, expected)
    assert xg.grad.abs().sum() > 0
