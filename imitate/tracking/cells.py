"""One grid cell of a sweep: its config hash, its MLflow tags, and the earlier run that already did it.

A cell's identity is the hash of its resolved config minus what only says where results go
(``output_dir`` and cache folders, ``run_name``, ``tracking``, ``resume``). A base-model row
(``train: false``) also drops what only matters for training (optimiser, batch, token budget) and
evaluates the model without an adapter, so the cells of one base model share a single base row
however many budgets and adapters the grid has.
"""

from __future__ import annotations

import logging
from typing import Any

from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf, open_dict

from imitate.hashing import short_hash

log = logging.getLogger(__name__)

ROLE_IMITATION, ROLE_BASE, ROLE_TEACHER, ROLE_SWEEP = "imitation", "base", "teacher", "sweep"
TAG_ROLE = "role"
TAG_CONFIG_HASH = "config_hash"
TAG_PARENT = "mlflow.parentRunId"  # MLflow's own tag: the UI nests the child under its parent
TAG_GRID = "grid."  # + swept key, e.g. grid.data.max_tokens=512, grid.model=tiny_llama
TAG_PARAMETERS = "model_parameters"  # the base model's size, for plots against base size
TAG_OUTPUT_DIR = "output_dir"  # where the cell's outputs live
TAG_CHECKPOINT_DIR = "checkpoint_dir"  # where its checkpoints live: a rerun resumes from there
TAG_ADAPTER = "adapter"  # none (full fine-tuning) | lora: every training run carries it

# Top-level keys that say where results go or how the sweep is wired, not what is computed.
RUN_SPECIFIC = ("run_name", "tracking", "resume", "reference")
# Folders other keys interpolate (checkpoint.dir: ${output_dir}/...): hashed as placeholders.
FOLDER_PLACEHOLDERS = {"output_dir": "<output_dir>", "cache_dir": "<cache_dir>"}
# What a base-model row (no training) does not depend on.
TRAINING_ONLY = ("optim", "batch", "loss")


def config_hash(cfg: DictConfig) -> str:
    """16 hex digits identifying what this cell computes (same hash = same result)."""
    return short_hash(_hashed_content(cfg))


def _hashed_content(cfg: DictConfig) -> dict:
    raw = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(raw, dict), "a DictConfig converts to a dict"
    kept = {k: v for k, v in raw.items() if k not in RUN_SPECIFIC} | FOLDER_PLACEHOLDERS
    content = OmegaConf.to_container(OmegaConf.create(kept), resolve=True)
    assert isinstance(content, dict), "a DictConfig converts to a dict"
    if not content.get("train", True):
        for key in TRAINING_ONLY:
            content.pop(key, None)
        content.get("data", {}).pop("max_tokens", None)
    return content


def is_base_row(cfg: DictConfig) -> bool:
    return not cfg.get("train", True)


def cell_tags(
    cfg: DictConfig, choices: dict[str, Any], parameters: int | None = None
) -> dict[str, str]:
    """Parent, role, config hash, grid coordinates and base size (``parameters``); empty outside a sweep."""
    parent = cfg.tracking.get("parent_run_id")
    if parent is None:
        return {}
    base = is_base_row(cfg)
    tags = {
        TAG_PARENT: str(parent),
        TAG_ROLE: ROLE_BASE if base else ROLE_IMITATION,
        TAG_CONFIG_HASH: config_hash(cfg),
        TAG_OUTPUT_DIR: str(cfg.output_dir),
        TAG_CHECKPOINT_DIR: str(cfg.checkpoint.dir),
    }
    for key in cfg.tracking.get("grid") or []:
        if base and _training_only(key):
            continue
        tags[TAG_GRID + key] = grid_value(cfg, choices, key)
    if parameters is not None:
        tags[TAG_PARAMETERS] = str(parameters)
    return tags


def _training_only(key: str) -> bool:
    # A base row has no adapter (base_row_config): the cell's adapter is no coordinate of it.
    return key.split(".")[0] in (*TRAINING_ONLY, "adapter") or key == "data.max_tokens"


def grid_value(cfg: DictConfig, choices: dict[str, Any], key: str) -> str:
    """A config group's chosen option (``model`` -> ``tiny_llama``), else the key's value."""
    if key in choices:
        return str(choices[key])
    return str(OmegaConf.select(cfg, key, default=None))


def finished_run(client: MlflowClient, experiment_name: str, digest: str) -> Run | None:
    """The latest FINISHED run in the experiment with this config hash, if any."""
    return _latest_with_hash(client, experiment_name, digest, "attributes.status = 'FINISHED'")


def _latest_with_hash(
    client: MlflowClient, experiment_name: str, digest: str, status: str
) -> Run | None:
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.{TAG_CONFIG_HASH} = '{digest}' and {status}",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def latest_child(client: MlflowClient, experiment_id: str, parent: str, digest: str) -> Run | None:
    """The most recently started child of ``parent`` with this config hash."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_PARENT}` = '{parent}' and tags.{TAG_CONFIG_HASH} = '{digest}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def base_row_config(cell: DictConfig, output_dir: str, run_name: str) -> DictConfig:
    """The cell's config turned into its base model's reference row: no training, one data block."""
    base = cell.copy()
    with open_dict(base):
        base.train = False
        base.output_dir = output_dir
        base.run_name = run_name
        # Validation data is held out before the budget is taken, so one block of training data
        # (never used) keeps preparation cheap without changing what the base row measures.
        base.data.max_tokens = base.data.block_size
        # The base model is the same under every adapter (LoRA starts as the identity): an
        # adapter=lora cell shares adapter=none's row (same hash) instead of adding a second one.
        from imitate.model.adapters import AdapterConfig  # here: the report needs no torch/peft

        base.adapter = OmegaConf.structured(AdapterConfig())
    return base


def finished_result(cfg: DictConfig, metric: str) -> float | None:
    """``metric`` of an earlier FINISHED run of this sweep cell (same config hash), else None."""
    if cfg.tracking.get("parent_run_id") is None:
        return None  # only sweep cells are skipped; a plain run always runs
    digest = config_hash(cfg)
    run = finished_run(MlflowClient(cfg.tracking.uri), cfg.tracking.experiment, digest)
    if run is None:
        return None
    log.info("sweep cell %s finished before in run %s: skipped", digest, run.info.run_id)
    return run.data.metrics.get(metric, float("nan"))


def unfinished_checkpoint_dir(cfg: DictConfig) -> str | None:
    """Checkpoint folder of this sweep cell's latest unfinished run (killed, failed, still marked running).

    A rerun of the sweep command gets new output folders; with ``resume=auto`` the cell continues
    from the checkpoints its interrupted run left behind, in that run's folder.
    """
    if cfg.tracking.get("parent_run_id") is None:
        return None
    client = MlflowClient(cfg.tracking.uri)
    run = _latest_with_hash(
        client, cfg.tracking.experiment, config_hash(cfg), "attributes.status != 'FINISHED'"
    )
    return run.data.tags.get(TAG_CHECKPOINT_DIR) if run else None
