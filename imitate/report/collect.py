"""Read a sweep (or a whole MLflow experiment) into tidy rows: one per imitation, base or teacher run."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from imitate import metrics
from imitate.data.budget import parse_token_count
from imitate.metric_log import read_metrics
from imitate.redact import REDACTED
from imitate.tracking import cells
from imitate.tracking.reference import TAG_TEACHER
from imitate.tracking.status import read_status
from imitate.tracking.teacher_run import (
    TAG_KIND,
    TAG_LLM,
    computed_by_imitate,
    is_measured_teacher,
    latest_measured_teacher,
)

TRAIN_TOKENS = metrics.DATA_PREFIX + "train_tokens"  # measured, not the budget string
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
ROLES = (cells.ROLE_IMITATION, cells.ROLE_BASE, cells.ROLE_TEACHER)
MEASURED, REFERENCE = "measured", "reference"  # where a teacher row's numbers come from


@dataclass
class Row:
    run_id: str
    role: str  # imitation | base | teacher
    model: str  # the model group's option (tiny_llama, llama_13b) or the teacher's name
    data: str  # the data group's option (sharegpt, nq_synthetic); "" for base and teacher
    tokens: float | None  # imitation tokens trained on (imitation rows only)
    parameters: int | None  # base-model size
    metrics: dict[str, float] = field(default_factory=dict)
    budget: int | None = None  # data.max_tokens of an imitation row (the paper's "20M tokens")
    source: str = ""  # teacher rows: measured (an imitate.evaluate run) or reference (typed in)
    adapter: str = "none"  # imitation rows: none (full fine-tuning, the paper's) or lora

    @property
    def series(self) -> str:
        """The line a row belongs to in the figures: one per base model and adapter."""
        return self.model if self.adapter == "none" else f"{self.model} + {self.adapter}"


def resolve_target(client: MlflowClient, target: str) -> tuple[str, str | None, str]:
    """``(experiment_id, parent_run_id or None, label)`` for a parent run id or an experiment name."""
    if _RUN_ID.match(target):
        run = client.get_run(target)
        return run.info.experiment_id, target, f"sweep {target}"
    experiment = client.get_experiment_by_name(target)
    if experiment is None:
        names = ", ".join(e.name for e in client.search_experiments()) or "none"
        raise SystemExit(
            f"imitate.report: {target!r} is neither a parent run id (32 hex digits) nor an MLflow "
            f"experiment at {client.tracking_uri}; experiments there: {names}"
        )
    return experiment.experiment_id, None, f"experiment {target}"


def collect_rows(
    client: MlflowClient, experiment_id: str, parent: str | None, teacher_run: str | None = None
) -> list[Row]:
    """FINISHED runs of the sweep (or experiment), the latest per config hash.

    Plus one measured teacher (``imitate.evaluate ... role=teacher``), which is no child of any
    sweep: ``teacher_run`` (a run id, or ``reference`` for none), else the experiment's newest.
    """
    runs = [
        run for run in _sweep_runs(client, experiment_id, parent) if not is_measured_teacher(run)
    ]
    kept = newest_per_grid_point(runs)
    measured = _measured_teacher(client, experiment_id, teacher_run)
    return [to_row(run) for run in [*kept, *([measured] if measured else [])]]


def newest_per_grid_point(runs: list[Run]) -> list[Run]:
    """The newest sweep cell at each grid point (so the latest run of each config hash); older
    cells there with another config (a sweep rerun after its YAML changed, e.g. longer style
    replies) are left out with a warning naming them.

    A grid point is the cell's role, base model, data, adapter and swept values (``grid.*`` tags):
    cells of one grid that differ in a swept key are all kept. Runs without a config hash (not
    written by a sweep) are kept as they are.
    """
    newest: dict[tuple, Run] = {}
    loose, superseded = [], []
    for run in sorted(runs, key=lambda r: r.info.start_time):
        digest = run.data.tags.get(cells.TAG_CONFIG_HASH)
        if digest is None:
            loose.append(run)
            continue
        point = grid_point(run)
        older = newest.get(point)
        if older is not None and older.data.tags[cells.TAG_CONFIG_HASH] != digest:
            superseded.append(older.info.run_id)  # a rerun of the same config replaces silently
        newest[point] = run
    if superseded:
        warnings.warn(
            f"{len(superseded)} older run(s) at a grid point that a newer run with another config "
            f"also measured were left out: {', '.join(superseded)}. Delete them in MLflow, or give "
            "the report one sweep's parent run id, to silence this.",
            stacklevel=2,
        )
    return [*newest.values(), *loose]


def grid_point(run: Run) -> tuple:
    tags = run.data.tags
    grid = tuple(sorted((k, v) for k, v in tags.items() if k.startswith(cells.TAG_GRID)))
    return (tags.get(cells.TAG_ROLE), tags.get("group.model"), tags.get("group.data"),
            tags.get(cells.TAG_ADAPTER, "none"), grid)  # fmt: skip


def _measured_teacher(client: MlflowClient, experiment_id: str, chosen: str | None) -> Run | None:
    if chosen is None:
        return latest_measured_teacher(client, experiment_id)
    if chosen == REFERENCE:
        return None
    try:
        run = client.get_run(chosen)  # any experiment of the store
    except MlflowException as error:
        raise ValueError(f"--teacher-run {chosen}: {error.message}") from error
    if not is_measured_teacher(run) or run.info.status != "FINISHED":
        tags = {k: run.data.tags.get(k) for k in (cells.TAG_ROLE, TAG_KIND)}
        raise ValueError(
            f"--teacher-run {chosen}: not a FINISHED imitate.evaluate run with role=teacher "
            f"(status {run.info.status}, tags {tags}); measure one with "
            "`python -m imitate.evaluate llm=<teacher> eval=paper role=teacher`, or give "
            f"--teacher-run {REFERENCE} for the reference file's numbers only"
        )
    return run


def _sweep_runs(client: MlflowClient, experiment_id: str, parent: str | None) -> list[Run]:
    query = "attributes.status = 'FINISHED'"  # MLflow's search has no IN for tags: roles below
    experiments = [experiment_id]
    if parent is not None:
        query += f" and tags.`{cells.TAG_PARENT}` = '{parent}'"
        # A child logged from elsewhere (`imitate.judge chatgpt2 log.parent_run_id=<sweep>` under
        # its own tracking.experiment) belongs to the sweep all the same.
        experiments = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(experiments, filter_string=query, max_results=50_000)
    runs = [run for run in found if run.data.tags.get(cells.TAG_ROLE) in ROLES]
    if parent is not None:  # cells skipped because an earlier sweep had finished them
        known = {run.info.run_id for run in runs}
        statuses = read_status(client, parent)
        reused = {row.run_id for row in statuses if row.status == "SKIPPED" and row.run_id}
        runs += [client.get_run(run_id) for run_id in sorted(reused - known)]
    return runs


def to_row(run: Run) -> Row:
    tags, values = run.data.tags, read_metrics(run)
    role = tags[cells.TAG_ROLE]
    teacher = role == cells.ROLE_TEACHER
    model = (tags.get(TAG_TEACHER) or tags.get(TAG_LLM)) if teacher else tags.get("group.model")
    parameters = tags.get(cells.TAG_PARAMETERS)
    return Row(
        run_id=run.info.run_id,
        role=role,
        model=model or "?",
        data=tags.get("group.data", "") if role == cells.ROLE_IMITATION else "",
        tokens=values.get(TRAIN_TOKENS) if role == cells.ROLE_IMITATION else None,
        parameters=int(parameters) if parameters else None,
        metrics=values,
        budget=_budget(run) if role == cells.ROLE_IMITATION else None,
        source=(MEASURED if computed_by_imitate(run) else REFERENCE) if teacher else "",
        # Runs from before adapters existed were full fine-tunes.
        adapter=tags.get(cells.TAG_ADAPTER, "none") if role == cells.ROLE_IMITATION else "none",
    )


def _budget(run: Run) -> int | None:
    """The run's data.max_tokens: the sweep's grid tag, else the logged param."""
    key = "data.max_tokens"
    value = run.data.tags.get(cells.TAG_GRID + key) or run.data.params.get(key)
    if value in (None, "None", "null", REDACTED):  # runs from before redaction matched whole words
        return None
    try:
        return parse_token_count(value.strip("'\""))
    except ValueError as error:  # the row then matches no paper row by its token budget
        warnings.warn(f"run {run.info.run_id}: {error}", stacklevel=2)
        return None
