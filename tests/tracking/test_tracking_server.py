"""Against a real `mlflow server`: artifacts land in the server's store, none on the client's disk.

One server (sqlite backend, `--artifacts-destination` a temp folder) on 127.0.0.1 for the module;
the client runs from its own folder: a smoke run, a 2-cell sweep (parent, 2 children, base and
teacher rows) given a secret on its command line, then `python -m imitate.report` reading the
sweep back through the server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.artifacts import download_artifacts
from mlflow.tracking import MlflowClient
from transformers import AutoModelForCausalLM

from imitate import metrics
from imitate.tracking import cells, mlflow_run
from tests.support.local_servers import free_port, wait_healthy
from tests.support.subprocess_run import run_imitate
from tests.sweep.grid import eval_overrides

pytestmark = pytest.mark.slow
HEALTH_WAIT_S = 90
SWEEP_EXPERIMENT = "sweep_miniatures"  # conf/sweep/mini_grid.yaml
SECRET = "SENTINEL-sweep-3e8b41c6"  # given to the sweep as +tracking.api_key
ROLES = (cells.ROLE_SWEEP, cells.ROLE_IMITATION, cells.ROLE_BASE, cells.ROLE_TEACHER)


@dataclass
class Server:
    url: str
    root: Path  # the server's folder: its sqlite store, log and artifacts
    destination: Path  # --artifacts-destination

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.url)

    def stored(self, run_id: str) -> set[str]:
        """Artifact paths of a run as files in the server's destination folder."""
        [folder] = self.destination.glob(f"*/{run_id}/artifacts")
        return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{root / 'server.db'}"]
    command += ["--artifacts-destination", str(root / "artifacts")]
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        command, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/health", process, root / "server.log", "mlflow server", HEALTH_WAIT_S)
        yield Server(url, root, root / "artifacts")
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen) -> None:
    """The server and its uvicorn worker: the process group this fixture started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("client")


def _imitate(server: Server, cwd: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    return run_imitate(args, module=module, cwd=cwd, uri=server.url, timeout_s=900)


@pytest.fixture(scope="module")
def smoke(server, client_dir):
    _imitate(
        server, client_dir, "imitate", "+experiment=smoke", f"hydra.run.dir={client_dir}/smoke"
    )
    [run] = server.client.search_runs([server.client.get_experiment_by_name("smoke").experiment_id])
    return run


@pytest.fixture(scope="module")
def sweep(server, client_dir):
    """2 cells (data.max_tokens=512,1024 on tiny_llama), their base row and the teacher row."""
    done = _imitate(
        server,
        client_dir,
        "imitate",
        "-m",
        "+sweep=mini_grid",
        "hydra.sweeper.params.model=tiny_llama",
        f"hydra.sweep.dir={client_dir}/multirun",
        f"+tracking.api_key={SECRET}",
        *eval_overrides(),  # the quick benchmarks on tests/eval's fixtures: the server is the point
        "eval.tasks.style.limit=1",
    )
    client = server.client
    experiment = client.get_experiment_by_name(SWEEP_EXPERIMENT).experiment_id
    runs = client.search_runs([experiment])
    return done, {
        role: [r for r in runs if r.data.tags.get(cells.TAG_ROLE) == role] for role in ROLES
    }


def test_a_run_stores_its_artifacts_and_model_on_the_server(server, smoke, tmp_path) -> None:
    assert smoke.info.status == "FINISHED"
    assert smoke.info.artifact_uri.startswith("mlflow-artifacts:")
    stored = server.stored(smoke.info.run_id)
    for path in ("config/resolved.yaml", "config/overrides.yaml", "data_card.json"):
        assert path in stored
    assert {"model/config.json", "model/model.safetensors", "model/tokenizer.json"} <= stored
    # A teammate's machine: the model comes from the server, not from the writer's model_dir.
    model_uri = smoke.data.tags[mlflow_run.TAG_MODEL_ARTIFACT]
    local = download_artifacts(model_uri, dst_path=str(tmp_path), tracking_uri=server.url)
    assert AutoModelForCausalLM.from_pretrained(local).config.num_hidden_layers == 2


def test_a_sweep_keeps_parent_and_children_on_the_server(server, sweep) -> None:
    _, runs = sweep
    [parent] = runs[cells.ROLE_SWEEP]
    children = runs[cells.ROLE_IMITATION]
    assert parent.info.status == "FINISHED"
    assert sorted(r.data.tags["grid.data.max_tokens"] for r in children) == ["1024", "512"]
    [base] = runs[cells.ROLE_BASE]
    for run in [*children, base]:
        assert run.info.status == "FINISHED"
        assert run.data.tags[cells.TAG_PARENT] == parent.info.run_id
        assert int(run.data.tags[cells.TAG_PARAMETERS]) > 3_000_000  # tiny_llama, counted by train
        assert {"config/resolved.yaml", "model/config.json"} <= server.stored(run.info.run_id)
    assert {"sweep/status.json", "sweep/status.md"} <= server.stored(parent.info.run_id)


def test_the_teacher_row_is_on_the_server(server, sweep) -> None:
    _, runs = sweep
    [parent], [teacher] = runs[cells.ROLE_SWEEP], runs[cells.ROLE_TEACHER]
    assert teacher.data.tags[cells.TAG_PARENT] == parent.info.run_id
    assert "reference.yaml" in server.stored(teacher.info.run_id)


def test_the_report_reads_the_sweep_back_through_the_server(server, sweep, client_dir) -> None:
    _, runs = sweep
    out = client_dir / "report"
    _imitate(server, client_dir, "imitate.report", SWEEP_EXPERIMENT, "--out", str(out))
    heldout = json.loads((out / "heldout_loss.json").read_text())
    [panel] = [p for p in heldout["panels"] if p["metric"] == metrics.HELDOUT_LOSS]
    losses = sorted(y for points in panel["series"].values() for _, y in points)
    expected = sorted(r.data.metrics[metrics.HELDOUT_LOSS] for r in runs[cells.ROLE_IMITATION])
    assert losses == expected
    [parent] = runs[cells.ROLE_SWEEP]
    assert {"report/report.html", "report/heldout_loss.png"} <= server.stored(parent.info.run_id)


def test_nothing_lands_in_the_clients_artifact_folders(smoke, sweep, client_dir) -> None:
    local_stores = [p for p in client_dir.rglob("*") if p.name in ("mlartifacts", "mlruns")]
    assert local_stores == []
    assert not (client_dir / mlflow_run.LOCAL_ARTIFACT_ROOT).exists()


def test_the_sweeps_secret_reaches_neither_server_nor_client_nor_console(
    server, sweep, client_dir
) -> None:
    done, runs = sweep
    assert SECRET not in done.stdout + done.stderr
    [parent] = runs[cells.ROLE_SWEEP]
    assert "+tracking.api_key=<redacted>" in parent.data.tags["command"]
    files = [p for folder in (server.root, client_dir) for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "multirun.yaml" for p in files) and any(p.suffix == ".db" for p in files)
    leaking = [p for p in files if SECRET.encode() in p.read_bytes()]
    assert leaking == []
