"""Every metric name in imitate/metrics.py survives MLflow: written by the runs' writer, read by the report."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from imitate import metrics
from imitate.metric_log import METRICS_PER_BATCH, check_names, log_metrics
from imitate.report.collect import collect_rows
from imitate.tracking import cells

# One name per prefix constant, with a suffix such as the runs write.
PREFIXED = {
    metrics.DATA_PREFIX: ["train_tokens", "sharegpt/conversations", "skipped_empty"],
    metrics.MMLU_ACC_SUBJECT: ["abstract_algebra", "high_school_us_history"],
    metrics.HUMANEVAL_PASS_AT: ["1", "10", "100"],
    metrics.RTP_NONTOXICITY_SUBSET: ["challenging"],
    # written as metrics.lm_eval_metric(task, metric, filter) produces them
    metrics.LM_EVAL_PREFIX: [
        "gsm8k/exact_match/strict-match",
        "arc_easy/acc",
        "humaneval/pass_at_1",
    ],
}


def every_name() -> list[str]:
    prefixed = [prefix + suffix for prefix, suffixes in PREFIXED.items() for suffix in suffixes]
    return metrics.full_names() + prefixed


@pytest.fixture(params=["sqlite", "file"])
def store(request, tmp_path, monkeypatch) -> tuple[MlflowClient, str]:
    """A real MLflow store of each kind and an experiment in it."""
    # The file store keeps each metric in a file named after it: "/" in a name becomes folders.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (
        f"sqlite:///{tmp_path / 'mlflow.db'}"
        if request.param == "sqlite"
        else ((tmp_path / "mlruns").as_uri())
    )
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("round_trip", (tmp_path / "artifacts").as_uri())
    return client, experiment


def _run(client: MlflowClient, experiment: str) -> str:
    """An imitation run, as the report finds them once FINISHED."""
    return client.create_run(experiment, tags={cells.TAG_ROLE: cells.ROLE_IMITATION}).info.run_id


def test_every_prefix_constant_is_listed_and_has_a_case_here() -> None:
    assert set(PREFIXED) == set(metrics.PREFIXES)
    # A constant ending like a prefix but missing from PREFIXES would accept no suffix.
    assert not [n for n in metrics.full_names() if n.endswith(("/", "_"))]


def test_every_metric_name_round_trips_through_the_report_reader(store) -> None:
    client, experiment = store
    run_id = _run(client, experiment)
    written = {name: index / 7 - 1 for index, name in enumerate(every_name())}
    assert log_metrics(client, run_id, written) == len(written)
    client.set_terminated(run_id, "FINISHED")
    [row] = collect_rows(client, experiment, None)
    assert row.metrics == pytest.approx(written)
    assert row.metrics[metrics.HUMANEVAL_PASS_AT_1] == written["humaneval/pass_at_1"]


def test_humaneval_is_read_under_the_constant_the_task_writes(store) -> None:
    client, experiment = store
    run_id = _run(client, experiment)
    k = 1  # the task writes HUMANEVAL_PASS_AT + str(k); the report reads HUMANEVAL_PASS_AT_1
    log_metrics(client, run_id, {f"{metrics.HUMANEVAL_PASS_AT}{k}": 0.25})
    client.set_terminated(run_id, "FINISHED")
    [row] = collect_rows(client, experiment, None)
    assert row.metrics == {metrics.HUMANEVAL_PASS_AT_1: 0.25}


def test_more_metrics_than_one_batch_all_land(store) -> None:
    client, experiment = store
    run_id = _run(client, experiment)
    written = {f"{metrics.DATA_PREFIX}count_{i}": float(i) for i in range(METRICS_PER_BATCH + 5)}
    log_metrics(client, run_id, written, step=3)
    assert client.get_run(run_id).data.metrics == written
    history = client.get_metric_history(run_id, f"{metrics.DATA_PREFIX}count_7")
    assert [(m.value, m.step) for m in history] == [(7.0, 3)]


@pytest.mark.parametrize(
    "name,problem",
    [
        ("humaneval/pass@1", "not defined in imitate/metrics.py"),  # the old spelling
        ("mmlu/accuracy", "not defined in imitate/metrics.py"),
        (metrics.MMLU_ACC_SUBJECT, "not defined in imitate/metrics.py"),  # a prefix alone
        (metrics.DATA_PREFIX + "bad@name", "refused by MLflow"),
        (metrics.DATA_PREFIX + "a//b", "refused by MLflow"),
    ],
)
def test_bad_names_are_refused_before_anything_is_written(store, name, problem) -> None:
    client, experiment = store
    run_id = _run(client, experiment)
    with pytest.raises(ValueError, match=problem) as error:
        log_metrics(client, run_id, {metrics.MMLU_ACC: 0.5, name: 0.1})
    assert repr(name) in str(error.value)
    assert client.get_run(run_id).data.metrics == {}  # not even the good one


def test_a_name_that_is_the_folder_of_another_is_refused() -> None:
    # a file store would need data/sharegpt to be a file and a folder at once
    with pytest.raises(ValueError, match="cannot hold both.*'data/sharegpt'"):
        check_names([metrics.DATA_PREFIX + "sharegpt", metrics.DATA_PREFIX + "sharegpt/tokens"])


def test_a_value_that_is_not_a_number_names_the_metric() -> None:
    with pytest.raises(ValueError, match="'mmlu/acc': value 'high' is not a number"):
        log_metrics(None, "run", {metrics.MMLU_ACC: "high"})


def test_every_defined_name_passes_the_check() -> None:
    check_names(every_name())  # raises on any name MLflow or the writer would refuse
