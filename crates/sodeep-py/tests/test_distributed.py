"""Rank losses over the global batch of 2 processes (gloo, CPU) equal one process's on the
concatenated batch: the loss, the gradients of each process's own scores, and, under DDP, the
model's parameter gradients. The shards have different sizes.

The test launches this file as 2 worker processes (``python test_distributed.py RANK DIR``), which
write their results to DIR; every wait has a timeout, so a hung collective fails the test."""
import datetime
import doctest
import os
import subprocess
import sys

import pytest
import torch

import sodeep.distributed
import sodeep.torch as st
from sodeep.distributed import all_gather, gather_lists

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "ddp_spearman.py")
SIZES = (5, 7)  # items per process
WORLD = len(SIZES)
TIMEOUT = 60  # seconds, for a process to finish (a collective waits at most half of it)


def _shard(t, rank):
    start = sum(SIZES[:rank])
    return t[start:start + SIZES[rank]]


# each case: the loss of (scores, targets, group ids), each process's group ids, distinct, and
# the global ids that gather_lists must give
LOSSES = {
    "spearman-softrank": (lambda x, t, ids: st.spearman_loss(x, t, ranker="softrank:eps=0.1"),
                          None, False, None),
    "spearman-neuralsort": (lambda x, t, ids: st.spearman_loss(x, t, ranker="neuralsort:tau=0.5"),
                            None, False, None),
    # ids numbered within each process: two queries on process 0, three on process 1
    "ndcg-distinct": (lambda x, t, ids: st.ndcg_loss(x, t, ranker="softrank:eps=1", lists=ids,
                                                     k=3),
                      ([0, 0, 1, 1, 1], [0, 0, 0, 1, 2, 2, 2]), True,
                      [0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 4, 4]),
    # the device code path (torch ops, as on a GPU), through a fixed-length sorter whose
    # seeded pads must be the same on every process and in the one-process reference
    "ndcg-torch-ops": (lambda x, t, ids: _torch_ops(st.ndcg_loss)(
                           x, t, ranker="lstm-100", lists=ids, seed=3),
                       ([0, 0, 1, 1, 1], [1, 1, 1, 2, 2, 2, 2]), False,
                       [0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]),
    # dataset-wide ids: groups 3 and 5 each span both processes
    "map-shared": (lambda x, t, ids: st.map_loss(x, t, ranker="softrank:eps=1", lists=ids),
                   ([3, 3, 5, 5, 5], [3, 5, 5, 3, 3, 5, 5]), False,
                   [3, 3, 5, 5, 5, 3, 5, 5, 3, 3, 5, 5]),
}


def _torch_ops(loss):
    """``loss`` through the device code path (``sodeep.torch.backend("torch")``)."""
    def run(*args, **kw):
        with st.backend("torch"):
            return loss(*args, **kw)
    return run


def _data(name):
    """The global batch of a case: float64 scores and targets, the same in every process."""
    g = torch.Generator().manual_seed(sorted(LOSSES).index(name))
    m = sum(SIZES)
    if name.startswith("spearman"):
        return (torch.randn(m, generator=g, dtype=torch.float64),
                torch.randn(m, generator=g, dtype=torch.float64))
    if name.startswith("ndcg"):
        return (torch.randn(m, generator=g, dtype=torch.float64),
                torch.randint(0, 4, (m,), generator=g).double())
    return (torch.randn(m, 2, generator=g, dtype=torch.float64),
            torch.randint(0, 2, (m, 2), generator=g).double())


def _model():
    torch.manual_seed(1)
    return torch.nn.Linear(3, 1).double()


def _ddp_data():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(sum(SIZES), 3, generator=g, dtype=torch.float64)
    return x, x[:, 0] - 0.5 * x[:, 2] + 0.3 * torch.randn(sum(SIZES), generator=g,
                                                           dtype=torch.float64)


def _worker(rank, out):
    torch.set_num_threads(1)
    sodeep.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method="file://" + os.path.join(out, "store"), rank=rank, world_size=WORLD,
        timeout=datetime.timedelta(seconds=TIMEOUT // 2))
    results = {}
    for name, (loss_fn, lists, distinct, _) in LOSSES.items():
        x, t = (_shard(v, rank) for v in _data(name))
        x.requires_grad_(True)
        ids = gather_lists(None if lists is None else lists[rank], distinct=distinct)
        loss = loss_fn(all_gather(x), all_gather(t), ids)
        loss.backward()
        results[name] = (loss.detach(), x.grad, ids)

    # DDP: the global loss scaled by the world size gives single-process parameter gradients
    model = torch.nn.parallel.DistributedDataParallel(_model())
    x, y = (_shard(v, rank) for v in _ddp_data())
    loss = st.spearman_loss(all_gather(model(x).squeeze(1)), all_gather(y))
    (loss * torch.distributed.get_world_size()).backward()
    results["ddp"] = (loss.detach(), [p.grad for p in model.module.parameters()], None)

    # shards that differ beyond dim 0 are refused on every process (none waits for the others)
    try:
        all_gather(torch.zeros(2, 2 + rank))
        results["mismatch"] = None
    except ValueError as e:
        results["mismatch"] = str(e)
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    # no process tears down while another still talks to it (gloo can abort in teardown)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def _run(args, timeout, **kw):
    """Starts the processes of ``args`` and waits for them all, killing them at ``timeout``."""
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
             for a in args]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=timeout))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"the processes did not finish within {timeout} s")
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr
    return outs


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Each process's results."""
    out = str(tmp_path_factory.mktemp("ddp"))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    _run([[sys.executable, __file__, str(r), out] for r in range(WORLD)], TIMEOUT, env=env)
    return [torch.load(os.path.join(out, f"rank{r}.pt")) for r in range(WORLD)]


def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_process_gets_the_loss_and_score_gradients_of_one_process(ranks, name):
    loss_fn, _, _, ids = LOSSES[name]
    x, t = _data(name)
    x.requires_grad_(True)
    loss = loss_fn(x, t, ids)
    loss.backward()
    for rank, results in enumerate(ranks):
        assert _shard(x.grad, rank).abs().max() > 0, "a zero gradient would compare nothing"
        got_loss, got_grad, got_ids = results[name]
        assert got_ids == ids
        _close(got_loss, loss.detach())
        _close(got_grad, _shard(x.grad, rank))


def test_ddp_with_the_scaled_global_loss_gets_the_parameter_gradients_of_one_process(ranks):
    model = _model()
    x, y = _ddp_data()
    loss = st.spearman_loss(model(x).squeeze(1), y)
    loss.backward()
    for results in ranks:
        got_loss, got_grads, _ = results["ddp"]
        _close(got_loss, loss.detach())
        for got, p in zip(got_grads, model.parameters()):
            _close(got, p.grad)


def test_shards_that_differ_beyond_dim_0_are_refused_by_every_process(ranks):
    for results in ranks:
        assert "differ beyond dim 0" in results["mismatch"]


def test_without_a_process_group_the_helpers_return_their_input():
    result = doctest.testmod(sodeep.distributed)
    assert result.attempted > 0 and result.failed == 0
    x = torch.randn(3, requires_grad=True)
    assert all_gather(x) is x
    assert gather_lists(None) is None


def test_the_ddp_example_trains_two_processes_to_a_high_spearman_correlation():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    (stdout, _), = _run([[sys.executable, EXAMPLE]], 120, env=env)
    assert stdout.startswith("Spearman correlation:"), stdout
    assert float(stdout.split()[-1]) > 0.9, stdout


if __name__ == "__main__":
    _worker(int(sys.argv[1]), sys.argv[2])
