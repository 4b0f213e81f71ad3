"""The learned sorters and the handcrafted sorter as torch modules (``sodeep._torch.sorters``)
against the Rust core: ranks and gradients (random upstream gradients) of every shipped
sorter, of sorter folders of every architecture (written here with random weights, which also
covers the architectures no shipped sorter has: ``mlp``, ``lstm-large``, the LSTM's mixing head,
a pairwise sorter with several comparators and a standardising card, a handcrafted card), of
rows beyond the standardisation's 1e18 rescaling, on the CPU under ``backend("torch")`` and on
CUDA when there is one; shapes on ``meta`` tensors, which proves that no score is read on the
host.

The core computes every sorter in float32 (inputs cast to float32, ranks cast back), and so do
the torch modules, float64 inputs included; a standardising sorter standardises in the input's
dtype before the cast. Errors are measured against the largest magnitude
of the core's tensor (at least 1e-2, for gradients that are zero up to rounding): within 1e-5
of it, values and gradients. The two paths round differently (sums over the n scores and over
the hidden units in other orders, the recurrences over d = 100 steps, other exp routines):
measured differences stay within 1e-6 of the largest magnitude, so 1e-5 leaves a tenfold margin
and still catches any change of formula, gate order or weight layout (those move values by
1e-3 or more).
"""
import json
import struct

import numpy as np
import pytest
import torch

import sodeep
import sodeep.torch as st
from sodeep._torch.rankers import build

TOL = 1e-5
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# every shipped sorter (the rankers without a "[:knobs]" form), checked against the list so
# that a new shipped sorter cannot go untested
LENGTHS = {"any": [3, 40], "any-meta": [5, 23], "any-sharp": [2, 17], "best-100": [100],
           "cnn-100": [100], "gru-100": [100], "lstm-100": [100]}


def test_every_shipped_sorter_is_covered():
    assert sorted(n for n in sodeep.rankers() if "[" not in n) == sorted(LENGTHS)


def _close(got, want, what, tol=TOL):
    scale = max(want.abs().max().item(), 1e-2)
    err = (got - want).abs().max().item()
    assert err <= tol * scale, f"{what}: max error {err:.3g} against max |·| {scale:.3g}"


def _rank_and_grad(spec, x, g, device):
    """Ranks (SoDeep's convention) and ``∂⟨ranks, g⟩/∂x`` on the CPU through the core
    (``device=None``), else through the torch modules on ``device``; returned on the CPU."""
    xd = x.detach().to(device or "cpu", copy=True).requires_grad_()
    with st.backend("torch" if device == "cpu" else "auto"):
        r = st.rank(xd, ranker=spec, descending=True, normalized=True)
    (r * g.to(r.device)).sum().backward()
    assert r.dtype == x.dtype and xd.grad.dtype == x.dtype
    return r.detach().cpu(), xd.grad.cpu()


def _check(spec, x, device, seed=0, tol=TOL):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    want_r, want_g = _rank_and_grad(spec, x, g, None)
    got_r, got_g = _rank_and_grad(spec, x, g, device)
    _close(got_r, want_r, f"{spec} ranks", tol)
    _close(got_g, want_g, f"{spec} gradient", tol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(LENGTHS))
def test_shipped_sorter_matches_core(name, device):
    gen = torch.Generator().manual_seed(1)
    for i, n in enumerate(LENGTHS[name]):
        # float64 input on the first length: cast to float32 and back, as in the core
        dtype = torch.float64 if i == 0 else torch.float32
        _check(name, torch.randn(2, n, generator=gen, dtype=dtype), device, seed=i)


@pytest.mark.parametrize("device", DEVICES)
def test_handcrafted_matches_core(device):
    gen = torch.Generator().manual_seed(2)
    for spec, n in [("handcrafted", 6), ("handcrafted:2.5", 9), ("handcrafted:lambda=40", 5)]:
        # no weights, so no float32 cast: float64 agrees to float64 rounding
        for dtype, tol in ((torch.float32, TOL), (torch.float64, 1e-9)):
            _check(spec, torch.randn(3, n, generator=gen, dtype=dtype), device, tol=tol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["lstm-100", "any"])
def test_standardisation_edge_rows_match_core(name, device):
    # standardising sorters rescale rows beyond 1e18 by a power of two first (no overflow to
    # inf or NaN), leaving the other rows of the batch as they are
    gen = torch.Generator().manual_seed(3)
    n = 100
    x = torch.randn(3, n, generator=gen)
    x[0] *= 1e30
    x[1, 7] = 3e38
    x[1, 9] = -3e38
    _check(name, x, device)
    assert torch.isfinite(build(name).rank(x)).all()
    # constant rows: all zeros once standardised, with the gradient of x − mean
    _check(name, torch.full((2, n), 0.25), device)
    # closely spaced float64 rows (near an offset, and tiny): standardised in float64 before
    # the float32 network, so they rank as the same rows spread out
    spread = torch.randn(2, n, generator=gen, dtype=torch.float64)
    close = torch.stack([0.5 + 1e-12 * spread[0], 1e-300 * spread[1]])
    _check(name, close, device)
    _close(build(name).rank(close), build(name).rank(spread), f"{name} scale invariance", 1e-3)


# --- sorter folders with random weights, one per architecture -----------------------------

def _uniform(rng, shape, fan_in):
    b = 1 / np.sqrt(fan_in)
    return rng.uniform(-b, b, size=shape).astype(np.float32)


def _rnn_weights(rng, prefix, gates, hidden, layers):
    w = {}
    for layer in range(layers):
        for sfx in ("", "_reverse"):
            inp = 1 if layer == 0 else 2 * hidden
            w[f"{prefix}.weight_ih_l{layer}{sfx}"] = _uniform(rng, (gates * hidden, inp), hidden)
            w[f"{prefix}.weight_hh_l{layer}{sfx}"] = _uniform(rng, (gates * hidden, hidden),
                                                              hidden)
            for b in ("bias_ih", "bias_hh"):
                w[f"{prefix}.{b}_l{layer}{sfx}"] = _uniform(rng, (gates * hidden,), hidden)
    return w


def _folder_weights(card, rng):
    arch, d, h = card["arch"], card["d"], card["hidden"]
    if arch == "mlp":
        sizes = [(h, d), (h, h), (d, h)]
        w = {}
        for k, (o, i) in enumerate(sizes, 1):
            w[f"fc{k}.weight"] = _uniform(rng, (o, i), i)
            w[f"fc{k}.bias"] = _uniform(rng, (o,), i)
        return w
    if arch in ("lstm", "lstm-large"):
        w = _rnn_weights(rng, "lstm", 4, h, card["layers"])
        if card.get("head") == "position":
            w["head.weight"] = _uniform(rng, (1, 2 * h), 2 * h)
            w["head.bias"] = _uniform(rng, (1,), 2 * h)
        else:
            w["conv1.weight"] = _uniform(rng, (d, d, 2 * h), d * 2 * h)
            w["conv1.bias"] = _uniform(rng, (d,), d * 2 * h)
        return w
    if arch == "gru":
        return _rnn_weights(rng, "rnn", 3, h, card["layers"])
    if arch == "cnn":
        w = {}
        for k in range(8):
            cin, cout = (1 if k == 0 else h), (d if k == 7 else h)
            p = f"blocks.{k}."
            w[p + "conv.weight"] = _uniform(rng, (cout, cin, 3), cin * 3)
            w[p + "conv.bias"] = _uniform(rng, (cout,), cin * 3)
            w[p + "bn.weight"] = rng.uniform(0.5, 1.5, cout).astype(np.float32)
            w[p + "bn.bias"] = rng.uniform(-0.2, 0.2, cout).astype(np.float32)
            w[p + "bn.running_mean"] = rng.uniform(-0.3, 0.3, cout).astype(np.float32)
            w[p + "bn.running_var"] = rng.uniform(0.5, 2.0, cout).astype(np.float32)
        w["head.weight"] = _uniform(rng, (1, d, 1), d)
        w["head.bias"] = _uniform(rng, (1,), d)
        return w
    if arch == "pairwise":
        return {"log_sharpness": rng.uniform(-1, 1, h).astype(np.float32),
                "mix": rng.uniform(-1, 1, h).astype(np.float32),
                "len_exponent": np.array([-0.2], np.float32)}
    return {}  # handcrafted


def _write_folder(path, card, weights):
    """A sorter folder: ``sorter.json`` and ``sorter.safetensors`` (float32, little-endian)."""
    path.mkdir()
    header, blobs, offset = {}, [], 0
    for name in sorted(weights):
        a = np.ascontiguousarray(weights[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    (path / "sorter.safetensors").write_bytes(struct.pack("<Q", len(head)) + head
                                              + b"".join(blobs))
    card = dict(card, parameters=int(sum(v.size for v in weights.values())),
                crate_version="0.1.0")
    (path / "sorter.json").write_text(json.dumps(card))


FOLDERS = {
    "mlp": {"arch": "mlp", "d": 12, "hidden": 16, "layers": 0},
    "lstm-mixing": {"arch": "lstm", "d": 10, "hidden": 6, "layers": 2, "standardize": True},
    "lstm-large-position": {"arch": "lstm-large", "d": 8, "hidden": 5, "layers": 1,
                            "head": "position"},
    "gru-raw": {"arch": "gru", "d": 9, "hidden": 4, "layers": 2},
    # d = 150 > 129: the dilations double from 2 (s = 2)
    "cnn-150": {"arch": "cnn", "d": 150, "hidden": 4, "layers": 0},
    # standardised twice (the card's, then the sorter's own), unbounded sharpness
    "pairwise-3": {"arch": "pairwise", "d": 0, "hidden": 3, "layers": 0, "standardize": True},
    "handcrafted": {"arch": "handcrafted", "d": 0, "hidden": 0, "layers": 0, "lambda": 4.0},
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """``kind → path`` of a sorter folder of each of ``FOLDERS``."""
    root = tmp_path_factory.mktemp("sorters")
    rng = np.random.default_rng(4)
    for kind, card in FOLDERS.items():
        _write_folder(root / kind, card, _folder_weights(card, rng))
    return {kind: str(root / kind) for kind in FOLDERS}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", sorted(FOLDERS))
def test_sorter_folder_matches_core(kind, device, folders):
    d = FOLDERS[kind]["d"]
    x = torch.randn(2, d or 11, generator=torch.Generator().manual_seed(5))
    _check(folders[kind], x, device)
    assert build(folders[kind]).fixed_len == (d or None)


# --- frozen weights, meta tensors ---------------------------------------------------------

def test_weights_are_frozen():
    # the core's frozen sorter: gradients reach the input, never a weight
    for name, n in [("cnn-100", 100), ("lstm-100", 100), ("any", 5)]:
        r = build(name)
        x = torch.randn(2, n, requires_grad=True)
        loss = (r.rank(x) * torch.randn(2, n)).sum()  # (ranks of a row have a fixed sum)
        loss.backward(retain_graph=True)
        once = x.grad.clone()
        assert torch.isfinite(once).all() and once.abs().max() > 0
        loss.backward()  # a retained graph differentiates again, as the core's tape does
        assert torch.equal(x.grad, 2 * once)
        cpu = torch.device("cpu")
        tensors = list(r.weights(cpu).values()) + list(r.network(cpu).parameters())
        assert all(not t.requires_grad and t.grad is None for t in tensors), name


# every architecture; the recurrent ones through small folders (meta tensors run an RNN step
# by step in Python, seconds for d = 100)
@pytest.mark.parametrize("spec", ["any", "cnn-100", "handcrafted:3", "mlp", "lstm-mixing",
                                  "lstm-large-position", "gru-raw"])
def test_meta_shapes(spec, folders):
    spec = folders.get(spec, spec)
    n = build(spec).fixed_len or 7
    for dtype in (torch.float32, torch.float64):
        x = torch.empty(3, n, device="meta", dtype=dtype, requires_grad=True)
        r = st.rank(x, ranker=spec, descending=True, normalized=True)
        assert (r.device.type, r.shape, r.dtype) == ("meta", (3, n), dtype)
        r.sum().backward()
        assert (x.grad.device.type, x.grad.shape, x.grad.dtype) == ("meta", (3, n), dtype)


def test_fixed_length_is_refused():
    x = torch.randn(2, 50)
    with st.backend("torch"), pytest.raises(ValueError, match="length d = 100"):
        st.rank(x, ranker="lstm-100")
