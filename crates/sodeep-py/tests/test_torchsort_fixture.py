"""sodeep.torch.soft_rank / soft_sort against torchsort's values and gradients (shared
fixture, float64), within 1e-6."""
import json
import os

import numpy as np
import pytest
import torch

import sodeep.numpy as snp
import sodeep.torch as st

with open(os.path.join(os.path.dirname(__file__), "fixtures", "soft_rank.json")) as f:
    CASES = json.load(f)["cases"]


def _id(c):
    return f"{c['op']}-{c['regularization']}-{c['strength']}-{len(c['x'])}x{len(c['x'][0])}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_values_and_gradients_equal_torchsort(case, device):
    fn = st.soft_rank if case["op"] == "soft_rank" else st.soft_sort
    f64 = dict(dtype=torch.float64, device=device)
    x = torch.tensor(case["x"], **f64, requires_grad=True)
    y = fn(x, regularization_strength=case["strength"], regularization=case["regularization"])
    assert y.dtype == torch.float64 and y.device == x.device
    np.testing.assert_allclose(y.detach().cpu().numpy(), case["y"], atol=1e-6, rtol=0)
    (y * torch.tensor(case["w"], **f64)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), case["grad_x_of_sum_w_y"], atol=1e-6,
                               rtol=0)


@pytest.mark.parametrize("case", CASES[:8], ids=[_id(c) for c in CASES[:8]])
def test_numpy_functions_and_vjps_equal_torchsort(case):
    x = np.array(case["x"], dtype=np.float64)
    kw = dict(regularization_strength=case["strength"], regularization=case["regularization"])
    fwd, vjp = ((snp.soft_rank, snp.soft_rank_vjp) if case["op"] == "soft_rank"
                else (snp.soft_sort, snp.soft_sort_vjp))
    np.testing.assert_allclose(fwd(x, **kw), case["y"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(vjp(x, np.array(case["w"]), **kw), case["grad_x_of_sum_w_y"],
                               atol=1e-6, rtol=0)
