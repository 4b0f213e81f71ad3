"""Maximum, minimum, ReLU and the min-reduction with the core's derivatives where they are
not smooth (candle's backward rules), so that gradients equal the core's at ties too:

- ``maximum(x, c)`` / ``minimum(x, c)``: derivative 1 away from the tie, ½ at ``x = c``
  (candle splits a tie evenly between its two operands; torch gives all of it to x);
- ``relu(x)``: derivative 1 at ``x = 0`` (candle's ``x ≥ 0``; torch's is 0 there);
- ``row_min(x)``: the minimum over the last axis passes the full gradient to *every* entry
  equal to it (candle's rule; torch's ``amin`` splits it, ``min`` picks one).

>>> import torch
>>> from sodeep._torch.losses.ties import maximum
>>> x = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
>>> maximum(x, 1.0).sum().backward()
>>> x.grad.tolist()
[0.0, 0.5, 1.0]
"""
import torch


def maximum(x, c):
    """``max(x, c)`` elementwise for a number ``c``, derivative ½ at ``x = c``."""
    # at x = c, ½x + ½c is exactly c and has derivative ½
    return torch.where(x > c, x, torch.where(x == c, 0.5 * x + 0.5 * c, torch.zeros_like(x) + c))


def minimum(x, c):
    """``min(x, c)`` elementwise for a number ``c``, derivative ½ at ``x = c``."""
    return torch.where(x < c, x, torch.where(x == c, 0.5 * x + 0.5 * c, torch.zeros_like(x) + c))


def clamp(x, lo, hi):
    """``minimum(maximum(x, lo), hi)``, as candle's ``clamp``."""
    return minimum(maximum(x, lo), hi)


def relu(x):
    """``max(x, 0)`` with derivative 1 at 0."""
    return torch.where(x >= 0, x, torch.zeros_like(x))


def row_min(x):
    """The minimum over the last axis; every entry equal to it gets the full gradient."""
    low = x.detach().amin(-1, keepdim=True)
    hit = (x.detach() == low).to(x.dtype)
    # the value is `low` exactly; the gradient reaches each tied entry once
    return low.squeeze(-1) + ((x - x.detach()) * hit).sum(-1)
