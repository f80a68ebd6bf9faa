"""The degrade study's figures (``winnow study collect``): test accuracy against each sweep's damage level, and
per-class F1 against it, one panel per damage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from winnow.errors import WinnowError
from winnow.outputs import atomic_path

AXIS_LABELS = {
    "label_noise": "share of train labels changed", "size": "share of the train split kept",
    "proportion": "share of train images contaminated", "strength": "strength (factor, kernel, size, sigma, ...)",
    "class_deletion": "classes removed", "imbalance": "keep share / imbalance ratio",
}
TITLE_BAND = 0.3  # inches above the panels for the figure's title
MARKERS = "osD^v<>pPX*h"  # with the 10 colours of matplotlib's cycle, 120 lines of one panel each drawn apart


def line_style(i: int) -> dict[str, str]:
    """The colour and marker of a panel's ``i``-th line (from 0): no two of its first 240 lines alike. Before, every
    line took the next of matplotlib's 10 colours and one marker, so the default study's strength panel (46 damages)
    drew its 11th damage as its 1st, and the legend named either one for both lines; 100 classes of per-class F1 too.
    Then the 121st line was drawn as the 1st (a data set of 200 classes: class 120's curve in the legend as class 0's);
    the second 120 have hollow markers (the face, not the fill style, which the report's dashed lines set)."""
    hollow = {"markerfacecolor": "none"} if i // (10 * len(MARKERS)) % 2 else {}
    return {"color": f"C{i % 10}", "marker": MARKERS[i // 10 % len(MARKERS)], **hollow}


def runs_per_point(table: pd.DataFrame) -> str:
    """What each drawn point of ``table`` (study.csv's rows: one per run and point, the clean run repeated as each
    curve's origin) is, in words: ``"one run (seed)"``, ``"the mean of 3 runs (seeds)"``, ``"the mean of 1 to 3
    runs (seeds)"``."""
    counts = table[table["sweep"] != "clean"].groupby(["sweep", "damage", "level"]).size()
    low, high = int(counts.min()), int(counts.max())
    return "one run (seed)" if high == 1 else f"the mean of {low if low == high else f'{low} to {high}'} runs (seeds)"


def runs_drawn(table: pd.DataFrame) -> int:
    """How many runs draw the curves of ``table`` (study.csv's rows), a run being its name and commit: DVC names
    experiments per baseline, so two baselines' runs may share a name. study collect's summary and the report count
    by this one rule (before, each had its own: the report counted a clean run that drew no curve, the summary not);
    a study.csv of an earlier winnow, without the commit, by the name alone."""
    curves = table[table["sweep"] != "clean"]
    return len(curves[[c for c in ("experiment", "commit") if c in curves.columns]].drop_duplicates())


def plot(table: pd.DataFrame, *, out_dir: str | Path, axis: str | None = None, source: str | None = None) -> list[Path]:
    """``accuracy.png`` (one panel per sweep, one line per damage) and ``per_class_f1_<sweep>.png``
    (one panel per damage, one line per class); repeated points are averaged. ``source``: the metrics file the
    scores come from (which variant), named above each figure. Returns the files."""
    curves = table[table["sweep"] != "clean"]
    if curves.empty:
        raise WinnowError("study: no experiment is a study run (one perturbation or none in degrade.perturbations); "
                          "queue some with `winnow study queue`, or name the x axis with --axis")
    import matplotlib

    # a class "$\foo$" is a name, never a formula; bare figures, which need no backend (files only, no display on a
    # server). Before, matplotlib.use("Agg") and rcParams["text.parse_math"] = False for the whole process: a notebook
    # that ran `winnow study plot` in-process (cli.main) lost its inline figures and drew its own "$x^2$" as typed
    with matplotlib.rc_context({"text.parse_math": False}):
        return _plot(curves, table, out_dir=out_dir, axis=axis, source=source)


def _plot(curves: pd.DataFrame, table: pd.DataFrame, *, out_dir: str | Path, axis: str | None,
          source: str | None) -> list[Path]:
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    f1_columns = [c for c in table.columns if c.startswith("f1_")]
    means = curves.groupby(["sweep", "damage", "level"], as_index=False)[["accuracy", "macro_f1", *f1_columns]].mean()
    sweeps = list(dict.fromkeys(means["sweep"]))
    # before, nothing on a figure said that a point was a mean, nor of how many seeds: one run read as three;
    # and the variant: a study collected with --metrics metrics/evaluate/oracle.json read as the baseline's
    averaged = f"{source + ': ' if source else ''}each point: {runs_per_point(table)}"
    written = []
    fig = Figure(figsize=(5.5 * len(sweeps), 4.2))
    axes = fig.subplots(1, len(sweeps), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps):
        for i, (damage, curve) in enumerate(means[means["sweep"] == sweep].groupby("damage")):
            ax.plot(curve["level"], curve["accuracy"], label=damage, **line_style(i))
        ax.set(title=sweep, xlabel=AXIS_LABELS.get(sweep, axis), ylabel="test accuracy", ylim=(0, 1))
    legends_below(fig, [(ax, ax.get_lines(), [line.get_label() for line in ax.get_lines()], ax) for ax in axes[0]],
                   title=averaged)
    written.append(_save(fig, out_dir / "accuracy.png"))
    for sweep in sweeps:
        damages = list(dict.fromkeys(means.loc[means["sweep"] == sweep, "damage"]))
        columns = min(4, len(damages))
        rows = -(-len(damages) // columns)
        fig = Figure(figsize=(4.5 * columns, 3.6 * rows))
        axes = fig.subplots(rows, columns, squeeze=False)
        for ax, damage in zip(axes.flat, damages):
            curve = means[(means["sweep"] == sweep) & (means["damage"] == damage)]
            for i, column in enumerate(f1_columns):
                ax.plot(curve["level"], curve[column], markersize=3, label=column.removeprefix("f1_"), **line_style(i))
            ax.set(title=damage, xlabel=AXIS_LABELS.get(sweep, axis), ylabel="F1", ylim=(0, 1))
            ax.title.set_fontsize(8)
        for ax in list(axes.flat)[len(damages):]:
            ax.set_visible(False)
        # the names given outright: a legend drawn from the lines' labels leaves out any starting with "_", and a
        # class "_background" was drawn unnamed. One legend for every panel's lines (one colour per class), below them
        legends_below(fig, [(axes.flat[0], axes.flat[0].get_lines(), [c.removeprefix("f1_") for c in f1_columns], None)],
                       title=averaged)
        written.append(_save(fig, out_dir / f"per_class_f1_{sweep}.png"))
    return written


def legends_below(fig, legends: list[tuple], *, title: str) -> None:
    """Lay ``fig`` out with ``title`` above the panels and each of ``legends`` (``(axes, lines, names, under)``: a legend
    on the axes of its ``lines`` by ``names``, centred under the panel ``under``, or under the whole figure for None;
    the report's study figure names its solid lines alone, not the dashed macro F1 beside each) in a band below
    them, in as many columns as fit that width, the figure made taller to hold the band. Before, each legend lay on its
    panel at the size the panel allowed: the default study's strength (46 damages) and proportion (52) panels, and the
    per-class panels of 100 classes (CIFAR-100), hid their curves under the legend and cut its first or last names
    off; and the title of a figure of many rows of panels lay over its first row."""
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure (the report's): measured as it is saved, by Agg
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    fig.tight_layout()
    # a name wider than its panel even in one column (a 200-character class, a long --axis damage): the figure widened
    # to hold it; before, its legend ran off both edges of the figure and the name was cut off
    wanted = max(ax.legend(lines, names, fontsize=6).get_window_extent(renderer).width
                 / ((under.get_position().width if under is not None else 1.0) * fig.dpi)
                 for ax, lines, names, under in legends)  # inches
    if wanted > fig.get_figwidth():
        fig.set_size_inches(wanted * 1.02, fig.get_figheight())
        fig.tight_layout()
    made = []
    for ax, lines, names, under in legends:
        room = (under.get_position().width if under is not None else 1.0) * fig.get_figwidth() * fig.dpi
        columns = int(room // ax.legend(lines, names, fontsize=6).get_window_extent(renderer).width)
        for columns in range(max(1, min(len(names), columns)), 0, -1):  # the most that fit: spacing widens each
            legend = ax.legend(lines, names, fontsize=6, loc="upper center", ncol=columns)
            if columns == 1 or legend.get_window_extent(renderer).width <= room:
                break
        legend.set_in_layout(False)  # laid out below: tight_layout would squeeze the panels to hold it
        made.append((legend, under))
    band = max(legend.get_window_extent(renderer).height for legend, _ in made) / fig.dpi + 0.15  # inches
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height + band + TITLE_BAND)
    bottom, top = band / (height + band + TITLE_BAND), 1 - TITLE_BAND / (height + band + TITLE_BAND)
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / (height + band + TITLE_BAND), va="top")
    fig.tight_layout(rect=(0, bottom, 1, top))
    for legend, under in made:
        box = under.get_position() if under is not None else None
        legend.set_bbox_to_anchor(((box.x0 + box.x1) / 2 if box else 0.5, bottom), transform=fig.transFigure)
        legend.set_in_layout(True)  # laid out: a save with bbox_inches="tight" (the report's) keeps it, not crops it


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path
