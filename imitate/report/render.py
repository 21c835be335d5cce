"""Figures drawn as a person reads them: titles wrapped inside the image, ticks that never collide.

Constrained layout keeps titles, labels and legends inside the canvas; log axes are ticked at the
data's own x values (token budgets, base sizes) with SI labels, thinned so no two labels overlap;
linear axes print plain numbers ("10.81"), never an offset ("+1.08e1").
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullLocator, ScalarFormatter  # noqa: E402

from imitate.report.figures import BASE_PREFIX, FigureData, Panel  # noqa: E402

PANEL_SIZE = (4.6, 3.8)  # inches per panel
DPI = 90
TITLE_POINTS, PANEL_TITLE_POINTS, TICK_POINTS = 11, 10, 8
# Where a point's label may go, in order of preference (offset in points, horizontal alignment).
LABEL_SIDES = (((4, 4), "left"), ((-4, 4), "right"), ((4, -10), "left"), ((-4, -10), "right"))
MIN_TICK_GAP = 0.2  # of the axis width between two kept log ticks: room for a rotated label


def figure_of(figure: FigureData):
    """The matplotlib figure for ``figure`` (the caller saves and closes it)."""
    width = PANEL_SIZE[0] * len(figure.panels)
    fig, axes = plt.subplots(
        1, len(figure.panels), figsize=(width, PANEL_SIZE[1]), squeeze=False, layout="constrained"
    )
    for ax, panel in zip(axes[0], figure.panels, strict=True):
        _draw_panel(ax, panel, figure)
    fig.suptitle(wrap(figure.title, width, TITLE_POINTS), fontsize=TITLE_POINTS)
    return fig


def render(figure: FigureData, path: Path) -> Path:
    """Draw ``figure`` to a PNG; a panel without data says so instead of staying blank."""
    fig = figure_of(figure)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def wrap(text: str, width_inches: float, points: float) -> str:
    """``text`` broken into lines that fit ``width_inches`` at ``points`` (about 0.55 em a glyph)."""
    characters = max(12, int(width_inches * 72 / (0.55 * points)) - 4)
    return "\n".join(textwrap.wrap(text, characters)) or text


def si(value: float) -> str:
    """3 significant digits with an SI suffix: 8192 -> 8.19k, 134515008 -> 135M."""
    for suffix, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _draw_panel(ax, panel: Panel, figure: FigureData) -> None:
    width = ax.figure.get_figwidth() / len(figure.panels)
    ax.set_title(wrap(panel.metric, width, PANEL_TITLE_POINTS), fontsize=PANEL_TITLE_POINTS)
    ax.set_xlabel(figure.xlabel, fontsize=9)
    ax.tick_params(labelsize=TICK_POINTS)
    if panel.missing:
        _mark_not_run(ax, panel)
        return
    notes = []
    for label, points in panel.series.items():
        xs, ys = zip(*points, strict=True)
        line = "--" if label.startswith(BASE_PREFIX) else "-"
        ax.plot(xs, ys, line, marker="o", label=label)
        for x, y, text in zip(xs, ys, panel.point_labels.get(label, []), strict=False):
            notes.append(
                ax.annotate(
                    text, (x, y), xytext=LABEL_SIDES[0][0], textcoords="offset points", fontsize=7
                )
            )
    for label, value in panel.references.items():
        base = label.startswith(BASE_PREFIX)  # base dashed grey, teacher dotted black
        ax.axhline(
            value, linestyle="--" if base else ":", color="grey" if base else "black", label=label
        )
    at = sorted({x for points in panel.series.values() for x, _ in points})
    if figure.xlog and at and at[0] > 0:
        _log_ticks_at(ax, at)
    else:
        ax.xaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    ax.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    ax.legend(fontsize=7)
    _place_apart(ax, notes)


def _place_apart(ax, notes: list) -> None:
    """Put each point label on the first side of its point where it overlaps no earlier label.

    Cells of similar gain and style sit on top of each other (all at gain 0 when capability is
    flat); labels written at one fixed offset would overwrite each other.
    """
    if not notes:
        return
    renderer = ax.figure.canvas.get_renderer()
    ax.figure.draw_without_rendering()  # final limits and layout, so the boxes are where they land
    placed: list = []
    for note in notes:
        for offset, align in LABEL_SIDES:
            note.set_position(offset)
            note.set_horizontalalignment(align)
            box = note.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
        placed.append(note.get_window_extent(renderer))


def _mark_not_run(ax, panel: Panel) -> None:
    ax.text(
        0.5,
        0.5,
        f"NOT RUN\nno '{panel.metric}'\nin these runs",
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="#a00",
        fontsize=10,
        bbox={"facecolor": "#fee", "edgecolor": "#a00"},
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _log_ticks_at(ax, xs: list[float]) -> None:
    """A log x axis ticked at the data's x values (SI labels), thinned to ``MIN_TICK_GAP`` apart."""
    ax.set_xscale("log")
    low, high = (math.log10(x) for x in _padded(xs))
    ax.set_xlim(10**low, 10**high)
    kept: list[float] = []
    for x in xs:
        if not kept or (math.log10(x) - math.log10(kept[-1])) / (high - low) >= MIN_TICK_GAP:
            kept.append(x)
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(kept))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: si(value)))
    ax.tick_params(axis="x", labelrotation=30)


def _padded(xs: list[float]) -> tuple[float, float]:
    """The x range with a margin each side in log space (a decade around a single point)."""
    low, high = math.log10(xs[0]), math.log10(xs[-1])
    margin = max((high - low) * 0.08, 0.5 if high == low else 0.0)
    return 10 ** (low - margin), 10 ** (high + margin)
