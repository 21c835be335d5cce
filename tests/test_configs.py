"""Every file under conf/ composes, and every ``_target_`` binds to its callable's signature."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import get_object
from omegaconf import OmegaConf

from tests.conftest import REPO, compose_config

CONF = REPO / "conf"
ROOT_GROUPS = {"data", "model", "trainer", "eval", "tracking"}
PRIMARY = {"train", "evaluate", "plan"}
# kwargs the code passes at call time, so the YAML legitimately leaves them out
CALL_TIME_KWARGS = {
    "logger",
    "callbacks",
    "default_root_dir",
    "micro_batch_size",
    "seed",
    "strategy",
    "plugins",
}


def config_files() -> list[str]:
    return sorted(str(p.relative_to(CONF).with_suffix("")) for p in CONF.rglob("*.yaml"))


def overrides_for(relative: str) -> tuple[str, list[str]]:
    """(primary config, overrides) that compose ``conf/<relative>.yaml``."""
    path = Path(relative)
    if str(path.parent) == ".":
        return path.name, []
    group, option = str(path.parent), path.name
    if group in ROOT_GROUPS or group.startswith("hydra/"):  # hydra/* groups already have a default
        return "train", [f"{group}={option}"]
    return "train", [f"+{group}={option}"]


@pytest.mark.parametrize("relative", [f for f in config_files() if Path(f).name != "__init__"])
def test_config_file_composes_and_targets_bind(relative: str) -> None:
    config_name, overrides = overrides_for(relative)
    if config_name not in PRIMARY and Path(relative).parent == Path("."):
        pytest.skip(f"{relative} is not a primary config")
    cfg = compose_config(overrides, config_name=config_name)
    container = OmegaConf.to_container(cfg, resolve=False)
    targets = list(_targets(container, ""))
    for where, node in targets:
        _bind(where, node)


def test_every_group_option_is_parametrised() -> None:
    files = config_files()
    for group in ROOT_GROUPS | {"experiment"}:
        assert any(f.startswith(f"{group}/") for f in files), f"no options for group {group}"


@pytest.mark.parametrize(
    "model", ["tiny_llama", "tiny_gpt2", "smollm2_135m", "gpt2_1.5b", "llama_7b", "llama_13b"]
)
def test_required_model_options_exist(model: str) -> None:
    assert (CONF / "model" / f"{model}.yaml").is_file()


def test_unknown_group_option_lists_valid_options() -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(["model=llama_70b"])
    message = str(error.value)
    assert "llama_70b" in message and "tiny_llama" in message and "llama_13b" in message


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigCompositionException, match="blok_size"):
        compose_config(["data.blok_size=3"])


def _targets(node, where: str):
    if isinstance(node, dict):
        if "_target_" in node:
            yield where, node
        for key, value in node.items():
            yield from _targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _targets(value, f"{where}[{index}]")


def _bind(where: str, node: dict) -> None:
    target = get_object(node["_target_"])
    kwargs = {k: v for k, v in node.items() if not k.startswith("_") and k not in CALL_TIME_KWARGS}
    signature = inspect.signature(target)
    try:
        signature.bind_partial(**kwargs)
    except TypeError as err:
        raise AssertionError(
            f"{where}: {node['_target_']} does not accept {sorted(kwargs)}: {err}"
        ) from err


def test_unknown_key_hint_lists_valid_keys_and_the_close_match() -> None:
    from imitate.config_hints import unknown_key_hints

    [hint] = unknown_key_hints(
        ["model=tiny_gpt2", "model.backbone.config.n_layr=3", "data.block_size=8"]
    )
    assert "n_layr" in hint and "n_embd, n_head, n_layer" in hint
    assert "Did you mean 'model.backbone.config.n_layer'" in hint


def test_cli_prints_the_hint_after_hydras_error() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "imitate", "data.blok_size=3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Did you mean 'data.block_size'" in done.stderr
