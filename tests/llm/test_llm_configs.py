"""conf/llm options build working clients through Hydra, and the key never enters the config."""

from __future__ import annotations

import json

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf.errors import MissingMandatoryValue

from imitate.llm.base import GenerationRequest
from imitate.llm.openai_client import OpenAIClient
from tests.conftest import REPO, compose_config

SENTINEL = "sk-SENTINEL-in-env-only"
# Each option's composed values (interpolations unresolved) as they were before the options
# included conf/llm/base/openai_client.yaml: the shared base must not change what any option sets.
COMPOSED_OPTIONS = json.loads((REPO / "tests/fixtures/llm/composed_options.json").read_text())


def test_local_server_option_talks_to_a_served_model(server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("IMITATE_CACHE", str(tmp_path))
    cfg = compose_config(
        ["llm=local_server", f"llm.base_url={server.url}", "llm.model=served-name"],
        config_name="evaluate",
    )
    client = instantiate(cfg.llm)
    assert isinstance(client, OpenAIClient) and client.model == "served-name"
    assert client.generate([GenerationRequest(prompt="hi")]) == [["echo: hi"]]
    assert client.cache.path == tmp_path / "llm" / "requests.sqlite"
    client.close()


def test_local_server_without_a_model_name_says_which_key(monkeypatch) -> None:
    cfg = compose_config(["llm=local_server"], config_name="evaluate")
    with pytest.raises(MissingMandatoryValue, match="llm.model"):
        instantiate(cfg.llm)


@pytest.mark.parametrize("option", ["gpt-3.5-turbo", "gpt-4o-mini"])
def test_openai_options_read_the_key_from_the_named_variable(option, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("IMITATE_CACHE", str(tmp_path))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = compose_config([f"llm={option}"], config_name="evaluate")
    with pytest.raises(InstantiationException, match="variable OPENAI_API_KEY is not set"):
        instantiate(cfg.llm)
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    client = instantiate(cfg.llm)
    assert client.model == option and client.logprobs == "chat_top"
    assert SENTINEL not in OmegaConf.to_yaml(cfg.llm, resolve=True) + repr(client)
    client.close()


@pytest.mark.parametrize("option", sorted(COMPOSED_OPTIONS))
@pytest.mark.parametrize(
    ("primary", "override", "where"),
    [
        ("evaluate", "llm={}", "llm"),
        ("judging", "llm={}", "llm"),
        ("judging", "+llm@candidate.llm={}", "candidate.llm"),
    ],
)
def test_every_llm_option_composes_to_its_pinned_values(option, primary, override, where) -> None:
    cfg = compose_config([override.format(option)], config_name=primary)
    node = OmegaConf.select(cfg, where)
    assert OmegaConf.to_container(node, resolve=False) == COMPOSED_OPTIONS[option]
