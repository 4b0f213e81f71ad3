"""Every loss of ``sodeep.torch`` as torch ops (``sodeep._torch.losses``) against the Rust core:
values and gradients wrt the scores (random upstream gradients for ``reduction='none'``), every
reduction, float32 and float64, on the CPU under ``backend("torch")`` (and on CUDA when there
is one, with torch's sync debug mode raising on any synchronisation), and on ``meta`` tensors
(shapes only, which proves that no value is read on the host).

Two rankers: soft rank (any length), with every reduction, and the shipped LSTM sorter
(d = 100), with batches whose size differs from d so that the core's seeded grouping cuts,
shuffles and pads them (one reduction, ``none``: the reductions do not depend on the ranker,
and the sorter is slow on the CPU). Errors are measured against the largest magnitude of the
core's tensor (at least 1e-2): within 1e-5 of it in float32, 1e-9 in float64; through the
sorter 1e-5 in both, since the core and the torch module compute every sorter in float32
(see test_device_sorters.py).
"""
import contextlib

import pytest
import torch

import sodeep.torch as st

RTOL = {torch.float32: 1e-5, torch.float64: 1e-9}
DTYPES = [torch.float32, torch.float64]
ANY = "softrank:eps=0.1"
FIXED = "lstm-100"  # a fixed length d = 100; the batches below have m ≠ d
RANKERS = [ANY, FIXED]
REDUCTIONS = ["mean", "sum", "none"]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
KINDS = ["mse", "ranknet", "lambdarank", "listnet", "listmle", "approxndcg"]


def _name(dtype):
    return str(dtype).replace("torch.", "")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _no_sync(device):
    """On CUDA, any synchronisation with the host raises."""
    if device != "cuda":
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def mode():
        torch.cuda.set_sync_debug_mode("error")
        try:
            yield
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return mode()


def _run(f, x, aux, device):
    """``f(x, aux)`` and ``∂⟨f, g⟩/∂x`` for a fixed random g, on ``device``, on the CPU."""
    xd = x.detach().to(device, copy=True).requires_grad_()
    ad = None if aux is None else aux.to(device)
    if device == "cuda":
        f(xd, ad)  # a first call uploads a sorter's weights: only later calls must not sync
    with _no_sync(device):
        y = f(xd, ad)
    g = torch.randn(y.shape, generator=_gen(7), dtype=x.dtype).to(device)
    with _no_sync(device):
        (y * g).sum().backward()
    return y.detach().cpu(), xd.grad.cpu()


def _close(got, want, rtol, what):
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} vs {tuple(want.shape)}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} vs {want.dtype}"
    scale = max(want.abs().max().item() if want.numel() else 0.0, 1e-2)
    err = (got - want).abs().max().item() if want.numel() else 0.0
    assert err <= rtol * scale, f"{what}: error {err:.3g} against a scale {scale:.3g}"


def _reductions(ranker):
    return REDUCTIONS if ranker == ANY else ["none"]


def _check(f, x, aux, device, what, ranker=ANY):
    """The torch path on ``device`` equals the core on the CPU, values and gradients; returns
    the core's value."""
    want = _run(f, x, aux, "cpu")
    with st.backend("torch"):
        got = _run(f, x, aux, device)
    rtol = RTOL[x.dtype] if ranker == ANY else RTOL[torch.float32]
    _close(got[0], want[0], rtol, f"{what}: value")
    _close(got[1], want[1], rtol, f"{what}: gradient")
    return want[0]


def _ragged_ids(m, seed):
    """Ragged, interleaved group ids of uneven sizes (ids not contiguous, one id unused)."""
    weights = torch.tensor([5.0, 3.0, 1.0, 2.0])
    ids = torch.multinomial(weights, m, replacement=True, generator=_gen(seed))
    return [int(i) * 2 for i in ids]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("ranker", RANKERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
@pytest.mark.parametrize("layout", ["vector", "lists", "batch"])
def test_spearman(device, ranker, dtype, layout):
    m = 130
    pred = torch.randn(m, generator=_gen(1), dtype=dtype)
    # targets with ties: their exact ranks share the mean rank
    target = torch.randint(0, 20, (m,), generator=_gen(2)).to(dtype)
    lists = None
    if layout == "lists":
        lists = _ragged_ids(m, 3)
    elif layout == "batch":
        pred, target = pred.view(2, 65), target.view(2, 65)
    elif ranker == ANY:
        pred = pred.view(m, 1)  # the (m, 1) form
    for reduction in _reductions(ranker):
        for seed in (0, 5) if ranker == ANY else (5,):
            _check(lambda x, t: st.spearman_loss(x, t, ranker=ranker, lists=lists,
                                                 reduction=reduction, seed=seed),
                   pred, target, device, f"{layout} {reduction} seed {seed}", ranker)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("ranker", RANKERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_map(device, ranker, dtype):
    m, c = 130, 4
    scores = torch.randn(m, c, generator=_gen(1), dtype=dtype)
    labels = (torch.rand(m, c, generator=_gen(2)) < 0.2).to(dtype)
    labels[:, 1] = 0  # a column without positives: 0, and out of the mean
    labels[:, 3] = 0
    labels[7, 3] = 1  # a column with one positive
    for lists in (None, _ragged_ids(m, 3)):
        for normalized in (False, True) if ranker == ANY else (lists is None,):
            for reduction in _reductions(ranker):
                v = _check(lambda x, y: st.map_loss(x, y, ranker=ranker, lists=lists,
                                                    normalized=normalized, reduction=reduction,
                                                    seed=4),
                           scores, labels, device, f"lists {lists is not None} normalized "
                           f"{normalized} {reduction}", ranker)
                if reduction == "none":
                    assert v[1] == 0 and v[0] > 0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("ranker", RANKERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_recall_and_rank_sum(device, ranker, dtype):
    # 101 > d: the LSTM ranks each row's columns in two groups (shuffled, padded), and each
    # row keeps the group of its own positive
    n = 101 if ranker == FIXED else 9
    sim = torch.randn(n, n, generator=_gen(1), dtype=dtype)
    # row 0's hardest negatives tie (the core's min passes the gradient to both)
    sim[0, 3] = sim[0, 5] = sim[0].max() + 1
    for both in (False, True) if ranker == ANY else (True,):
        for reduction in _reductions(ranker):
            what = f"both {both} {reduction}"
            _check(lambda x, _: st.recall_loss(x, ranker=ranker, margin=0.3, both_directions=both,
                                               reduction=reduction, seed=2),
                   sim, None, device, "recall " + what, ranker)
            _check(lambda x, _: st.rank_sum_loss(x, ranker=ranker, both_directions=both,
                                                 reduction=reduction, seed=2),
                   sim, None, device, "rank sum " + what, ranker)


def _tie_cases(dtype):
    """Inputs where the core's derivatives at ties decide the gradient (see losses/ties.py)."""
    n = 4
    # exact ranks k/n (blackbox): with each positive first, the hardest negative second and a
    # margin of 1/n, every hinge is exactly 0, where the core's ReLU has slope 1
    ordered = -torch.arange(n, dtype=dtype).expand(n, n) + torch.eye(n, dtype=dtype) * 10
    # NeuralSort gives tied scores equal ranks: row 0's two hardest negatives tie, and the
    # core's min passes the full gradient to both
    tied = torch.randn(6, 6, generator=_gen(1), dtype=dtype)
    tied[0, 3] = tied[0, 5] = tied[0].max() + 1
    # exact ranks again: the top item's raw rank R is exactly 1 (NDCG's floor max(R, 1)), and
    # the items at k and k + 1 sit on the ramp's clamps; the scores are set so that blackbox's
    # perturbed ranks move with the upstream gradient
    close = torch.tensor([0.3, 0.32, -1.0, 0.31, 0.1], dtype=dtype)
    apart = torch.tensor([0.3, 2.0, -1.0, 0.9, 0.1], dtype=dtype)
    rel = torch.tensor([1.0, 2.0, 0.0, 3.0, 1.0], dtype=dtype)
    return {
        "relu at 0": (lambda x, _: st.recall_loss(x, ranker="blackbox", margin=1 / n,
                                                  both_directions=False, reduction="none"),
                      ordered, None),
        "tied min": (lambda x, _: st.recall_loss(x, ranker="neuralsort", margin=0.3,
                                                 both_directions=False, reduction="none"),
                     tied, None),
        "ndcg floor": (lambda x, r: st.ndcg_loss(x, r, ranker="blackbox"), close, rel),
        "ndcg clamps": (lambda x, r: st.ndcg_loss(x, r, ranker="blackbox", k=2), apart, rel),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
@pytest.mark.parametrize("case", ["relu at 0", "tied min", "ndcg floor", "ndcg clamps"])
def test_derivatives_at_ties(case, device, dtype):
    f, x, aux = _tie_cases(dtype)[case]
    v = _check(f, x, aux, device, case)
    if case == "relu at 0":
        assert (v == 0).all()


def _queries(m, seed, dtype, every_query_relevant):
    """Scores, graded labels (with ties) and ragged query ids; unless
    ``every_query_relevant``, query 2 has no relevant item."""
    ids = _ragged_ids(m, seed)
    scores = torch.randn(m, generator=_gen(seed + 1), dtype=dtype)
    rel = torch.randint(0, 4, (m,), generator=_gen(seed + 2)).to(dtype)
    first = {}
    for i, q in enumerate(ids):
        first.setdefault(q, i)
    for q, i in first.items():
        rel[i] = 2.0  # a relevant item in every query...
    if not every_query_relevant:
        rel[torch.tensor(ids) == 2] = 0  # ... but one
    return scores, rel, ids


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("ranker", RANKERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_ndcg(device, ranker, dtype):
    # with the LSTM the queries (lengths ≠ d) are laid out by the seeded grouping, whose pads
    # must not depend on which queries have a relevant item (query 2 has none)
    scores, rel, ids = _queries(40, 3, dtype, every_query_relevant=False)
    for k in (None, 3):
        for gain in ("exp", "linear") if ranker == ANY else ("exp",):
            for reduction in _reductions(ranker):
                v = _check(lambda x, r: st.ndcg_loss(x, r, ranker=ranker, lists=ids, k=k,
                                                     gain=gain, reduction=reduction, seed=1),
                           scores, rel, device, f"k {k} {gain} {reduction}", ranker)
                if reduction == "none":
                    assert v[1] == 0  # query id 2: no relevant item, no signal
    batch = scores[:36].reshape(4, 9), rel[:36].reshape(4, 9)
    _check(lambda x, r: st.ndcg_loss(x, r, ranker=ranker, reduction="none"), *batch, device,
           "a (B, n) batch", ranker)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_ltr(device, kind, dtype):
    scores, rel, ids = _queries(40, 5, dtype, every_query_relevant=False)
    at = [i for i, q in enumerate(ids) if q == 0]
    scores[at[1]] = scores[at[2]]  # tied scores: lambdarank's positions break ties by index
    ids = ids + [9]  # a query of one item
    scores, rel = torch.cat([scores, scores[:1]]), torch.cat([rel, rel[:1]])
    # the gain and the cutoff only matter to the NDCG-based kinds, the seed only to listmle's
    # tie shuffles (elsewhere it draws pads, which no value depends on)
    ndcg_based = kind in ("lambdarank", "approxndcg")
    values = {}
    for lists in (ids, None):
        for k in ((None, 2) if ndcg_based else (None,)):
            for gain in (("exp", "linear") if ndcg_based else ("exp",)):
                for reduction in REDUCTIONS:
                    for seed in ((0, 1) if kind == "listmle" else (0,)):
                        what = f"lists {lists is not None} k {k} {gain} {reduction} seed {seed}"
                        values[what] = _check(
                            lambda x, r: st.ltr_loss(kind, x, r, lists=lists, k=k, gain=gain,
                                                     sigma=1.5, temperature=0.7,
                                                     reduction=reduction, seed=seed),
                            scores, rel, device, what)
    batch = scores[:36].reshape(4, 9), rel[:36].reshape(4, 9)
    _check(lambda x, r: st.ltr_loss(kind, x, r, reduction="none", seed=3), *batch, device,
           "a (B, n) batch")
    if kind == "listmle":
        # ties among labels are ordered by the seeded shuffle: the seed matters, and both
        # paths draw the same shuffle
        assert values["lists True k None exp mean seed 0"] != values[
            "lists True k None exp mean seed 1"]


def _meta_cases():
    """``name → (f, x shape, aux shape, output shape, dtypes)``; the sorter's cases run in one
    dtype (it is slow on meta tensors and computes in float32 whatever the input's dtype)."""
    m, ids = 130, [0, 0, 3, 1, 3, 3]
    both = DTYPES
    return {
        "spearman": (lambda x, t: st.spearman_loss(x, t, reduction="none"), (m,), (m,), (m,),
                     both),
        "spearman-batch": (lambda x, t: st.spearman_loss(x, t, reduction="none"),
                           (3, 5), (3, 5), (3, 5), both),
        "spearman-fixed": (lambda x, t: st.spearman_loss(x, t, ranker=FIXED, reduction="none"),
                           (m,), (m,), (m,), [torch.float64]),
        "map": (lambda x, t: st.map_loss(x, t, lists=[i % 3 for i in range(m)],
                                         reduction="none"), (m, 3), (m, 3), (3,), both),
        "recall": (lambda x, _: st.recall_loss(x, reduction="none"), (6, 6), None, (12,), both),
        "rank_sum": (lambda x, _: st.rank_sum_loss(x, both_directions=False), (6, 6), None, (),
                     both),
        "ndcg": (lambda x, t: st.ndcg_loss(x, t, lists=ids, k=2, reduction="none"), (6,), (6,),
                 (3,), both),
        "ndcg-fixed": (lambda x, t: st.ndcg_loss(x, t, ranker=FIXED, lists=[1, 0, 0, 1]),
                       (4,), (4,), (), [torch.float32]),
        **{f"ltr-{kind}": (lambda x, t, kind=kind: st.ltr_loss(kind, x, t, lists=ids,
                                                               reduction="none"),
                           (6,), (6,), (3,), both)
           for kind in KINDS},
    }


@pytest.mark.parametrize("case, dtype", [pytest.param(c, d, id=f"{c}-{_name(d)}")
                                         for c, v in _meta_cases().items() for d in v[4]])
def test_meta(case, dtype):
    f, x_shape, aux_shape, out_shape, _ = _meta_cases()[case]
    x = torch.empty(x_shape, device="meta", dtype=dtype, requires_grad=True)
    aux = None if aux_shape is None else torch.empty(aux_shape, device="meta", dtype=dtype)
    y = f(x, aux)
    assert y.device.type == "meta" and y.dtype == dtype and tuple(y.shape) == out_shape
    y.sum().backward()
    assert x.grad.device.type == "meta" and x.grad.shape == x.shape


def _bad_cases():
    z = torch.zeros
    return {
        "spearman 3-d": lambda: st.spearman_loss(z(3, 2, 1), z(3)),
        "spearman lengths": lambda: st.spearman_loss(z(3), z(4)),
        "spearman batch": lambda: st.spearman_loss(z(2, 3), z(6)),
        "spearman empty": lambda: st.spearman_loss(z(0), z(0)),
        "spearman batch with lists": lambda: st.spearman_loss(z(2, 3), z(2, 3), lists=[0, 1]),
        "map 1-d": lambda: st.map_loss(z(3), z(3)),
        "map labels": lambda: st.map_loss(z(3, 2), z(3, 3)),
        "recall non-square": lambda: st.recall_loss(z(3, 2)),
        "recall empty": lambda: st.recall_loss(z(0, 0)),
        "rank sum 1-d": lambda: st.rank_sum_loss(z(4)),
        "ndcg k = 0": lambda: st.ndcg_loss(z(3), z(3), k=0),
        "ndcg empty": lambda: st.ndcg_loss(z(0), z(0)),
        "ndcg labels": lambda: st.ndcg_loss(z(3), z(4)),
        "ndcg batch": lambda: st.ndcg_loss(z(2, 3), z(3, 2)),
        "ndcg 3-d": lambda: st.ndcg_loss(z(2, 3, 1), z(2, 3, 1)),
        "ltr sigma": lambda: st.ltr_loss("ranknet", z(3), z(3), sigma=0.0),
        "ltr temperature": lambda: st.ltr_loss("approxndcg", z(3), z(3),
                                               temperature=float("inf")),
        "ltr negative sigma": lambda: st.ltr_loss("ranknet", z(3), z(3), sigma=-0.5),
        "ltr k = 0": lambda: st.ltr_loss("lambdarank", z(3), z(3), k=0),
        "ltr labels": lambda: st.ltr_loss("mse", z(3), z(2)),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_errors_match_the_core(case):
    f = _bad_cases()[case]
    with pytest.raises(ValueError) as core:
        f()
    with st.backend("torch"), pytest.raises(ValueError) as device:
        f()
    assert str(device.value) == str(core.value)
