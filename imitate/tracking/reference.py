"""Reference rows from conf/reference/<name>.yaml: the teacher's known scores and the paper's numbers.

``scores`` become the sweep's teacher run; ``paper`` entries (a row of one of the paper's tables
each) are what ``imitate.report`` prints as "paper" beside our value of the same cell.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from imitate import metrics
from imitate.data.budget import parse_token_count
from imitate.hashing import short_hash
from imitate.metric_log import log_metrics
from imitate.tracking import cells

TAG_TEACHER = "teacher"
DEFAULT_REFERENCE = "chatgpt"
PAPER_TABLES = ("table1_nq", "table2_style")
PAPER_ROWS = (cells.ROLE_BASE, cells.ROLE_IMITATION, cells.ROLE_TEACHER)
PAPER_DATA = ("broad", "nq_synthetic")  # broad: any data option but nq_synthetic
_PAPER_KEYS = {"table", "label", "row", "models", "data", "tokens", "metrics", "source"}


@dataclass(frozen=True)
class Published:
    """One row of one of the paper's tables, and which of the report's rows it belongs to."""

    table: str
    label: str  # the paper's name for the row, e.g. "LLaMA-7B + NQ-synthetic"
    row: str  # base | imitation | teacher
    metrics: dict[str, float]
    source: str
    models: tuple[str, ...] | None = None  # our model options; None: any
    data: str | None = None  # broad | nq_synthetic; None: any
    tokens: int | None = None  # the row's data.max_tokens; None: the run with the most data

    def fits(self, role: str, model: str | None, data: str | None, budget: int | None) -> bool:
        """Whether a report row (role, model option, data option, token budget) is this row."""
        if role != self.row or (self.models is not None and model not in self.models):
            return False
        if self.data is not None and (data == "nq_synthetic") != (self.data == "nq_synthetic"):
            return False
        return self.tokens is None or budget == self.tokens


def load_reference(name_or_path: str = DEFAULT_REFERENCE) -> DictConfig:
    """A reference file: a YAML path, or the name of a shipped one in conf/reference/."""
    # conf/ installs as the package imitate.conf (pyproject's package-dir), wherever it lands.
    shipped = Path(str(importlib.resources.files("imitate.conf") / "reference"))
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        path = shipped / f"{name_or_path}.yaml"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in shipped.glob("*.yaml")))
        raise FileNotFoundError(
            f"reference {name_or_path!r}: no such file, and no conf/reference/{name_or_path}.yaml;"
            f" give a YAML path or one of: {names}"
        )
    reference = OmegaConf.load(path)
    if not isinstance(reference, DictConfig):
        raise ValueError(f"reference {path}: a mapping with name, scores and paper; got a list")
    return reference


def reference_scores(reference: DictConfig) -> dict[str, float]:
    """``{metric: value}`` for the entries with a value; unknown metric names are refused."""
    scores = {}
    for index, entry in enumerate(reference.get("scores") or []):
        _check_metric(reference, f"scores[{index}].metric", entry.metric)
        if entry.get("value") is not None:
            scores[entry.metric] = float(entry.value)
    return scores


def published_values(reference: DictConfig) -> list[Published]:
    """The reference's ``paper`` entries, each checked: known table, row, metrics and a source."""
    return [_published(reference, i, e) for i, e in enumerate(reference.get("paper") or [])]


def _published(reference: DictConfig, index: int, entry: DictConfig) -> Published:
    where = f"paper[{index}]"
    unknown = set(entry) - _PAPER_KEYS
    if unknown:
        _refuse(reference, f"{where} has unknown keys {sorted(unknown)}", sorted(_PAPER_KEYS))
    for key, valid in (("table", PAPER_TABLES), ("row", PAPER_ROWS), ("data", PAPER_DATA)):
        value = entry.get(key)
        if (value is not None or key != "data") and value not in valid:
            _refuse(reference, f"{where}.{key}={value!r} is not valid", valid)
    if not entry.get("source") or not entry.get("label") or not entry.get("metrics"):
        _refuse(reference, f"{where} needs a label, metrics and a source", ["label", "source"])
    for metric in entry["metrics"]:
        _check_metric(reference, f"{where}.metrics", metric)
    tokens = entry.get("tokens")
    return Published(
        table=entry.table,
        label=str(entry.label),
        row=entry.row,
        metrics={str(k): float(v) for k, v in entry["metrics"].items()},
        source=str(entry.source),
        models=None if entry.get("models") is None else tuple(entry.models),
        data=entry.get("data"),
        tokens=None if tokens is None else parse_token_count(tokens, f"{where}.tokens"),
    )


def _check_metric(reference: DictConfig, where: str, metric: str) -> None:
    if metric not in metrics.full_names():
        _refuse(reference, f"{where}={metric!r} is not a metric name", metrics.full_names())


def _refuse(reference: DictConfig, problem: str, valid) -> None:
    raise ValueError(
        f"reference {reference.get('name')!r}: {problem}; valid (imitate/metrics.py, "
        f"imitate/tracking/reference.py): {', '.join(map(str, valid))}"
    )


def record_teacher(
    client: MlflowClient, experiment_id: str, parent_run_id: str, reference: DictConfig
) -> str:
    """A FINISHED child run with role=teacher holding the reference scores, once per sweep."""
    scores = reference_scores(reference)
    published_values(reference)  # a typo in the paper's numbers fails before the sweep runs
    content = OmegaConf.to_container(reference, resolve=True)
    digest = short_hash(content)
    existing = cells.latest_child(client, experiment_id, parent_run_id, digest)
    if existing is not None:
        return existing.info.run_id
    tags = {
        cells.TAG_PARENT: parent_run_id,
        cells.TAG_ROLE: cells.ROLE_TEACHER,
        cells.TAG_CONFIG_HASH: digest,
        TAG_TEACHER: str(reference.name),
    }
    run = client.create_run(experiment_id, run_name=f"teacher {reference.name}", tags=tags)
    run_id = run.info.run_id
    log_metrics(client, run_id, scores, step=0, timestamp_ms=0)
    client.log_text(run_id, OmegaConf.to_yaml(content), "reference.yaml")  # with sources
    client.set_terminated(run_id, "FINISHED")
    return run_id
