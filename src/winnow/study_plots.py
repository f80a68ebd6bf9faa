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
MARKERS = "osD^v<>pPX*h"  # with the 10 colours of matplotlib's cycle, 120 lines of one panel each drawn apart


def line_style(i: int) -> dict[str, str]:
    """The colour and marker of a panel's ``i``-th line (from 0): no two of its first 120 lines alike. Before, every
    line took the next of matplotlib's 10 colours and one marker, so the default study's strength panel (46 damages)
    drew its 11th damage as its 1st, and the legend named either one for both lines; 100 classes of per-class F1 too."""
    return {"color": f"C{i % 10}", "marker": MARKERS[i // 10 % len(MARKERS)]}


def runs_per_point(table: pd.DataFrame) -> str:
    """What each drawn point of ``table`` (study.csv's rows: one per run and point, the clean run repeated as each
    curve's origin) is, in words: ``"one run (seed)"``, ``"the mean of 3 runs (seeds)"``, ``"the mean of 1 to 3
    runs (seeds)"``."""
    counts = table[table["sweep"] != "clean"].groupby(["sweep", "damage", "level"]).size()
    low, high = int(counts.min()), int(counts.max())
    return "one run (seed)" if high == 1 else f"the mean of {low if low == high else f'{low} to {high}'} runs (seeds)"


def plot(table: pd.DataFrame, *, out_dir: str | Path, axis: str | None = None, source: str | None = None) -> list[Path]:
    """``accuracy.png`` (one panel per sweep, one line per damage) and ``per_class_f1_<sweep>.png``
    (one panel per damage, one line per class); repeated points are averaged. ``source``: the metrics file the
    scores come from (which variant), named above each figure. Returns the files."""
    curves = table[table["sweep"] != "clean"]
    if curves.empty:
        raise WinnowError("study: no experiment is a study run (one perturbation or none in degrade.perturbations); "
                          "queue some with `winnow study queue`, or name the x axis with --axis")
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a server
    matplotlib.rcParams["text.parse_math"] = False  # a class "$\foo$" is a name, never a formula
    from matplotlib import pyplot as plt

    out_dir = Path(out_dir)
    f1_columns = [c for c in table.columns if c.startswith("f1_")]
    means = curves.groupby(["sweep", "damage", "level"], as_index=False)[["accuracy", "macro_f1", *f1_columns]].mean()
    sweeps = list(dict.fromkeys(means["sweep"]))
    # before, nothing on a figure said that a point was a mean, nor of how many seeds: one run read as three;
    # and the variant: a study collected with --metrics metrics/evaluate/oracle.json read as the baseline's
    averaged = f"{source + ': ' if source else ''}each point: {runs_per_point(table)}"
    written = []
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5.5 * len(sweeps), 4.2), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps):
        for i, (damage, curve) in enumerate(means[means["sweep"] == sweep].groupby("damage")):
            ax.plot(curve["level"], curve["accuracy"], label=damage, **line_style(i))
        ax.set(title=sweep, xlabel=AXIS_LABELS.get(sweep, axis), ylabel="test accuracy", ylim=(0, 1))
        ax.legend(fontsize=6)
    fig.suptitle(averaged, fontsize=9)
    written.append(_save(fig, out_dir / "accuracy.png"))
    for sweep in sweeps:
        damages = list(dict.fromkeys(means.loc[means["sweep"] == sweep, "damage"]))
        columns = min(4, len(damages))
        rows = -(-len(damages) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.6 * rows), squeeze=False)
        for ax, damage in zip(axes.flat, damages):
            curve = means[(means["sweep"] == sweep) & (means["damage"] == damage)]
            for i, column in enumerate(f1_columns):
                ax.plot(curve["level"], curve[column], markersize=3, label=column.removeprefix("f1_"), **line_style(i))
            ax.set(title=damage, xlabel=AXIS_LABELS.get(sweep, axis), ylabel="F1", ylim=(0, 1))
            ax.title.set_fontsize(8)
        for ax in list(axes.flat)[len(damages):]:
            ax.set_visible(False)
        # the names given outright: a legend drawn from the lines' labels leaves out any starting with "_", and a
        # class "_background" was drawn unnamed
        axes.flat[0].legend(axes.flat[0].get_lines(), [c.removeprefix("f1_") for c in f1_columns], fontsize=6, ncol=2)
        fig.suptitle(averaged, fontsize=9)
        written.append(_save(fig, out_dir / f"per_class_f1_{sweep}.png"))
    return written


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    from matplotlib import pyplot as plt

    plt.close(fig)
    return path
