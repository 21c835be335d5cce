"""A sweep rerun with resume=auto finds the checkpoints its interrupted cell left in the old folder."""

from __future__ import annotations

from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

from imitate.tracking import cells
from tests.conftest import compose_config


def cell_config(tmp_path, parent: str | None = "parent-run"):
    overrides = [
        "+experiment=smoke",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        "output_dir=/tmp/new_cell",
        "resume=auto",
    ]
    if parent:
        overrides.append(f"tracking.parent_run_id={parent}")
    return compose_config(overrides)


def add_run(
    client: MlflowClient, experiment_id: str, digest: str, folder: str, status: str
) -> None:
    run = client.create_run(
        experiment_id, tags={cells.TAG_CONFIG_HASH: digest, cells.TAG_CHECKPOINT_DIR: folder}
    )
    client.set_terminated(run.info.run_id, status)


def test_latest_unfinished_run_of_the_same_cell_gives_its_checkpoint_folder(tmp_path) -> None:
    cfg = cell_config(tmp_path)
    client = MlflowClient(cfg.tracking.uri)
    experiment_id = client.create_experiment(cfg.tracking.experiment)
    digest = cells.config_hash(cfg)
    assert cells.unfinished_checkpoint_dir(cfg) is None  # nothing ran yet
    add_run(
        client,
        experiment_id,
        digest,
        "/old/finished/checkpoints",
        RunStatus.to_string(RunStatus.FINISHED),
    )
    assert cells.unfinished_checkpoint_dir(cfg) is None  # finished cells are skipped, not resumed
    add_run(
        client,
        experiment_id,
        "another-cell",
        "/old/other/checkpoints",
        RunStatus.to_string(RunStatus.KILLED),
    )
    add_run(
        client,
        experiment_id,
        digest,
        "/old/killed/checkpoints",
        RunStatus.to_string(RunStatus.KILLED),
    )
    assert cells.unfinished_checkpoint_dir(cfg) == "/old/killed/checkpoints"


def test_cell_tags_record_the_checkpoint_folder(tmp_path) -> None:
    cfg = cell_config(tmp_path)
    assert cells.cell_tags(cfg, {})[cells.TAG_CHECKPOINT_DIR] == "/tmp/new_cell/checkpoints"


def test_plain_runs_never_look_for_other_runs(tmp_path) -> None:
    # A killed run of the very same config is in the store: only a sweep cell may pick it up.
    cfg = cell_config(tmp_path, parent=None)
    client = MlflowClient(cfg.tracking.uri)
    experiment_id = client.create_experiment(cfg.tracking.experiment)
    killed = RunStatus.to_string(RunStatus.KILLED)
    add_run(client, experiment_id, cells.config_hash(cfg), "/old/killed/checkpoints", killed)
    assert cells.unfinished_checkpoint_dir(cfg) is None
