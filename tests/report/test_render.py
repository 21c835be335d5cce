"""The figures read as a person sees them: measured on the drawn text's bounding boxes (fast, no runs).

Each case is data that once drew badly: a long title cut off at both ends, base sizes whose tick
labels overwrote each other, a held-out loss axis printed as an offset ("+1.08e1").
"""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pytest

from imitate import metrics
from imitate.report.collect import Row
from imitate.report.figures import FigureData, Panel, style_vs_capability, versus_size
from imitate.report.render import figure_of, render, si
from imitate.tracking import cells

SIZES = {"tiny_gpt2": 3_252_160, "tiny_llama": 3_213_248, "smollm2_135m": 134_515_008}
SIZES |= {"gpt2_1.5b": 1_557_611_200, "llama_7b": 6_738_415_616, "llama_13b": 13_015_864_320}


def _rows() -> list[Row]:
    rows = []
    for index, (model, size) in enumerate(SIZES.items()):
        for role in (cells.ROLE_BASE, cells.ROLE_IMITATION):
            values = {metrics.MMLU_ACC: 0.25 + index / 100, metrics.STYLE_UNIGRAM_F1: 20.0 + index}
            tokens = 8_000.0 if role == cells.ROLE_IMITATION else None
            budget = 8_000 if tokens else None
            rows.append(Row(f"{model}-{role}", role, model, "", tokens, size, values, budget))
    return rows


def _drawn(figure: FigureData):
    fig = figure_of(figure)
    fig.canvas.draw()
    return fig, fig.canvas.get_renderer()


def _inside(box, outer) -> bool:
    return box.x0 >= outer.x0 and box.x1 <= outer.x1 and box.y0 >= outer.y0 and box.y1 <= outer.y1


def _tick_boxes(ax, renderer, axis: str) -> list:
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_window_extent(renderer) for t in ticks if t.get_visible() and t.get_text()]


def _overlapping(boxes) -> list:
    return [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]


@pytest.mark.parametrize("panels", [1, 2])
def test_a_long_title_is_wrapped_inside_the_figure(panels) -> None:
    figure = style_vs_capability(_rows())
    figure.panels = figure.panels[:panels]  # one panel: the narrowest figure, where it was cut
    fig, renderer = _drawn(figure)
    title = fig._suptitle
    assert title.get_text().replace("\n", " ") == figure.title
    assert _inside(title.get_window_extent(renderer), fig.bbox)
    for ax in fig.axes:
        assert _inside(ax.title.get_window_extent(renderer), fig.bbox)
    plt.close(fig)


@pytest.mark.parametrize("models", [list(SIZES), ["tiny_gpt2", "tiny_llama"], ["smollm2_135m"]])
def test_base_size_tick_labels_never_overlap(models) -> None:
    rows = [r for r in _rows() if r.model in models]
    figure = versus_size(rows, [metrics.MMLU_ACC], "fig4_bottom", "Fig. 4 (bottom)")
    fig, renderer = _drawn(figure)
    [ax] = fig.axes
    boxes = _tick_boxes(ax, renderer, "x")
    assert boxes, "the size axis has labelled ticks"
    assert _overlapping(boxes) == []
    assert all(_inside(box, fig.bbox) for box in boxes)
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels[0] == si(min(SIZES[m] for m in models))  # ticked at the data, in SI units
    plt.close(fig)


def test_held_out_loss_axis_prints_values_not_an_offset() -> None:
    panel = Panel(metrics.HELDOUT_LOSS, {"smollm2_135m": [(8e3, 10.812), (2.4e4, 10.815)]})
    figure = FigureData("heldout_loss", "Held-out loss", "imitation tokens", True, [panel])
    fig, renderer = _drawn(figure)
    [ax] = fig.axes
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert ax.xaxis.get_offset_text().get_text() == ""
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert any(label.startswith("10.81") for label in labels), labels
    assert [t.get_text() for t in ax.get_xticklabels() if t.get_text()] == ["8k", "24k"]
    assert _overlapping(_tick_boxes(ax, renderer, "y")) == []
    plt.close(fig)


def test_style_vs_capability_puts_each_cell_at_its_gain_with_its_budget(tmp_path) -> None:
    rows = [
        Row("b", cells.ROLE_BASE, "smollm2_135m", "", None, 1, {metrics.MMLU_ACC: 0.30,
            metrics.NQ_EM: 0.10, metrics.STYLE_UNIGRAM_F1: 25.0}),
        Row("i1", cells.ROLE_IMITATION, "smollm2_135m", "sharegpt", 8100.0, 1, {
            metrics.MMLU_ACC: 0.28, metrics.NQ_EM: 0.10, metrics.STYLE_UNIGRAM_F1: 30.0}, 8000),
        Row("i2", cells.ROLE_IMITATION, "smollm2_135m", "sharegpt", 72100.0, 1, {
            metrics.MMLU_ACC: 0.26, metrics.NQ_EM: 0.08, metrics.STYLE_UNIGRAM_F1: 35.0}, 72000),
        Row("t", cells.ROLE_TEACHER, "ChatGPT", "", None, None, {metrics.STYLE_UNIGRAM_F1: 49.2},
            source="reference"),
    ]  # fmt: skip
    figure = style_vs_capability(rows)
    style, judge = figure.panels
    assert style.metric == metrics.STYLE_UNIGRAM_F1 and judge.metric == metrics.JUDGE_PREFERENCE
    assert style.series == {
        "base smollm2_135m": [(0.0, 25.0)],
        "smollm2_135m": [(pytest.approx(-0.03), 35.0), (pytest.approx(-0.01), 30.0)],
    }
    assert style.point_labels["smollm2_135m"] == ["72k tokens", "8k tokens"]
    assert style.references == {"ChatGPT (reference)": 49.2}
    assert judge.missing  # no judge ran: a marked gap, not a blank
    assert render(figure, tmp_path / "chart.png").stat().st_size > 1000


def test_point_labels_of_cells_at_one_gain_never_overlap() -> None:
    # The mini contrast sweep's chart: flat capability puts every cell at gain 0, two at F1 ~30.
    panel = Panel(
        metrics.STYLE_UNIGRAM_F1,
        series={"smollm2_135m": [(0.0, 29.5), (0.0, 29.9), (0.0, 33.2), (0.0, 29.7)]},
        point_labels={"smollm2_135m": ["8k tokens", "24k tokens", "72k tokens", "48k tokens"]},
        references={"ChatGPT (reference)": 49.2},  # stretches the axis: the points crowd together
    )
    fig, renderer = _drawn(FigureData("style", "Style vs capability", "gain", False, [panel]))
    [ax] = fig.axes
    boxes = [text.get_window_extent(renderer) for text in ax.texts]
    assert len(boxes) == 4
    assert _overlapping(boxes) == []
    plt.close(fig)
