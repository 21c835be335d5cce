"""``python -m imitate.report <experiment or parent run id>``: the paper's figures and tables from MLflow.

Writes PNGs (with the data behind each as JSON), tables as JSON and one self-contained HTML page
to ``--out``, and logs them to the sweep's parent run (for an experiment: its latest sweep).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from mlflow.tracking import MlflowClient

from imitate.report import html
from imitate.report.collect import collect_rows, resolve_target
from imitate.report.figures import extra_figures, paper_figures
from imitate.report.render import render
from imitate.report.tables import paper_tables
from imitate.report.teacher import teacher_note, teacher_provenance
from imitate.tracking import cells
from imitate.tracking.reference import DEFAULT_REFERENCE, load_reference, published_values
from imitate.tracking.status import read_status, status_table
from imitate.tracking.store_uri import default_tracking_uri

ARTIFACT_DIR = "report"


def main(argv: list[str] | None = None) -> Path:
    args = _parser().parse_args(argv)
    client = MlflowClient(args.tracking_uri)
    experiment_id, parent, label = resolve_target(client, args.target)
    try:  # a bad option stops the report before anything is written
        rows = collect_rows(client, experiment_id, parent, args.teacher_run)
        extra = extra_figures(rows, list(dict.fromkeys(args.extra_metric)))
    except ValueError as error:
        raise SystemExit(f"imitate.report: {error}") from error
    out = Path(args.out or f"reports/{args.target}")
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for figure in paper_figures(rows) + extra:
        figures.append((figure, render(figure, out / f"{figure.name}.png")))
        (out / f"{figure.name}.json").write_text(json.dumps(asdict(figure), indent=1))
    tables = paper_tables(rows, published_values(load_reference(args.reference)))
    for table in tables:
        (out / f"{table.name}.json").write_text(json.dumps(asdict(table), indent=1))
    status = status_table(read_status(client, parent)) if parent else ""
    page = out / "report.html"
    (out / "teacher.json").write_text(json.dumps(teacher_provenance(rows), indent=1))
    note = teacher_note(rows)
    page.write_text(html.page(f"imitate report: {label}", figures, tables, status, note))
    log_to = None if args.no_log else parent or _latest_sweep(client, experiment_id)
    if log_to:
        client.log_artifacts(log_to, str(out), ARTIFACT_DIR)
    print(
        f"{len(rows)} runs -> {page.resolve()}" + (f" (logged to run {log_to})" if log_to else "")
    )
    return page


def _latest_sweep(client: MlflowClient, experiment_id: str) -> str | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.{cells.TAG_ROLE} = '{cells.ROLE_SWEEP}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m imitate.report", description=__doc__, allow_abbrev=False
    )
    parser.add_argument("target", help="a sweep's parent run id, or an MLflow experiment name")
    parser.add_argument(
        "--tracking-uri",
        default=default_tracking_uri(),
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else %(default)s)",
    )
    parser.add_argument("--out", help="output folder (default: reports/<target>)")
    parser.add_argument(
        "--reference",
        default=DEFAULT_REFERENCE,
        help="the paper's numbers printed beside ours: a conf/reference name or a YAML path "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--teacher-run",
        metavar="RUN_ID",
        help="the measured teacher: an `imitate.evaluate ... role=teacher` run (any experiment), "
        "or 'reference' for the reference file's numbers only (default: the experiment's newest)",
    )
    parser.add_argument(
        "--extra-metric",
        action="append",
        default=[],
        metavar="NAME",
        help="also plot this metric against imitation tokens and base size, e.g. "
        "lm_eval/gsm8k/exact_match/strict-match (repeatable)",
    )
    parser.add_argument("--no-log", action="store_true", help="do not log the report to MLflow")
    return parser


def cli() -> None:
    main()


if __name__ == "__main__":
    cli()
