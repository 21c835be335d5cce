"""The per-cell status table a sweep's parent run ends with (``sweep/status.json`` and ``.md``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from mlflow.tracking import MlflowClient

STATUS_JSON = "sweep/status.json"
STATUS_MARKDOWN = "sweep/status.md"
STATUSES = ("FINISHED", "SKIPPED", "FAILED")  # SKIPPED: finished earlier with the same config hash


@dataclass
class CellStatus:
    cell: str  # grid coordinates, e.g. "data.max_tokens=512 model=tiny_llama"
    role: str  # imitation | base
    status: str  # one of STATUSES
    run_id: str | None  # the child run holding the result (the earlier run for SKIPPED)
    seconds: float
    error: str = ""


def status_table(rows: list[CellStatus]) -> str:
    """A Markdown table, one line per cell and base-model row."""
    lines = ["| cell | role | status | run | seconds | error |", "|---|---|---|---|---|---|"]
    for row in rows:
        error = row.error.replace("|", "\\|").replace("\n", " ")[:300]
        lines.append(
            f"| {row.cell} | {row.role} | {row.status} | {row.run_id or '-'} | {row.seconds} | {error} |"
        )
    return "\n".join(lines)


def log_status(client: MlflowClient, parent_run_id: str, rows: list[CellStatus]) -> None:
    """Overwrite the parent's status table: written after every cell, so it is current mid-sweep."""
    client.log_text(parent_run_id, json.dumps([asdict(r) for r in rows], indent=1), STATUS_JSON)
    client.log_text(parent_run_id, status_table(rows) + "\n", STATUS_MARKDOWN)


def read_status(client: MlflowClient, parent_run_id: str) -> list[CellStatus]:
    """The parent's status table, or [] when the sweep has not written one yet."""
    from mlflow.artifacts import load_text

    try:
        text = load_text(f"{client.get_run(parent_run_id).info.artifact_uri}/{STATUS_JSON}")
    except Exception:  # no table yet (sweep still starting): nothing to read
        return []
    return [CellStatus(**row) for row in json.loads(text)]
