"""The fully connected sorter (the core's sorter/mlp.rs): ``d → hidden → hidden → d`` with
ReLU between (``fc1``, ``fc2``, ``fc3``, each ``y = x Wᵀ + b``).

>>> import torch
>>> from sodeep._torch.sorters.mlp import Mlp
>>> w = {f"fc{k}.weight": torch.eye(2) for k in (1, 2, 3)}
>>> w.update({f"fc{k}.bias": torch.zeros(2) for k in (1, 2, 3)})
>>> Mlp(w)(torch.tensor([[1.0, -1.0]])).tolist()
[[1.0, 0.0]]
"""
import torch
import torch.nn.functional as F


class Mlp(torch.nn.Module):
    """The MLP sorter."""

    def __init__(self, weights):
        super().__init__()
        self.layers = [(weights[f"fc{k}.weight"], weights[f"fc{k}.bias"]) for k in (1, 2, 3)]

    def forward(self, x):
        (w1, b1), (w2, b2), (w3, b3) = self.layers
        return F.linear(F.relu(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)), w3, b3)
