"""The paper's figures as data first (what each line is), then drawn: tests compare the data to MLflow."""

from __future__ import annotations

from dataclasses import dataclass, field

from imitate import metrics
from imitate.data.budget import format_token_count
from imitate.report.collect import MEASURED, Row
from imitate.tracking import cells

CAPABILITY = (metrics.MMLU_ACC, metrics.NQ_EM, metrics.HUMANEVAL_PASS_AT_1)
# Fig. 1/3: the share of outputs rated equal or better than the teacher's, by the judge and by people.
PREFERENCE = (metrics.JUDGE_PREFERENCE, metrics.HUMAN_AT_LEAST_EQUAL)
# The style-vs-capability chart's y axes: measured in every cell with the style task, and by a judge.
STYLE_AXES = (metrics.STYLE_UNIGRAM_F1, metrics.JUDGE_PREFERENCE)
BASE_PREFIX = "base "  # series and reference lines of base models (drawn dashed)


@dataclass
class Panel:
    metric: str
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # solid lines
    references: dict[str, float] = field(default_factory=dict)  # horizontal lines
    # Per series, a short text beside each point (same order as its points), e.g. its token budget.
    point_labels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def missing(self) -> bool:
        return not self.series and not self.references


@dataclass
class FigureData:
    name: str  # file stem
    title: str
    xlabel: str
    xlog: bool
    panels: list[Panel]


def versus_tokens(rows: list[Row], metric_names, name: str, title: str) -> FigureData:
    """Each metric against imitation tokens, a line per base model and adapter, base and teacher
    as references."""
    panels = []
    for metric in metric_names:
        panel = Panel(metric, references=_references(rows, metric))
        for row in _with(rows, cells.ROLE_IMITATION, metric):
            if row.tokens is not None:
                panel.series.setdefault(row.series, []).append((row.tokens, row.metrics[metric]))
        panel.series = {k: sorted(v) for k, v in sorted(panel.series.items())}
        panels.append(panel)
    return FigureData(name, title, "imitation tokens", True, panels)


def versus_size(rows: list[Row], metric_names, name: str, title: str) -> FigureData:
    """Each metric against base-model size: imitation at its largest data amount (a line per
    adapter), and the base."""
    panels = []
    for metric in metric_names:
        largest: dict[tuple[str, str], Row] = {}  # by (adapter, model)
        for row in _with(rows, cells.ROLE_IMITATION, metric):
            if row.parameters is None or row.tokens is None:
                continue
            best = largest.get((row.adapter, row.model))
            if best is None or row.tokens > (best.tokens or 0):
                largest[(row.adapter, row.model)] = row
        panel = Panel(metric, references=_teacher(rows, metric))
        for adapter in sorted({adapter for adapter, _ in largest}):
            imitation = [
                (r.parameters, r.metrics[metric])
                for (of, _), r in largest.items()
                if of == adapter and r.parameters is not None
            ]
            with_adapter = "" if adapter == "none" else f" + {adapter}"
            panel.series[f"imitation{with_adapter} (most data)"] = sorted(imitation)
        base = [
            (r.parameters, r.metrics[metric])
            for r in _with(rows, cells.ROLE_BASE, metric)
            if r.parameters
        ]
        if base:
            panel.series[BASE_PREFIX + "models"] = sorted(base)
        panels.append(panel)
    return FigureData(name, title, "base-model parameters", True, panels)


def style_vs_capability(rows: list[Row]) -> FigureData:
    """Style against capability gain over the base model, one point per cell, its budget beside it.

    Style is Table 2's unigram overlap with the teacher (every cell with the style task has it)
    and the judge's preference (cells where a judge ran); the base model sits at gain 0.
    """
    panels = [_style_panel(rows, metric) for metric in STYLE_AXES]
    title = (
        "Style vs capability: similarity to the teacher against the mean benchmark gain "
        "over the base model"
    )
    return FigureData(
        "style_vs_capability", title, "capability gain (imitation - base)", False, panels
    )


def _style_panel(rows: list[Row], metric: str) -> Panel:
    panel = Panel(metric, references=_teacher(rows, metric))
    points: dict[str, list[tuple[float, float, str]]] = {}
    for row in _with(rows, cells.ROLE_BASE, metric):
        if any(m in row.metrics for m in CAPABILITY):
            points[BASE_PREFIX + row.model] = [(0.0, row.metrics[metric], "base")]
    for row in _with(rows, cells.ROLE_IMITATION, metric):
        gain = capability_gain(rows, row)
        if gain is not None:
            points.setdefault(row.series, []).append((gain, row.metrics[metric], budget_label(row)))
    for name, found in sorted(points.items()):
        found.sort(key=lambda p: p[:2])
        panel.series[name] = [(x, y) for x, y, _ in found]
        panel.point_labels[name] = [label for _, _, label in found]
    return panel


def budget_label(row: Row) -> str:
    """An imitation cell's token budget as the paper writes it ("20M"), else its measured tokens."""
    tokens = row.budget if row.budget is not None else row.tokens
    return "? tokens" if tokens is None else f"{format_token_count(int(tokens))} tokens"


def capability_gain(rows: list[Row], row: Row) -> float | None:
    """Mean over benchmarks of (imitation - base), using only benchmarks both have."""
    base = base_row(rows, row.model)
    if base is None:
        return None
    gains = [
        row.metrics[m] - base.metrics[m]
        for m in CAPABILITY
        if m in row.metrics and m in base.metrics
    ]
    return sum(gains) / len(gains) if gains else None


def base_row(rows: list[Row], model: str) -> Row | None:
    return next((r for r in rows if r.role == cells.ROLE_BASE and r.model == model), None)


def teacher_row(rows: list[Row]) -> Row | None:
    return next((r for r in rows if r.role == cells.ROLE_TEACHER), None)


def teacher_for(rows: list[Row], metric: str) -> Row | None:
    """The teacher row giving ``metric``: the measured one where it has the metric, else the reference."""
    teachers = sorted(_with(rows, cells.ROLE_TEACHER, metric), key=lambda r: r.source != MEASURED)
    return teachers[0] if teachers else None


def teacher_label(row: Row) -> str:
    """The teacher's name and where its number comes from: "ChatGPT (reference)"."""
    return f"{row.model} ({row.source})" if row.source else row.model


def _with(rows: list[Row], role: str, metric: str) -> list[Row]:
    return [r for r in rows if r.role == role and metric in r.metrics]


def _references(rows: list[Row], metric: str) -> dict[str, float]:
    base = {BASE_PREFIX + r.model: r.metrics[metric] for r in _with(rows, cells.ROLE_BASE, metric)}
    return dict(sorted(base.items())) | _teacher(rows, metric)


def _teacher(rows: list[Row], metric: str) -> dict[str, float]:
    teacher = teacher_for(rows, metric)
    return {} if teacher is None else {teacher_label(teacher): teacher.metrics[metric]}


def paper_figures(rows: list[Row]) -> list[FigureData]:
    """Fig. 4 top/bottom, Fig. 1/3 left/right, Fig. 5, held-out loss, and style vs capability."""
    return [
        versus_tokens(rows, CAPABILITY, "fig4_top", "Fig. 4 (top): benchmarks vs imitation data"),
        versus_size(
            rows, CAPABILITY, "fig4_bottom", "Fig. 4 (bottom): benchmarks vs base-model size"
        ),
        versus_tokens(
            rows, PREFERENCE, "fig1_3_data", "Fig. 1/3 (left): preference vs ChatGPT as data grows"
        ),
        versus_size(
            rows, PREFERENCE, "fig1_3_size", "Fig. 1/3 (right): preference vs ChatGPT by base size"
        ),
        versus_tokens(
            rows, [metrics.RTP_NONTOXICITY], "fig5", "Fig. 5: non-toxicity vs imitation data"
        ),
        versus_tokens(
            rows,
            [metrics.HELDOUT_LOSS],
            "heldout_loss",
            "Held-out loss on teacher replies vs imitation data",
        ),
        style_vs_capability(rows),
    ]


def extra_figures(rows: list[Row], names: list[str]) -> list[FigureData]:
    """Metrics the user names (``--extra-metric``), each against imitation tokens and base size."""
    if not names:
        return []
    check_present(rows, names)
    return [
        versus_tokens(rows, names, "extra_data", "Extra metrics vs imitation data"),
        versus_size(rows, names, "extra_size", "Extra metrics vs base-model size"),
    ]


def check_present(rows: list[Row], names: list[str]) -> None:
    """Refuse a name no run logged, listing the lm-eval metrics these runs do have."""
    present = {name for row in rows for name in row.metrics}
    absent = [name for name in names if name not in present]
    if not absent:
        return
    lm_eval = sorted(name for name in present if name.startswith(metrics.LM_EVAL_PREFIX))
    raise ValueError(
        f"--extra-metric {', '.join(map(repr, absent))}: in none of these {len(rows)} runs; "
        f"{metrics.LM_EVAL_PREFIX}* metrics they have: {', '.join(lm_eval) or 'none'} "
        "(an lm_eval eval task logs them; any other metric of these runs may be named too)"
    )
