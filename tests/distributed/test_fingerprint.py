"""The eval cache key of a sharded model equals the unsharded model's (FSDP2 DTensor weights gathered)."""

from __future__ import annotations

import copy

import pytest
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from imitate.llm.hf import weights_fingerprint
from tests.eval.conftest import tiny_llama


@pytest.fixture
def one_process_group(monkeypatch, free_tcp_port):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_tcp_port))
    dist.init_process_group("gloo", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_a_sharded_model_has_the_fingerprint_of_its_full_weights(one_process_group):
    model = tiny_llama(128, seed=1)
    sharded = copy.deepcopy(model)
    fully_shard(sharded, mesh=init_device_mesh("cpu", (1,)))
    assert type(next(iter(sharded.state_dict().values()))).__name__ == "DTensor"
    assert weights_fingerprint(sharded) == weights_fingerprint(model)
    assert weights_fingerprint(sharded) != weights_fingerprint(tiny_llama(128, seed=2))
