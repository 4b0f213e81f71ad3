"""The recurrent sorters (the core's sorter/lstm.rs and sorter/gru.rs) on ``torch.nn.LSTM`` and
``torch.nn.GRU`` (cuDNN on a GPU), whose math and weight layout are the core's: the core's
weights are PyTorch's (``weight_ih_l{k}[_reverse]``, ``weight_hh_…``, ``bias_ih_…``,
``bias_hh_…``; LSTM gates i, f, g, o; GRU gates r, z, n with ``r`` gating ``W_hn h + b_hn``),
zero initial states, batch first, bidirectional.

- LSTM (``lstm``, ``lstm-large``): the scores as a one-feature sequence → the ``B × d × 2h``
  outputs of the last layer → the head: ``mixing``, one affine map of the whole output to the
  ``d`` ranks (``conv1.weight``, ``d × d × 2h``), or ``position``, one ``2h → 1`` map shared
  by the positions (``head.weight``).
- GRU: the sequence ``σ(x/2 + 1)`` → rank ``σ(Σ_features output)`` at each position.

The RNN modules stay in training mode: with no dropout, it computes the same function as
evaluation mode, and cuDNN only differentiates an RNN run in training mode.

>>> import torch
>>> from sodeep._torch.sorters.recurrent import Gru
>>> w = {f"rnn.{p}_l0{s}": torch.zeros(6, 1 if p == "weight_ih" else 2)
...      for p in ("weight_ih", "weight_hh") for s in ("", "_reverse")}
>>> w.update({f"rnn.{p}_l0{s}": torch.zeros(6) for p in ("bias_ih", "bias_hh")
...           for s in ("", "_reverse")})
>>> Gru(w, hidden=2, layers=1)(torch.ones(1, 3)).tolist()  # zero weights: σ(0)
[[0.5, 0.5, 0.5]]
"""
import torch


def _rnn(kind, weights, prefix, hidden, layers):
    """A bidirectional ``kind`` (``torch.nn.LSTM`` or ``torch.nn.GRU``) holding the weights
    named ``prefix.…``, on their device."""
    first = weights[f"{prefix}.weight_ih_l0"]
    rnn = kind(1, hidden, num_layers=layers, bidirectional=True, batch_first=True,
               device=first.device, dtype=torch.float32)
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            # a copy into the parameter keeps cuDNN's flat weight buffer, whose views they are
            p.copy_(weights[f"{prefix}.{name}"])
            p.requires_grad_(False)
    return rnn


class Lstm(torch.nn.Module):
    """The bidirectional LSTM sorter with a ``mixing`` or ``position`` head."""

    def __init__(self, weights, d, hidden, layers, head):
        super().__init__()
        self.rnn = _rnn(torch.nn.LSTM, weights, "lstm", hidden, layers)
        self.d, self.head = d, head
        if head == "mixing":
            self.w = weights["conv1.weight"].reshape(d, -1)  # d × (d·2h), position-major
            self.b = weights["conv1.bias"]
        else:
            self.w, self.b = weights["head.weight"], weights["head.bias"]  # 1 × 2h, 1

    def forward(self, x):
        h, _ = self.rnn(x.unsqueeze(2))  # B × d × 2h
        if self.head == "mixing":
            return h.reshape(h.shape[0], -1) @ self.w.t() + self.b
        return (h @ self.w.t()).squeeze(2) + self.b


class Gru(torch.nn.Module):
    """The bidirectional GRU sorter."""

    def __init__(self, weights, hidden, layers):
        super().__init__()
        self.rnn = _rnn(torch.nn.GRU, weights, "rnn", hidden, layers)

    def forward(self, x):
        h, _ = self.rnn(torch.sigmoid(x * 0.5 + 1.0).unsqueeze(2))
        return torch.sigmoid(h.sum(2))
