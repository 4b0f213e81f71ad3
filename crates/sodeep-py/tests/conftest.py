"""The Python suite runs against the installed wheel (scripts/python-test.sh), one thread.

Tests that take the ``device`` fixture run once per code path of ``sodeep.torch``:

- ``cpu``: CPU tensors through the Rust core;
- ``torch``: CPU tensors through the device code path (``sodeep._torch``: torch operations,
  the same code that runs on a GPU), under ``sodeep.torch.backend("torch")``;
- ``cuda``: CUDA tensors, when a GPU is present (the device code path on the GPU, with the
  Triton kernel).

On a machine without a GPU, Triton kernels run in Triton's interpreter (``TRITON_INTERPRET=1``,
set here before anything imports Triton), so that the kernels' own code is tested on the CPU.
"""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

import sodeep  # noqa: E402
import sodeep.torch as st  # noqa: E402

sodeep.set_num_threads(1)
torch.set_num_threads(1)  # both sides on one thread: the suite runs beside other work

DEVICES = ["cpu", "torch"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """The torch device a test computes on, with the code path its name says (module docs)."""
    if request.param == "torch":
        with st.backend("torch"):
            yield torch.device("cpu")
    else:
        yield torch.device(request.param)
