"""Shapes, dtypes, group ids and errors of the Python API."""
import numpy as np
import pytest
import torch

import sodeep
import sodeep.numpy as snp
import sodeep.torch as st


def test_dim_selects_the_ranking_axis_of_an_nd_tensor(device):
    x = torch.randn(3, 5, 4, dtype=torch.float64, device=device)
    y = st.soft_rank(x, 0.001, dim=1)
    assert y.shape == x.shape
    expected = torch.argsort(torch.argsort(x, dim=1), dim=1).to(torch.float64) + 1
    assert y.device == x.device
    assert torch.allclose(y, expected, atol=1e-6)
    # the same as ranking the moved axis by hand
    by_hand = st.soft_rank(x.movedim(1, -1), 0.001).movedim(-1, 1)
    assert torch.equal(y, by_hand)
    p = st.permutation(x, ranker="neuralsort", dim=1)
    assert p.shape == (3, 4, 5, 5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32_and_returned_in_kind(dtype, device):
    x = torch.tensor([[0.5, -1.0, 2.0, 0.25]], dtype=dtype, device=device, requires_grad=True)
    y = st.soft_rank(x, 0.01)
    assert y.dtype == dtype
    assert y.float().tolist() == [[3.0, 1.0, 4.0, 2.0]]
    st.spearman_loss(x.reshape(-1), torch.tensor([1.0, 2.0, 3.0, 4.0], device=device)).backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_regions_give_float32_work_and_the_inputs_dtype_back(dtype, device):
    # a model's half-precision scores inside an autocast region: the rankers compute in
    # float32 whatever the region, and gradients reach the half-precision scores
    torch.manual_seed(0)
    w = torch.randn(8, 1, device=device, requires_grad=True)
    feats = torch.randn(16, 8, device=device)
    with torch.autocast(device.type, dtype=dtype):
        scores = (feats.to(dtype) @ w.to(dtype)).squeeze(1)
        loss = st.spearman_loss(scores, torch.arange(16.0, device=device))
        r = st.rank(scores.reshape(2, 8), ranker="neuralsort")
    assert scores.dtype == dtype and r.dtype == dtype and loss.dtype == dtype
    loss.backward()
    assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_batch_of_one_and_vectors_of_one(device):
    assert st.soft_rank(torch.tensor([[7.0]], device=device)).tolist() == [[1.0]]
    assert st.rank(torch.tensor([3.0], device=device), ranker="neuralsort").tolist() == [1.0]
    assert snp.soft_rank(np.array([2.0, 1.0]), 0.001).tolist() == [2.0, 1.0]
    x = torch.tensor([[1.0, 3.0, 2.0]], device=device, requires_grad=True)
    st.soft_rank(x, 0.1).sum().backward()
    assert x.grad.shape == (1, 3)


def test_ranks_follow_the_requested_convention(device):
    x = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64, device=device)
    up = st.rank(x, ranker="softrank:eps=0.001")
    down = st.rank(x, ranker="softrank:eps=0.001", descending=True, normalized=True)
    f64 = dict(dtype=torch.float64, device=device)
    assert torch.allclose(up, torch.tensor([[2.0, 1.0, 3.0]], **f64), atol=1e-4)
    assert torch.allclose(down, torch.tensor([[2 / 3, 1.0, 1 / 3]], **f64), atol=1e-4)


def test_shipped_sorters_by_name(device):
    assert "best-100" in sodeep.rankers() and "any" in sodeep.rankers()
    x = torch.randn(4, 100, device=device, requires_grad=True)
    r = st.rank(x, ranker="best-100", descending=True, normalized=True)
    exact = (torch.argsort(torch.argsort(-x, dim=1), dim=1) + 1).float() / 100
    assert (r - exact).abs().mean() < 0.02
    r.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_ragged_group_ids_rank_within_each_group(device):
    f64 = dict(dtype=torch.float64, device=device)
    pred = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.7], **f64, requires_grad=True)
    target = torch.tensor([1.0, 3.0, 2.0, 1.0, 2.0], **f64)
    ids = [0, 0, 0, 1, 1]  # a group of 3 and a group of 2, both in the right order
    loss = st.spearman_loss(pred, target, ranker="softrank:eps=0.001", lists=ids)
    assert loss.item() < 1e-6
    # one list of all five: the groups' orders clash, so the loss is not 0
    assert st.spearman_loss(pred, target, ranker="softrank:eps=0.001").item() > 1e-3
    # ltr: a query of 3 documents and one of 2
    rel = torch.tensor([0.0, 2.0, 1.0, 0.0, 1.0], **f64)
    per_query = st.ndcg_loss(pred, rel, ranker="softrank:eps=0.001", lists=np.array(ids),
                             reduction="none")
    assert per_query.shape == (2,) and per_query.abs().max() < 1e-3
    st.ltr_loss("lambdarank", pred, rel, lists=ids).backward()
    assert torch.isfinite(pred.grad).all()


def test_every_loss_runs_and_backpropagates(device):
    torch.manual_seed(1)
    sim = torch.randn(6, 6, dtype=torch.float64, device=device, requires_grad=True)
    for loss in (st.recall_loss(sim), st.rank_sum_loss(sim, both_directions=False)):
        loss.backward()
        assert torch.isfinite(sim.grad).all()
    scores = torch.randn(8, 3, dtype=torch.float64, device=device, requires_grad=True)
    labels = (torch.rand(8, 3, device=device) > 0.5).double()
    st.map_loss(scores, labels, normalized=True).backward()
    assert scores.grad.shape == (8, 3)


def test_topk_and_argsort(device):
    f64 = dict(dtype=torch.float64, device=device)
    x = torch.tensor([[0.1, 3.0, 2.0, -1.0]], **f64)
    top = st.topk(x, 2, ranker="neuralsort:tau=0.01")
    assert torch.allclose(top, torch.tensor([[0.0, 1.0, 1.0, 0.0]], **f64), atol=1e-3)
    idx = st.argsort(x, ranker="neuralsort:tau=0.01")
    assert torch.allclose(idx, torch.tensor([[1.0, 2.0, 0.0, 3.0]], **f64), atol=1e-3)
    assert torch.allclose(st.sort(x, ranker="neuralsort:tau=0.01"),
                          torch.tensor([[3.0, 2.0, 0.1, -1.0]], **f64), atol=1e-3)
    assert np.allclose(snp.sort(x.cpu().numpy(), ranker="neuralsort:tau=0.01"),
                       [[3.0, 2.0, 0.1, -1.0]], atol=1e-3)


# checks of settings and shapes: made before any computation, on every device
@pytest.mark.parametrize("call, message", [
    (lambda d: st.rank(torch.randn(2, 3, device=d), ranker="nope"), "nope"),
    (lambda d: st.rank(torch.randn(2, 3, device=d), ranker="softrank:eps=-1"), "strength"),
    (lambda d: st.soft_rank(torch.randn(2, 3, device=d), regularization="l3"), "l2"),
    (lambda d: st.soft_rank(torch.randn(2, 3, device=d), regularization_strength=0.0),
     "strength"),
    (lambda d: st.rank(torch.randn(2, 3, device=d), ranker="lstm-100"), "100"),
    (lambda d: st.topk(torch.randn(2, 3, device=d), 5), "k"),
    (lambda d: st.permutation(torch.randn(2, 3, device=d), ranker="softrank"), "permutation"),
    (lambda d: st.spearman_loss(torch.randn(4, device=d), torch.randn(5, device=d)), "5"),
    (lambda d: st.spearman_loss(torch.randn(4, device=d), torch.randn(4, device=d),
                                lists=[0, 1]), "one group id"),
    (lambda d: st.spearman_loss(torch.randn(4, device=d), torch.randn(4, device=d),
                                reduction="avg"), "avg"),
    (lambda d: st.ltr_loss("lambdamart", torch.randn(4, device=d), torch.rand(4, device=d)),
     "lambdamart"),
    (lambda d: st.soft_rank(torch.tensor([[1, 2, 3]], device=d)), "floating"),
    (lambda d: st.soft_rank(torch.tensor(3.0, device=d)), "dimension"),
])
def test_bad_settings_raise_value_error_with_the_reason(call, message, device):
    with pytest.raises(ValueError, match=message):
        call(device)


# checks of values: the CPU path reads every score; on a device they would synchronise it
@pytest.mark.parametrize("call, message", [
    (lambda: st.soft_rank(torch.tensor([[1.0, float("nan")]])), "NaN"),
    (lambda: st.ndcg_loss(torch.randn(4), torch.tensor([0.0, -1.0, 1.0, 2.0])), "relevance"),
    (lambda: snp.soft_rank(np.zeros((2, 2, 2))), "shape"),
    (lambda: snp.rank(np.array([["a"]])), "dtype"),
    (lambda: sodeep.set_num_threads(0), "at least 1"),
])
def test_bad_values_raise_value_error_with_the_reason(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_non_cpu_tensor_takes_the_device_path_and_stays_there():
    # a tensor whose device is not the CPU never reaches the Rust core (which would need a
    # host copy): sodeep.torch computes it with torch operations, and the result stays there
    x = torch.randn(2, 5, device="meta")
    for y in (st.soft_rank(x), st.rank(x, ranker="neuralsort"), st.sort(x),
              st.spearman_loss(x.reshape(-1), torch.randn(10, device="meta"))):
        assert y.device.type == "meta"
    assert st.soft_rank(x).shape == (2, 5)


def test_targets_on_another_device_are_refused():
    with pytest.raises(ValueError, match="one device"):
        st.spearman_loss(torch.randn(4, device="meta"), torch.randn(4))


def test_backend_switch():
    assert st.get_backend() == "auto"
    with st.backend("torch"):
        assert st.get_backend() == "torch"
    assert st.get_backend() == "auto"
    with pytest.raises(ValueError, match="auto, torch"):
        st.set_backend("gpu")


@pytest.mark.parametrize("call", [
    lambda: st.permutation(torch.randn(1, 200_000)),
    lambda: st.ltr_loss("ranknet", torch.randn(200_000), torch.rand(200_000)),
])
def test_oversized_work_is_a_value_error_not_an_abort(call):
    # 200,000² permutation entries would be 160 GB: refused before any allocation
    with pytest.raises(ValueError, match="SODEEP_MAX_MEMORY"):
        call()


def test_the_memory_budget_follows_sodeep_max_memory(monkeypatch):
    x = torch.randn(64, 500)
    assert st.permutation(x, ranker="neuralsort").shape == (64, 500, 500)
    monkeypatch.setenv("SODEEP_MAX_MEMORY", "1M")
    with pytest.raises(ValueError, match="SODEEP_MAX_MEMORY=1M"):
        st.permutation(x, ranker="neuralsort")
