"""Every ranker and loss as torch operations: the code path of ``sodeep.torch`` on devices other
than the CPU (CUDA, and ``meta`` for shape checks), where the Rust core cannot read the data.

Each module re-implements one concept of the Rust core on torch tensors, with the same values
and gradients (the tests compare the two on the CPU): the computation stays on the input's
device and on torch's current stream, and nothing is copied to the host. What the core decides
from settings alone (a spec's knobs, a sorter's weights, a loss's seeded grouping) still comes
from the core, through ``sodeep._native``: those are host-side settings, never scores.

- ``rankers``: the ``TorchRanker`` interface and ``build(spec)``, which dispatches on the
  spec's family to the modules below;
- ``softrank`` (with ``isotonic`` and its Triton kernel ``isotonic_triton``): soft rank and
  soft sort;
- ``neuralsort``, ``sinkhorn``, ``diffsort``, ``blackbox``: the dense analytic rankers;
- ``sorters``: the learned sorters as torch modules built from the shipped weights;
- ``losses``: the rank and learning-to-rank losses.
"""
