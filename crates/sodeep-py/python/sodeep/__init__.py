"""sodeep: differentiable ranking on a Rust core.

- ``sodeep.numpy``: rankers and rank losses on NumPy arrays, with their vector-Jacobian
  products for users of other frameworks.
- ``sodeep.torch``: the same as ``torch.autograd.Function``s (torch is imported only there),
  including drop-in replacements for torchsort's ``soft_rank`` and ``soft_sort``.

A ranker is named by a spec: ``softrank[:eps=E,reg=l2|kl]``, ``neuralsort[:tau=T]``,
``softsort-perm``, ``sinkhorn``, ``diffsort-oddeven``, ``diffsort-bitonic``, ``blackbox``,
``handcrafted``, or a shipped learned sorter (``best-100``, ``any``, ``lstm-100``, ...);
``sodeep.rankers()`` lists them. Bad input raises ``ValueError``.

>>> import numpy as np, sodeep.numpy as snp
>>> snp.rank(np.array([[0.3, -1.0, 2.0]]), ranker="softrank:eps=0.001").round(3).tolist()
[[2.0, 1.0, 3.0]]
"""
from ._native import __version__, rankers, set_num_threads

__all__ = ["__version__", "rankers", "set_num_threads"]
