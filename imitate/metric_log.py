"""The one writer and the one reader of metric values in MLflow: runs write, the report reads.

Names come from ``imitate.metrics`` and are stored exactly as defined there, so a reader finds
a metric under the constant a writer used. The writer refuses a name that is not defined there
or that MLflow would refuse, before anything reaches the store.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from mlflow.entities import Metric, Run
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

from imitate import metrics

METRICS_PER_BATCH = 1000  # MLflow's limit per log_batch call


def log_metrics(
    client: MlflowClient,
    run_id: str,
    values: Mapping[str, float],
    step: int = 0,
    timestamp_ms: int | None = None,
) -> int:
    """Log ``{metric name: value}`` to ``run_id`` in batches; returns how many were logged."""
    check_names(values)
    now = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    entries = [Metric(name, _number(name, v), now, step) for name, v in values.items()]
    for start in range(0, len(entries), METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=entries[start : start + METRICS_PER_BATCH])
    return len(entries)


def read_metrics(run: Run) -> dict[str, float]:
    """A run's latest value of each metric, under the names ``log_metrics`` was given."""
    return dict(run.data.metrics)


def check_names(given: Iterable[str]) -> None:
    """Raise naming every metric name that is not in imitate.metrics or that MLflow refuses."""
    names = list(given)
    unknown = [n for n in names if not metrics.is_known(n)]
    # MLflow's own checks, run here so a bad name fails before anything is written.
    invalid = [n for n in names if not validate_param_and_metric_name(n) or path_not_unique(n)]
    # A file store keeps a metric as a file named after it: "a/b" and "a/b/c" cannot both exist.
    folders = sorted(n for n in names if any(m.startswith(n + "/") for m in names))
    if unknown or invalid or folders:
        problems = []
        if unknown:
            problems.append(
                f"not defined in imitate/metrics.py: {', '.join(map(repr, unknown))} (names: "
                f"{', '.join(metrics.full_names())}; prefixes + suffix: {', '.join(metrics.PREFIXES)})"
            )
        if invalid:
            problems.append(
                f"refused by MLflow: {', '.join(map(repr, invalid))} (allowed: letters, digits, "
                "'_', '-', '.', ' ', ':' and '/' between non-empty parts)"
            )
        if folders:
            problems.append(
                f"also the start of another name (a file store cannot hold both): {folders}"
            )
        raise ValueError("metric names " + "; ".join(problems))


def _number(name: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {name!r}: value {value!r} is not a number") from None
