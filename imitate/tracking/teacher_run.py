"""A measured teacher: an ``imitate.evaluate`` run tagged ``role=teacher``, found by the report.

``python -m imitate.evaluate llm=gpt-3.5-turbo eval=paper role=teacher`` measures the teacher with
imitate's own task code; ``imitate.report`` then takes the newest FINISHED such run in the
report's experiment for every metric it has, and the reference file (conf/reference) for the rest.
"""

from __future__ import annotations

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from imitate.tracking import cells

TAG_KIND = "kind"
KIND_EVALUATE = "evaluate"
TAG_LLM = "llm"  # the client's name: openai:<model>, hf:<path>
# What `role=` may say on an evaluate run. Base rows are not among them: a sweep makes those
# (train=false cells, with the base size and the grid's model option), so a standalone
# evaluation tagged base would be a second, sizeless base row of the same model.
EVALUATE_ROLES = (cells.ROLE_TEACHER,)


def evaluate_tags(role: str | None, llm_name: str) -> dict[str, str]:
    """The tags every evaluate run carries, plus ``role`` when the run is the teacher's."""
    check_role(role)
    tags = {TAG_KIND: KIND_EVALUATE, TAG_LLM: llm_name}
    return tags | ({cells.TAG_ROLE: role} if role else {})


def check_role(role: str | None) -> None:
    """Refuse a ``role=`` the report would not read, before anything is evaluated."""
    if role is not None and role not in EVALUATE_ROLES:
        raise ValueError(
            f"imitate.evaluate: role={role!r} is not valid; valid: {', '.join(EVALUATE_ROLES)} "
            "(the report's measured teacher row) or null (a plain evaluation)"
        )


def is_measured_teacher(run: Run) -> bool:
    tags = run.data.tags
    return tags.get(cells.TAG_ROLE) == cells.ROLE_TEACHER and tags.get(TAG_KIND) == KIND_EVALUATE


def latest_measured_teacher(client: MlflowClient, experiment_id: str) -> Run | None:
    """The newest FINISHED evaluate run tagged role=teacher in the experiment, if any."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.{cells.TAG_ROLE} = '{cells.ROLE_TEACHER}' "
        f"and tags.{TAG_KIND} = '{KIND_EVALUATE}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None
