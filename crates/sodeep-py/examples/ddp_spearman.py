"""Data-parallel training on a Spearman loss over the global batch (DDP, 2 processes).

Each process scores its own shard of every batch; ``sodeep.distributed.all_gather`` gives each
the whole batch's scores, so the ranks are taken over the global batch. Run it as
``python ddp_spearman.py`` (spawns the processes: one per GPU with NCCL, else 2 on the CPU with
gloo) or under ``torchrun --nproc-per-node 2 ddp_spearman.py``.
"""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

import sodeep.torch as st
from sodeep.distributed import all_gather

BATCH = 64  # the global batch, split across the processes


def train(rank, world):
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    local = int(os.environ.get("LOCAL_RANK", rank))  # the GPU of this process on its node
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(0)  # the same data on every process; each takes its own slice of a batch
    x = torch.randn(512, 8)
    y = x[:, 0] ** 3 + 0.5 * x[:, 1] + 0.1 * torch.randn(512)  # a monotone signal to rank by
    x, y = x.to(device), y.to(device)
    model = DDP(torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(),
                                    torch.nn.Linear(32, 1)).to(device))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    mine = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    for step in range(200):
        batch = torch.randint(0, 512, (BATCH,))[mine]  # same draw everywhere, one slice each
        scores = all_gather(model(x[batch]).squeeze(1))  # the global batch's scores
        loss = st.spearman_loss(scores, all_gather(y[batch]), ranker="softrank:eps=0.1")
        opt.zero_grad()
        # DDP averages the processes' gradients, each holding its shard's part of the one
        # global loss's gradient: scaling by the world size makes the average that gradient
        (loss * world).backward()
        opt.step()
    if rank == 0:
        with torch.no_grad():  # exact Spearman correlation of the trained scores
            r = lambda v: v.argsort().argsort().double()
            rho = torch.corrcoef(torch.stack([r(model(x).squeeze(1)), r(y)]))[0, 1]
        print(f"Spearman correlation: {rho:.3f}")
    # every process waits for the others before tearing down: a process that leaves while
    # another still talks to it can abort in gloo's teardown
    dist.barrier()
    dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    if "RANK" in os.environ:  # under torchrun, which sets the rendezvous variables
        train(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]))
    else:
        world = torch.cuda.device_count() if torch.cuda.is_available() else 2
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
        mp.spawn(train, args=(world,), nprocs=world)
