"""FSDP helpers that need no process group: block discovery, config errors."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from imitate.model import parallel
from imitate.model.parallel import ParallelConfig
from tests.conftest import compose_config


@pytest.mark.parametrize(
    ("model", "block"), [("tiny_llama", "LlamaDecoderLayer"), ("tiny_gpt2", "GPT2Block")]
)
def test_decoder_blocks_come_from_the_models_no_split_modules(model, block) -> None:
    backbone = instantiate(compose_config([f"model={model}"]).model.backbone, device="meta")
    assert [cls.__name__ for cls in parallel.decoder_block_classes(backbone)] == [block]


def test_cpu_offload_on_a_cpu_run_is_refused_with_what_to_set() -> None:
    factory = compose_config(["model=tiny_llama"]).model.backbone
    with pytest.raises(
        ValueError, match=r"parallel.cpu_offload=true .* set parallel.cpu_offload=false"
    ):
        parallel.build_sharded(
            lambda **kw: instantiate(factory, **kw),
            weights_dir=None,
            mesh=None,
            config=ParallelConfig(cpu_offload=True),
            device=torch.device("cpu"),
            vocab_size=None,
        )


def test_an_unknown_dtype_names_the_key_and_valid_values() -> None:
    backbone = instantiate(compose_config(["model=tiny_llama"]).model.backbone, device="meta")
    with pytest.raises(ValueError, match=r"parallel.param_dtype='bf16' .* bfloat16 or float32"):
        parallel.shard(backbone, mesh=None, config=ParallelConfig(param_dtype="bf16"))
