"""A secret given as an override and through an env var reaches nothing `+experiment=smoke` writes.

One real run shared by every assertion: MLflow params and tags, every artifact (downloaded), the
captured stdout/stderr, Hydra's .log file and every file under the working folder (outputs, the
sqlite store, the local artifact store).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from imitate.redact import REDACTED
from tests.support.subprocess_run import mlflow_uri, run_imitate

# One real run, ~30-45 s on 2 cores; tests/tracking/test_redact.py is the fast check.
pytestmark = pytest.mark.slow
FROM_OVERRIDE = "SENTINEL-override-5b1e9c0d"
FROM_ENV = "SENTINEL-env-a7d2031f"
ENV_NAME = "IMITATE_TEST_API_KEY"  # named like a secret: its value is scrubbed wherever it appears
SENTINELS = (FROM_OVERRIDE, FROM_ENV)


@dataclass
class SecretRun:
    workdir: Path
    client: MlflowClient
    run_id: str
    output: str  # stdout + stderr


@pytest.fixture(scope="module")
def secret_run(tmp_path_factory) -> SecretRun:
    workdir = tmp_path_factory.mktemp("secrets")
    uri = mlflow_uri(workdir)
    done = run_imitate(
        [
            "+experiment=smoke",
            f"hydra.run.dir={workdir}/run",
            f"+tracking.api_key={FROM_OVERRIDE}",  # a secret key on the command line
            f"+tracking.note=${{oc.env:{ENV_NAME}}}",  # the env secret under an innocuous key
        ],
        cwd=workdir,
        uri=uri,
        env={ENV_NAME: FROM_ENV},
        timeout_s=600,
    )
    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name("smoke").experiment_id])
    return SecretRun(workdir, client, run.info.run_id, done.stdout + done.stderr)


def _leaks(text: str) -> list[str]:
    return [sentinel for sentinel in SENTINELS if sentinel in text]


def test_both_secrets_reached_the_config_and_were_redacted(secret_run) -> None:
    params = secret_run.client.get_run(secret_run.run_id).data.params
    assert params["tracking.api_key"] == REDACTED
    assert params["tracking.note"] == REDACTED  # resolved from the env var, scrubbed by value


def test_no_param_or_tag_holds_a_secret(secret_run) -> None:
    data = secret_run.client.get_run(secret_run.run_id).data
    for name, value in {**data.params, **data.tags}.items():
        assert not _leaks(f"{name}={value}"), name


def test_no_artifact_holds_a_secret(secret_run, tmp_path) -> None:
    folder = Path(secret_run.client.download_artifacts(secret_run.run_id, "", str(tmp_path)))
    files = {str(p.relative_to(folder)): p for p in folder.rglob("*") if p.is_file()}
    for expected in ("config/resolved.yaml", "config/overrides.yaml", "config/hydra.yaml"):
        assert expected in files
    assert "model/config.json" in files and "data_card.json" in files
    assert REDACTED in files["config/overrides.yaml"].read_text()
    for name, path in files.items():
        assert not _leaks(path.read_bytes().decode("utf-8", "replace")), name


def test_logs_and_every_file_under_the_working_folder_hold_no_secret(secret_run) -> None:
    assert not _leaks(secret_run.output)
    hydra_logs = list((secret_run.workdir / "run").glob("*.log"))
    assert hydra_logs and hydra_logs[0].stat().st_size > 0
    files = [p for p in secret_run.workdir.rglob("*") if p.is_file()]
    assert {".hydra", "model", "mlartifacts"} <= {part for p in files for part in p.parts}
    assert (secret_run.workdir / "mlflow.db") in files
    for path in files:
        assert not _leaks(path.read_bytes().decode("utf-8", "replace")), path
    overrides = (secret_run.workdir / "run" / ".hydra" / "overrides.yaml").read_text()
    assert f"+tracking.api_key={REDACTED}" in overrides
