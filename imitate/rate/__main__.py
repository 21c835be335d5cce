"""``python -m imitate.rate serve|export``: blind A/B rating of model vs teacher outputs, and its export.

serve:  load pairs (a JSONL of items, or a run's eval/generations.json via --run: the style task's
        single-turn prompts and full replies; truncated model replies left out and counted) into
        a SQLite database and serve the rating app on 127.0.0.1. Rerun with the same --db to continue.
export: ratings as CSV, preference ± std and inter-rater agreement as JSON, the judge-vs-human
        rows as JSONL; each model run's human/* metrics logged to that MLflow run.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from pathlib import Path

from imitate.data.report import DataReport
from imitate.rate import db, export, server
from imitate.rate.pairs import pairs_from_run, read_pairs
from imitate.reply_pair import ReplyPair
from imitate.tracking.store_uri import default_tracking_uri

DEFAULT_DB = "outputs/ratings.db"


def main(argv: list[str] | None = None) -> dict | None:
    args = _parser().parse_args(argv)
    return args.command(args)


def serve(args: argparse.Namespace) -> None:
    from imitate.rate.app import create_app
    from imitate.rate.store import RatingStore

    store = RatingStore(args.db, ratings_per_item=args.ratings_per_item)  # creates the schema
    added, unchanged = db.add_items(args.db, _inputs(args))
    total = db.count_items(args.db)
    if total == 0:
        sys.exit(f"{args.db} holds no items to rate: pass --pairs FILE or --run RUN_ID")
    cap = args.ratings_per_item or "no limit (every rater may rate every item)"
    print(f"{total} items in {args.db} ({added} added, {unchanged} already there); "
          f"ratings per item: {cap}", flush=True)  # fmt: skip
    if not _is_loopback(args.host):
        print(f"warning: serving on {args.host}: there are no accounts, anyone who can reach it "
              "can rate under any name", file=sys.stderr)  # fmt: skip
    server.serve(create_app(store), args.host, args.port)


def export_ratings(args: argparse.Namespace) -> dict:
    rows = export.read_ratings(args.db)
    summary = export.summarise(rows)
    out = Path(args.out or Path(args.db).with_name(Path(args.db).stem + "_export"))
    paths = export.write_files(out, rows, summary)
    print(export.describe(summary))
    if summary["ratings_without_run_id"]:
        print(f"{summary['ratings_without_run_id']} ratings have no model_run_id: summary only")
    if not args.no_log and summary["by_run"]:
        from mlflow.tracking import MlflowClient

        logged = export.log_to_runs(MlflowClient(args.tracking_uri), rows, summary)
        print(f"logged human/* metrics to run(s) {', '.join(logged)} in {args.tracking_uri}")
    print(json.dumps({name: str(path.resolve()) for name, path in paths.items()}, indent=1))
    return summary


def _inputs(args: argparse.Namespace) -> list[ReplyPair]:
    report = DataReport()
    pairs = [pair for path in args.pairs for pair in read_pairs(path, args.model_run_id, report)]
    if args.run:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(args.tracking_uri)
        pairs += [pair for run_id in args.run for pair in pairs_from_run(client, run_id, report)]
    _say_what_was_left_out(report)
    return pairs


def _say_what_was_left_out(report: DataReport) -> None:
    cut = report.counts["dropped_model_reply_truncated"]
    if cut:
        print(f"left out {cut} item(s) whose model reply was cut at the token limit: a cut reply "
              "tells raters which side is the model (raise eval.tasks.style.max_new_tokens)",
              file=sys.stderr)  # fmt: skip
    unknown = report.counts["model_reply_truncation_unknown"]
    if unknown:
        print(f"{unknown} item(s) with model replies whose truncation is unknown (the endpoint "
              "could not count tokens): check they end naturally", file=sys.stderr)  # fmt: skip


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m imitate.rate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # `--rat 3` must not pass for --ratings-per-item
    )
    commands = parser.add_subparsers(required=True, metavar="{serve,export}")
    tracking = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    tracking.add_argument(
        "--db", default=DEFAULT_DB, help="ratings database (default: %(default)s)"
    )
    tracking.add_argument(
        "--tracking-uri",
        default=default_tracking_uri(),
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else %(default)s)",
    )
    serving = commands.add_parser(
        "serve", parents=[tracking], help="serve the rating app", allow_abbrev=False
    )
    serving.set_defaults(command=serve)
    serving.add_argument("--pairs", action="append", default=[], metavar="FILE",
                         help="items JSONL or generations .json to add (repeatable)")  # fmt: skip
    serving.add_argument("--run", action="append", default=[], metavar="RUN_ID",
                         help="rate this MLflow run's eval/generations.json (repeatable)")  # fmt: skip
    serving.add_argument("--model-run-id", help="run id for --pairs items that carry none")
    serving.add_argument("--ratings-per-item", type=_positive, default=None, metavar="N",
                         help="stop showing an item once it has N ratings (default: no limit)")  # fmt: skip
    serving.add_argument(
        "--host", default="127.0.0.1", help="default: %(default)s (this machine only)"
    )
    serving.add_argument(
        "--port", type=int, default=8000, help="default: %(default)s; 0 picks a free one"
    )
    exporting = commands.add_parser(
        "export", parents=[tracking], help="export and log the ratings", allow_abbrev=False
    )
    exporting.set_defaults(command=export_ratings)
    exporting.add_argument("--out", help="output folder (default: <db stem>_export beside the db)")
    exporting.add_argument("--no-log", action="store_true", help="do not log to MLflow")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def cli() -> None:
    main()


if __name__ == "__main__":
    cli()
