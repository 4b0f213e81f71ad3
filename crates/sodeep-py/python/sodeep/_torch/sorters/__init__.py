"""The learned sorters and the handcrafted sorter as torch modules (the core's sorter/):
``from_knobs`` builds the ranker of a ``handcrafted`` spec, or of a ``sorter`` spec (a shipped
name or a sorter folder) from its model card and weights, read through the core
(``sodeep._native.sorter_state``), so that a name means the same network here as there.

A learned sorter is frozen: evaluation mode (BatchNorm's running statistics), weights that
take no gradient, gradients to the input only. As in the core, the network computes in
float32 (the input is cast to float32 and the ranks back to its dtype), after the optional
row standardisation of its card (``standardize``; always for ``pairwise``), which runs in the
input's dtype before the cast, so that float64 scores closer than float32's spacing stay apart. The weights go to a device on its first
use and stay there, one copy per device.

Architectures (``arch`` of the card): ``lstm`` and ``lstm-large``, ``gru`` (``recurrent``),
``cnn``, ``mlp``, ``pairwise``, and ``handcrafted`` (a folder may hold one).

>>> import torch
>>> from sodeep._torch.sorters import from_knobs
>>> r = from_knobs("sorter", {}, "lstm-100")
>>> x = torch.linspace(-1, 1, 100).unsqueeze(0)
>>> r.rank(x).mul(100).round()[0, [0, 99]].tolist()  # smallest → 1, largest → 1/100
[100.0, 1.0]
"""
import json

import numpy
import torch

from ..._native import sorter_state
from ..rankers import TorchRanker
from .cnn import Cnn
from .fp32 import exact
from .handcrafted import Handcrafted
from .mlp import Mlp
from .pairwise import Pairwise
from .recurrent import Gru, Lstm
from .standardize import standardize_rows


def _upload(array, device):
    """A float32 weight on ``device``; to a GPU through pinned memory and without blocking,
    so that loading a sorter does not wait for the device's queue."""
    t = torch.from_numpy(numpy.ascontiguousarray(array, dtype=numpy.float32))
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _network(config, weights):
    """The network of the card's ``config`` on the device of ``weights``."""
    arch, d, hidden, layers = config["arch"], config["d"], config["hidden"], config["layers"]
    if arch in ("lstm", "lstm-large"):
        return Lstm(weights, d, hidden, layers, config.get("head", "mixing"))
    if arch == "gru":
        return Gru(weights, hidden, layers)
    if arch == "cnn":
        return Cnn(weights, d)
    if arch == "mlp":
        return Mlp(weights)
    if arch == "pairwise":
        bound = config.get("lambda")
        return Pairwise(weights, float("inf") if bound is None else bound)
    raise ValueError(f"sorter architecture '{arch}' has no torch implementation")


class _Standardized(torch.nn.Module):
    """``net`` on standardised rows (a card's ``standardize``)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(standardize_rows(x))


class LearnedSorter(TorchRanker):
    """A frozen learned sorter from its card (a dict) and float32 weights (NumPy arrays)."""

    def __init__(self, name, config, weights):
        self.name = name
        self.config = config
        self._host = weights
        # device → (weights, network, ready); the weights are float32, the compute dtype,
        # whatever the input's
        self._on = {}

    def _load(self, device):
        got = self._on.get(device)
        if got is None:
            weights = {k: _upload(v, device) for k, v in self._host.items()}
            net = _network(self.config, weights)
            if self.config.get("standardize"):
                net = _Standardized(net)
            ready = None
            if device.type == "cuda":
                # the uploads and the network's set-up ran on the current stream: a call on
                # another stream waits for them on the device (the host never waits)
                ready = torch.cuda.Event()
                ready.record(torch.cuda.current_stream(device))
            got = self._on[device] = (weights, net, ready)
        return got

    def weights(self, device):
        """The weights by name on ``device`` (constants: no gradient reaches them)."""
        return self._load(device)[0]

    def network(self, device):
        """The network on ``device``, a function of ``(B, d)`` float32 rows."""
        return self._load(device)[1]

    def rank(self, x):
        _, net, ready = self._load(x.device)
        if ready is not None:
            torch.cuda.current_stream(x.device).wait_event(ready)
        # as the core's Sorter::forward: standardised in the input's dtype, then cast (the
        # network standardises again, which changes a standardised row only by rounding)
        if self.config.get("standardize") or self.config["arch"] == "pairwise":
            x_in = standardize_rows(x)
        else:
            x_in = x
        y = exact(net, x_in.to(torch.float32))
        return y.to(x.dtype)


def from_knobs(family, knobs, spec):
    """The ranker of a ``handcrafted`` spec (knob ``lambda``) or a ``sorter`` spec."""
    if family == "handcrafted":
        return Handcrafted(float(knobs["lambda"]), name=spec)
    card_json, weights = sorter_state(spec)
    config = json.loads(card_json)
    if config["arch"] == "handcrafted":
        # the core's Sorter::from_tensors: a handcrafted card keeps only its λ
        return Handcrafted(float(config.get("lambda", 10.0)), name=spec)
    return LearnedSorter(spec, config, dict(weights))
