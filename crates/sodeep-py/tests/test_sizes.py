"""The size table of the Python ops: every op of ``sodeep.numpy`` and ``sodeep.torch`` given an
input that is cheap to make but absurd to process (an ``n × n`` permutation of 200,000 scores is
320 GB) is refused with a ``ValueError`` under ``SODEEP_MAX_MEMORY=1G``, within 5 seconds, and
the process does not grow past the budget. The CLI's table is ``crates/sodeep-cli/tests/sizes.txt``.

The budget is the host's: on the torch path (``backend("torch")`` or a device tensor), memory is
torch's, whose allocator raises its own ``OutOfMemoryError``; these rows run the CPU path."""
import resource
import time

import numpy as np
import pytest
import torch

import sodeep.numpy as snp
import sodeep.torch as st

BUDGET = 1 << 30
WIDE = 200_000  # scores in one vector: n² ops need 16 × 4e10 bytes
LONG = 20_000_000  # scores in one vector: O(n) ops at 64 bytes a score need 1.2 GiB


def _wide():
    return np.random.default_rng(0).standard_normal((1, WIDE)).astype(np.float32)


def _long():
    return np.random.default_rng(1).standard_normal((1, LONG)).astype(np.float32)


def _t(a):
    return torch.from_numpy(a)


# every op, and how it is fed an absurd size
NUMPY = {
    "rank": lambda: snp.rank(_wide(), ranker="handcrafted"),
    "rank_vjp": lambda: snp.rank_vjp(_wide(), _wide(), ranker="handcrafted"),
    "soft_rank": lambda: snp.soft_rank(_long()),
    "soft_rank_vjp": lambda: snp.soft_rank_vjp(_long(), _long()),
    "soft_sort": lambda: snp.soft_sort(_long()),
    "soft_sort_vjp": lambda: snp.soft_sort_vjp(_long(), _long()),
    "permutation": lambda: snp.permutation(_wide()),
    "permutation_vjp": lambda: snp.permutation_vjp(_wide(), np.zeros((1, 1, 1), np.float32)),
    "sort": lambda: snp.sort(_wide()),
    "sort_vjp": lambda: snp.sort_vjp(_wide(), _wide()),
    "argsort": lambda: snp.argsort(_wide()),
    "argsort_vjp": lambda: snp.argsort_vjp(_wide(), _wide()),
    "topk": lambda: snp.topk(_wide(), 3),
    "topk_vjp": lambda: snp.topk_vjp(_wide(), _wide(), 3),
}

TORCH = {
    "soft_rank": lambda: st.soft_rank(_t(_long())),
    "soft_sort": lambda: st.soft_sort(_t(_long())),
    "rank": lambda: st.rank(_t(_wide()), ranker="handcrafted"),
    "permutation": lambda: st.permutation(_t(_wide())),
    "sort": lambda: st.sort(_t(_wide())),
    "argsort": lambda: st.argsort(_t(_wide())),
    "topk": lambda: st.topk(_t(_wide()), 3),
    "spearman_loss": lambda: st.spearman_loss(_t(_wide()[0]), _t(_wide()[0]), ranker="handcrafted"),
    "map_loss": lambda: st.map_loss(_t(_wide()).T, torch.ones(WIDE, 1), ranker="handcrafted"),
    "recall_loss": lambda: st.recall_loss(torch.randn(4000, 4000), ranker="handcrafted"),
    "rank_sum_loss": lambda: st.rank_sum_loss(torch.randn(4000, 4000), ranker="handcrafted"),
    "ndcg_loss": lambda: st.ndcg_loss(_t(_wide()[0]), torch.ones(WIDE), ranker="handcrafted"),
    "ltr_loss": lambda: st.ltr_loss("ranknet", _t(_wide()[0]), torch.ones(WIDE)),
}


def test_the_tables_cover_every_op():
    assert sorted(NUMPY) == sorted(snp.__all__)
    ops = [n for n in st.__all__ if n not in ("backend", "set_backend", "get_backend")]
    assert sorted(TORCH) == sorted(ops)


@pytest.mark.parametrize("name, call", [(f"numpy.{k}", v) for k, v in NUMPY.items()]
                         + [(f"torch.{k}", v) for k, v in TORCH.items()],
                         ids=lambda x: x if isinstance(x, str) else "")
def test_an_absurd_size_is_refused_quickly_within_the_budget(name, call, monkeypatch):
    monkeypatch.setenv("SODEEP_MAX_MEMORY", "1G")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    with pytest.raises(ValueError, match="over the memory limit"):
        call()
    seconds = time.perf_counter() - start
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert seconds < 5, f"{name}: refused after {seconds:.1f} s"
    assert grown < BUDGET, f"{name}: the process grew by {grown >> 20} MiB"
