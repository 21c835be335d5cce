"""ParamScaledAdamW on FSDP2 shards: the RMS scale is the whole weight's, not the local shard's."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Shard, distribute_tensor

from imitate.model.optim import ParamScaledAdamW

pytestmark = pytest.mark.slow
WORLD = 2


def _full_weight() -> torch.Tensor:
    # Rows of very different scale, so each rank's shard has an RMS far from the whole tensor's.
    return torch.cat([torch.full((4, 3), 0.01), torch.full((4, 3), 1.0)])


def _step(param: torch.Tensor, grad: torch.Tensor) -> None:
    param.grad = grad
    ParamScaledAdamW([param], lr=0.1).step()


def _worker(rank: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    mesh = init_device_mesh("cpu", (WORLD,))
    sharded = torch.nn.Parameter(distribute_tensor(_full_weight(), mesh, [Shard(0)]))
    _step(sharded, distribute_tensor(torch.ones(8, 3), mesh, [Shard(0)]))
    full = sharded.detach().full_tensor()
    if rank == 0:
        # Plain numbers, not a tensor: a tensor travels as a shared-memory handle that dies with
        # this process, which may exit before the parent reads it.
        queue.put(full.tolist())
    dist.destroy_process_group()


def test_rms_scale_uses_the_full_tensor_across_shards() -> None:
    context = mp.get_context("spawn")
    queue = context.Queue()
    port = 29500 + os.getpid() % 1000
    processes = [context.Process(target=_worker, args=(r, port, queue)) for r in range(WORLD)]
    for process in processes:
        process.start()
    sharded_result = torch.tensor(queue.get(timeout=120))
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    reference = torch.nn.Parameter(_full_weight())
    _step(reference, torch.ones(8, 3))
    torch.testing.assert_close(sharded_result, reference.detach())
