"""The sweep callback: one MLflow parent run per multirun, a child per grid cell, a per-cell status table.

Configured under ``hydra.callbacks`` in conf/train.yaml; it only acts under ``-m``. Each cell
receives its parent's id explicitly as the override ``tracking.parent_run_id=<id>`` (and the swept
keys as ``tracking.grid``), so the cell's own ``overrides.yaml`` records which sweep it belongs to.
Rerunning the same command reopens the same parent, skips cells that already finished with the
same config hash, and runs the rest. A failing cell is recorded and the others go on; the command
still exits non-zero at the end (status 1).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from imitate.hashing import short_hash
from imitate.redact import redact, secret_values
from imitate.tracking import cells, mlflow_run
from imitate.tracking.reference import record_teacher
from imitate.tracking.status import CellStatus, log_status, status_table

log = logging.getLogger(__name__)

TAG_SWEEP_HASH = "sweep_hash"
TAG_COMMAND = "command"


class SweepTracker(Callback):
    """Parent run, child wiring, failure isolation, skip-if-finished and base-model rows."""

    def __init__(self) -> None:
        self.parent: str | None = None
        self.rows: list[CellStatus] = []
        self._base_rows_done: set[str] = set()
        self._secrets: set[str] = set()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.client, self.experiment_id = mlflow_run.ensure_experiment(config.tracking)
        self._secrets = secrets_of(config)
        overrides = [str(o) for o in config.hydra.overrides.task]
        grid = swept_keys(overrides, config.hydra.sweeper.params or {})
        self.parent = self._open_parent(config, overrides, grid)
        with read_write(config.hydra.overrides), open_dict(config.hydra.overrides):
            config.hydra.overrides.task.append(f"tracking.parent_run_id={self.parent}")
            config.hydra.overrides.task.append(f"tracking.grid=[{','.join(grid)}]")
        if config.get("reference") is not None:
            record_teacher(self.client, self.experiment_id, self.parent, config.reference)
        log.info("sweep: parent MLflow run %s, grid over %s", self.parent, ", ".join(grid))

    def on_job_start(self, config: DictConfig, *, task_function, **kwargs: Any) -> None:
        if self.parent is None:
            return
        self.task_function = task_function
        self._started = time.perf_counter()
        self._digest = cells.config_hash(task_config(config))
        previous = cells.finished_run(self.client, config.tracking.experiment, self._digest)
        self._skipped_from = previous.info.run_id if previous is not None else None

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if self.parent is None:
            return
        cell = describe_cell(config)
        if job_return.status == JobStatus.FAILED:
            self._record_failure(config, job_return, cell)
        elif self._skipped_from is not None:
            self._add_row(cell, cells.ROLE_IMITATION, "SKIPPED", self._skipped_from)
        else:
            run = cells.latest_child(self.client, self.experiment_id, self.parent, self._digest)
            self._add_row(cell, cells.ROLE_IMITATION, "FINISHED", run and run.info.run_id)
        assert job_return.cfg is not None, "Hydra's run_job sets the job's config"
        self._base_row(config, job_return.cfg)
        log_status(self.client, self.parent, self.rows)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent is None:
            return
        failed = [row for row in self.rows if row.status == "FAILED"]
        log_status(self.client, self.parent, self.rows)
        self.client.set_tag(self.parent, "cells_failed", str(len(failed)))
        self.client.set_terminated(self.parent, "FAILED" if failed else "FINISHED")
        print(f"\nSweep {self.parent}:\n{status_table(self.rows)}")
        if failed:
            names = "; ".join(f"{row.role} {row.cell}" for row in failed)
            print(
                f"{len(failed)} of {len(self.rows)} sweep rows failed ({names}); see the status "
                "table above and each cell's log. Fix the cause and rerun the same command: "
                "finished cells are skipped, only these run again.",
                file=sys.stderr,
            )
            # Hydra turns a callback's exception into a warning; SystemExit is not an Exception.
            raise SystemExit(1)

    def _open_parent(self, config: DictConfig, overrides: list[str], grid: list[str]) -> str:
        """Reopen the parent of an earlier run of the same command, or start a new one."""
        digest = sweep_hash(config, overrides)
        earlier = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.{cells.TAG_ROLE} = '{cells.ROLE_SWEEP}' "
            f"and tags.{TAG_SWEEP_HASH} = '{digest}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if earlier:
            self.client.update_run(earlier[0].info.run_id, status="RUNNING")
            return earlier[0].info.run_id
        command = " ".join(["python -m imitate -m", *overrides])
        tags = {cells.TAG_ROLE: cells.ROLE_SWEEP, TAG_SWEEP_HASH: digest, TAG_COMMAND: command}
        tags["grid"] = ",".join(grid)
        tags = redact(tags, self._secrets)
        run = self.client.create_run(self.experiment_id, run_name=f"sweep {digest[:8]}", tags=tags)
        return run.info.run_id

    def _record_failure(self, config: DictConfig, job_return: JobReturn, cell: str) -> None:
        error = cell_error(job_return)
        self._secrets |= secrets_of(config)
        # BasicSweeper re-raises a failed job's exception after the batch, which would skip
        # on_multirun_end: no status table and a parent left RUNNING. The failure is recorded
        # here, and on_multirun_end exits non-zero once every cell has run.
        job_return.status = JobStatus.COMPLETED
        job_return.return_value = float("nan")
        log.error("sweep cell %s failed:\n%s", cell, self._traceback(error))
        run_id = self._mark_failed(task_config(config), config, error)
        self._add_row(cell, cells.ROLE_IMITATION, "FAILED", run_id, error)

    def _mark_failed(self, cfg: DictConfig, config: DictConfig, error: BaseException) -> str | None:
        """Mark the cell's child run FAILED (created if the cell failed before logging began)."""
        try:
            return self._failed_child(cfg, config, error)
        except Exception:  # the status table must still say FAILED, whatever MLflow does
            log.exception("could not record the failed cell in MLflow")
            return None

    def _failed_child(self, cfg: DictConfig, config: DictConfig, error: BaseException) -> str:
        digest = cells.config_hash(cfg)
        assert self.parent is not None, "called from on_job_end, which needs the parent"
        run = cells.latest_child(self.client, self.experiment_id, self.parent, digest)
        if run is None or run.info.start_time < self._started_ms():
            choices = dict(config.hydra.runtime.choices) if "hydra" in config else {}
            tags = redact(cells.cell_tags(cfg, choices), self._secrets)
            run = self.client.create_run(self.experiment_id, run_name=cfg.run_name, tags=tags)
        message = f"{type(error).__name__}: {error}"[:5000]
        mlflow_run.set_tags(self.client, run.info.run_id, {"error": message}, self._secrets)
        self.client.set_terminated(run.info.run_id, "FAILED")
        return run.info.run_id

    def _started_ms(self) -> int:
        return int((time.time() - (time.perf_counter() - self._started)) * 1000)

    def _base_row(self, config: DictConfig, cell_cfg: DictConfig) -> None:
        """Evaluate the cell's base model without training, once per sweep per base model."""
        model = str(config.hydra.runtime.choices.get("model", "model"))
        base_dir = Path(config.hydra.sweep.dir) / "base" / model
        base = cells.base_row_config(cell_cfg, str(base_dir), f"base {model}")
        digest = cells.config_hash(base)
        if digest in self._base_rows_done:
            return
        self._base_rows_done.add(digest)
        previous = cells.finished_run(self.client, config.tracking.experiment, digest)
        if previous is not None:
            self._add_row(model, cells.ROLE_BASE, "SKIPPED", previous.info.run_id)
            return
        self._started = time.perf_counter()
        try:
            self.task_function(base)
        except Exception as error:
            log.error("base-model row for %s failed:\n%s", model, self._traceback(error))
            run_id = self._mark_failed(base, config, error)
            self._add_row(model, cells.ROLE_BASE, "FAILED", run_id, error)
            return
        assert self.parent is not None, "called from on_job_end, which needs the parent"
        run = cells.latest_child(self.client, self.experiment_id, self.parent, digest)
        self._add_row(model, cells.ROLE_BASE, "FINISHED", run and run.info.run_id)

    def _add_row(self, cell, role, status, run_id, error: BaseException | None = None) -> None:
        seconds = time.perf_counter() - self._started
        message = f"{type(error).__name__}: {error}" if error is not None else ""
        cell, message = redact([cell, message], self._secrets)
        self.rows.append(CellStatus(cell, role, status, run_id, round(seconds, 1), message))

    def _traceback(self, error: BaseException) -> str:
        return redact("".join(traceback.format_exception(error)), self._secrets)


def cell_error(job_return: JobReturn) -> BaseException:
    """A failed job's exception, from JobReturn's public getter (which re-raises it)."""
    # The getter also writes the job's overrides to stderr, secrets and all: kept out of the logs
    # (the cell is logged, redacted, by the caller).
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            value = job_return.return_value
        except BaseException as error:
            return error
    raise ValueError(f"cell_error: the job did not fail (status {job_return.status}, {value!r})")


def secrets_of(config: DictConfig) -> set[str]:
    """Secret values a (multi)run config holds: under secret-named keys and in its overrides."""
    return secret_values(OmegaConf.to_container(config, resolve=False))


def task_config(config: DictConfig) -> DictConfig:
    """The job's config as the task function sees it (without the ``hydra`` node)."""
    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        task.pop("hydra", None)
    return task


def swept_keys(overrides: list[str], params: DictConfig | dict) -> list[str]:
    """Keys with more than one value, from the command line and ``hydra.sweeper.params``."""
    parser = OverridesParser.create()
    candidates = overrides + [f"{key}={value}" for key, value in dict(params).items()]
    keys = [o.key_or_group for o in parser.parse_overrides(candidates) if o.is_sweep_override()]
    return sorted(set(keys))


def describe_cell(config: DictConfig) -> str:
    """``data.max_tokens=512 model=tiny_llama``: the cell's grid coordinates."""
    choices = dict(config.hydra.runtime.choices)
    grid = config.tracking.get("grid") or []
    return " ".join(f"{key}={cells.grid_value(config, choices, key)}" for key in grid) or "cell"


def sweep_hash(config: DictConfig, overrides: list[str]) -> str:
    """Identifies the sweep command: the config name, its overrides and the sweeper's params."""
    # No sweeper params (a sweep given on the command line alone): None or an empty DictConfig.
    params = config.hydra.sweeper.params
    params = OmegaConf.to_container(params, resolve=False) if isinstance(params, DictConfig) else {}
    content = [config.hydra.job.config_name, sorted(overrides), params]
    return short_hash(content)
