"""Pictures for the HTML report, each returned as a ``data:`` URI so the page needs no other file.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot state, no display needed);
images are enlarged with numpy by repeating pixels, so a 28-pixel digit stays sharp and readable.
"""

from __future__ import annotations

import base64
import io
import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ticker import FuncFormatter
from PIL import Image

from winnow.study_plots import AXIS_LABELS, legends_below, line_style


FLAGGED_COLOUR, KEPT_COLOUR = "#d62728", "#7f7f7f"
MAX_LABEL = 25  # characters of a class name on an axis (longer ones are cut in the middle)
PAGE_INCHES = 11.0  # the page's width at the figures' 100 dpi (1,180 px less its margins): a wider figure is shrunk
CLASS_INCHES = 0.15  # a confusion matrix's row per class: its 8-point name is 0.11 inch high
MATRIX_INCHES = 30.0  # a confusion panel's largest side (3,000 px): 1,000 classes drew a 19 MB image no one could read
# the most classes a confusion panel holds at CLASS_INCHES each beside its names' 2 inches: 186. Past it the report
# shows the most confused class pairs instead (most_confused), the full matrices left to evaluate's confusion.csv
MATRIX_CLASSES = int((MATRIX_INCHES - 2) / CLASS_INCHES)
TOP_PAIRS = 20  # the most confused class pairs shown per version where the matrices are not drawn
EDGE_MARGIN = 0.03  # the score axis runs this far beyond [0, 1], so the end bins show


def _as_typed(draw):
    """``draw`` with matplotlib's ``text.parse_math`` off while it makes or renders a figure: class names, ids and paths
    are drawn as typed, "$x$" is text, never a formula (a class "$\\foo$" raised). Before, set in rcParams at this
    module's import, for the whole process: an in-process caller of the report or of ``winnow review`` (cli.main; a
    notebook) drew its own "$x^2$" as typed from then on, as gan_eval's and study_plots' did before them."""
    return matplotlib.rc_context({"text.parse_math": False})(draw)


def png_uri(png: bytes) -> str:
    """A ``data:image/png;base64,…`` URI of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@_as_typed
def figure_uri(fig: Figure, *, dpi: int = 100) -> str:
    """The figure rendered to PNG in memory, as a data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return png_uri(buffer.getvalue())


MAX_SIDE = 256  # a tile's longest side in the report: full-size photos made a 50-image set's page 105 MB


def image_png(image: np.ndarray, *, min_side: int = 84, max_side: int = MAX_SIDE) -> bytes:
    """One uint8 ``(H, W, C)`` image as PNG bytes, enlarged by an integer factor to at least ``min_side`` pixels,
    or shrunk (area-averaged) to at most ``max_side``."""
    scale = max(1, math.ceil(min_side / max(image.shape[:2])))
    big = np.repeat(np.repeat(np.asarray(image), scale, axis=0), scale, axis=1)
    picture = Image.fromarray(big[..., 0] if big.shape[-1] == 1 else big)
    if max(picture.size) > max_side:
        ratio = max_side / max(picture.size)
        picture = picture.resize((max(1, round(picture.width * ratio)), max(1, round(picture.height * ratio))),
                                 Image.Resampling.BOX)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def image_uri(image: np.ndarray, *, min_side: int = 84) -> str:
    """:func:`image_png` as a data URI."""
    return png_uri(image_png(image, min_side=min_side))


def per_class_f1_figure(f1: pd.DataFrame, *, untested: list[str] = ()) -> str:
    """Grouped bars: one group per class, one bar per variant (``f1``: rows = classes, columns = variants); see
    :func:`per_class_f1_panels`."""
    return figure_uri(per_class_f1_panels(f1, untested=untested))


@_as_typed
def per_class_f1_panels(f1: pd.DataFrame, *, untested: list[str] = ()) -> Figure:
    """:func:`per_class_f1_figure`'s figure, before it is rendered (its axes can be read back): one panel, or where that
    is drawn wider than :data:`PAGE_INCHES`, one per row of as many classes as fit it, rows alike (one axes each, top
    to bottom, classes in order). Before, one panel 0.25 inch a bar wide: 120 classes of two versions drew a figure 62
    inches wide, which the page shrank to a sixth, every class name and bar with it. A bar of F1 exactly 0 is marked "0" at its foot, and a class of
    ``untested`` (no test image: its 0s are not measured) is named so on its axis label, no bar or mark drawn: before,
    both were drawn as nothing, like a version that was never evaluated."""
    # one panel wherever it is drawn no wider than the page: before, the default run's 10 classes of 4 versions (a
    # 12-inch figure, drawn 1,001 px wide, unshrunk) were split 9 and 1, the reckoning's 2 inches of margin overdrawn.
    # Drawn to be measured only where its axes alone (their share of the figure) do not overrun the page
    axes_share = matplotlib.rcParams["figure.subplot.right"] - matplotlib.rcParams["figure.subplot.left"]
    if (0.25 * f1.size + 2) * axes_share <= PAGE_INCHES:
        fig = _f1_panels(f1, untested=untested, per_row=len(f1))
        if fig.get_figwidth() <= PAGE_INCHES or fig.get_tightbbox().width <= PAGE_INCHES:
            return fig
    rows = math.ceil(len(f1) / max(1, int((PAGE_INCHES - 2) / (0.25 * f1.shape[1]))))
    return _f1_panels(f1, untested=untested, per_row=math.ceil(len(f1) / rows))  # rows alike: not 9 classes and 1


def _f1_panels(f1: pd.DataFrame, *, untested, per_row: int) -> Figure:
    """:func:`per_class_f1_panels`'s figure of ``per_row`` classes a row (all of them: the one panel)."""
    classes, variants = list(f1.index), list(f1.columns)
    rows = max(1, math.ceil(len(classes) / per_row))
    measured = ~np.isin(np.array(classes, dtype=object), list(untested))
    names = [f"{name} (no test image)" if not shown else name
             for name, shown in zip(axis_labels(classes), measured)]  # numbered over all classes, not a row's
    rotation = _tick_rotation(names)
    if rows == 1:
        fig = Figure(figsize=(max(6.0, 0.25 * len(classes) * len(variants) + 2), 3.4))
        axes = [fig.subplots()]
    else:  # laid out so that one row's leaning names stay clear of the bars below them
        fig = Figure(figsize=(PAGE_INCHES, 3.4 * rows), layout="constrained")
        axes = list(np.atleast_1d(fig.subplots(rows, 1)))
    width = 0.8 / len(variants)
    for row, ax in enumerate(axes):
        mine = slice(row * per_row, (row + 1) * per_row)
        positions = np.arange(len(classes[mine]))
        for i, variant in enumerate(variants):
            where = positions + (i - (len(variants) - 1) / 2) * width
            heights = f1[variant].to_numpy(float)[mine]
            ax.bar(where[measured[mine]], heights[measured[mine]], width, label=variant)
            for x in where[measured[mine] & (heights == 0)]:
                ax.text(x, 0.005, "0", ha="center", va="bottom", fontsize=7)
        ax.set(xticks=positions, ylabel="F1 on the test split", ylim=(0, 1.05))
        if rows > 1:  # every row's bars as wide as the first's
            ax.set_xlim(-0.5, per_row - 0.5)
        ax.set_xticklabels(names[mine], rotation=rotation, ha="right" if rotation else "center")
        ax.grid(axis="y", alpha=0.3)
    axes[-1].set_xlabel("class")
    axes[0].legend(ncols=len(variants), loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False)
    return fig


def confusion_figure(confusions: dict[str, pd.DataFrame]) -> str:
    """One confusion matrix per variant (:func:`confusion_panels`) as a data URI."""
    return figure_uri(confusion_panels(confusions))


@_as_typed
def confusion_panels(confusions: dict[str, pd.DataFrame]) -> Figure:
    """One confusion matrix per variant: counts written in, colour = share of the true class; side by side, or, where
    the classes need panels wider than :data:`PAGE_INCHES` holds side by side, as many a row as fit. Each panel gives a
    class at least :data:`CLASS_INCHES`, room for its name: before, every panel was 4.4 inches whatever the classes,
    and 120 class names on its axes lay over one another, a black smear. Raises ValueError past
    :data:`MATRIX_CLASSES` classes, where no panel of at most :data:`MATRIX_INCHES` gives a class room to be read
    (:func:`most_confused` is what the report shows there): before, 1,000 classes drew a 19 MB image of 3-pixel
    cells."""
    classes = max(len(matrix) for matrix in confusions.values())
    if classes > MATRIX_CLASSES:
        raise ValueError(f"{classes:,} classes: a confusion matrix holds at most {MATRIX_CLASSES} readable (see "
                         "most_confused)")
    # the names (at most MAX_LABEL characters) take about 2 inches: a panel of 1,000 classes at 0.15 inch each
    # would be 15,000 pixels a side (0.9 GB to draw)
    side = min(max(4.4, CLASS_INCHES * classes + 2), MATRIX_INCHES)
    columns = len(confusions) if side == 4.4 else max(1, min(len(confusions), int(PAGE_INCHES // side)))
    rows = math.ceil(len(confusions) / columns)
    fig = Figure(figsize=((side + 0.2) * columns, side * rows), layout="constrained")  # room for the class names
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax in axes[len(confusions):]:
        ax.set_visible(False)
    for ax, (variant, matrix) in zip(axes, confusions.items()):
        counts = matrix.to_numpy()
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        labels = axis_labels(list(matrix.index))
        ax.set(title=variant, xlabel="predicted", ylabel="actual", xticks=range(len(labels)),
               yticks=range(len(labels)))
        ax.set_xticklabels(labels, rotation=_tick_rotation(labels), ha="right" if _tick_rotation(labels) else "center",
                           fontsize=8)
        ax.set_yticklabels(labels, fontsize=8)
        if len(labels) <= 15:
            for (row, col), count in np.ndenumerate(counts):
                if count:
                    ax.text(col, row, str(count), ha="center", va="center", fontsize=7,
                            color="white" if share[row, col] > 0.5 else "black")
    return fig


def most_confused(confusions: dict[str, pd.DataFrame], *, top: int = TOP_PAIRS) -> pd.DataFrame:
    """Each version's ``top`` largest off-diagonal cells of its confusion matrix (``confusions``: version → square
    counts, rows actual, columns predicted, both indexed by class name), largest first, ties in the matrix's row then
    column order; cells of 0 left out. Columns ``version``, ``actual``, ``predicted`` (str, the names in full),
    ``images`` (int64, the cell's count) and ``share of actual`` (float64, of the actual class's test images)."""
    rows = []
    for variant, matrix in confusions.items():
        counts = matrix.to_numpy(np.int64)
        off = np.where(np.eye(*counts.shape, dtype=bool), 0, counts)
        order = np.argsort(-off, axis=None, kind="stable")[:top]
        totals = counts.sum(axis=1)
        for actual, predicted in zip(*np.unravel_index(order, off.shape)):
            if off[actual, predicted]:
                rows.append((variant, str(matrix.index[actual]), str(matrix.columns[predicted]),
                             int(off[actual, predicted]), off[actual, predicted] / totals[actual]))
    return pd.DataFrame(rows, columns=["version", "actual", "predicted", "images", "share of actual"]).astype(
        {"images": np.int64, "share of actual": np.float64})


def threshold_figure(histograms: dict[str, pd.DataFrame], *, titles: dict[str, str]) -> str:
    """One histogram per quality score (log counts); bins at or below the chosen threshold are red.

    Args:
        histograms: issue → the threshold stage's ``plots/threshold/<issue>.csv``
            (``score, count, threshold, flagged``).
        titles: issue → the panel title.
    """
    return figure_uri(threshold_panels(histograms, titles=titles))


@_as_typed
def threshold_panels(histograms: dict[str, pd.DataFrame], *, titles: dict[str, str]) -> Figure:
    """:func:`threshold_figure`'s figure, before it is rendered (its axes can be read back)."""
    columns = min(4, len(histograms))
    rows = math.ceil(len(histograms) / columns)
    fig = Figure(figsize=(3.6 * columns, 2.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax, (issue, histogram) in zip(axes, histograms.items()):
        centres = histogram["score"].to_numpy(float)
        width = float(np.diff(centres).mean()) if len(centres) > 1 else 1.0
        edges = np.append(centres - width / 2, centres[-1:] + width / 2)
        heights, flagged = histogram["count"].to_numpy(float) + 1, histogram["flagged"].to_numpy(bool)
        # two filled outlines, not one bar per bin: 256 bar patches a panel took seconds to lay out
        for colour, mine in ((KEPT_COLOUR, ~flagged), (FLAGGED_COLOUR, flagged)) if len(centres) else ():
            ax.stairs(np.where(mine, heights, 1.0), edges, baseline=1.0, fill=True, color=colour)
        cut = histogram["threshold"].iloc[0] if len(histogram) else np.nan
        if np.isfinite(cut):
            ax.axvline(cut, color="black", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.minorticks_off()  # a log axis's minor ticks were most of this figure's drawing time
        # the counts as plain numbers: the log axis's own labels are formulas ("$\mathdefault{10^{3}}$"), and
        # with text.parse_math off (_as_typed) the page showed them as that source text
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
        # a margin either side: a bin at 0 or 1 (every image grey, every image of the usual size) lay under the
        # frame, and a panel holding all the images looked empty
        ax.set(xlim=(-EDGE_MARGIN, 1 + EDGE_MARGIN), xlabel="score (lower = worse)", ylabel="images + 1")
        ax.set_title(titles.get(issue, issue), fontsize=9)
    for ax in axes[len(histograms):]:
        ax.set_visible(False)
    return fig


def study_figure(study: pd.DataFrame) -> str:
    """Test accuracy (solid) and macro F1 (dashed) against damage level, one panel per sweep, one colour and
    marker per damage; repeated runs of a point are averaged (``study``: the rows of ``plots/study/study.csv``)."""
    return figure_uri(study_panels(study))


@_as_typed
def study_panels(study: pd.DataFrame) -> Figure:
    """:func:`study_figure`'s figure, before it is rendered (its axes can be read back)."""
    curves = study[study["sweep"] != "clean"]
    means = curves.groupby(["sweep", "damage", "level"], as_index=False)[["accuracy", "macro_f1"]].mean()
    sweeps = list(dict.fromkeys(means["sweep"]))
    fig = Figure(figsize=(4.8 * len(sweeps), 3.6))
    legends = []
    for ax, sweep in zip(np.atleast_1d(fig.subplots(1, len(sweeps))), sweeps):
        solid = []
        for i, (damage, curve) in enumerate(means[means["sweep"] == sweep].groupby("damage")):
            style = line_style(i)  # before: the colour alone, "C{i % 10}", drew an 11th damage as the 1st
            solid += ax.plot(curve["level"], curve["accuracy"], label=damage, **style)
            ax.plot(curve["level"], curve["macro_f1"], linestyle="--", fillstyle="none", **style)
        ax.set(title=sweep, xlabel=AXIS_LABELS.get(sweep, study_axis(study) or "level"), ylabel="accuracy / macro F1",
               ylim=(0, 1))
        ax.grid(alpha=0.3)
        legends.append((ax, solid, [line.get_label() for line in solid], ax))
    # below the panels, as study collect's accuracy.png lays them: before, each legend lay on its panel, and the
    # default study's strength (46 damages) and proportion (52) legends hid the curves and ran off the panel's foot
    legends_below(fig, legends, title=study_source(study))
    return fig


def study_source(study: pd.DataFrame) -> str:
    """The metrics file(s) ``study`` (study.csv's rows) scores, as its ``metrics`` column names them (``winnow study
    collect --metrics``: which variant), or a line saying that an earlier winnow's study.csv does not record it.
    Before, nothing on the report's figure said which variant its curves were: the oracle's read as the baseline's."""
    files = sorted(set(study["metrics"].dropna().astype(str))) if "metrics" in study.columns else []
    return ", ".join(files) if files else "metrics file not recorded (rerun winnow study collect)"


def study_axis(study: pd.DataFrame) -> str | None:
    """The params path ``study`` (study.csv's rows) was collected along (``--axis``, its ``axis`` column), or None."""
    axes = sorted({str(a) for a in study["axis"].dropna() if str(a)}) if "axis" in study.columns else []
    return ", ".join(axes) or None


def axis_labels(names: list[str]) -> list[str]:
    """Class names as an axis draws them: a character the font lacks as its ``\\u`` escape (drawn, it was an
    empty box, and classes 猫 and 犬 read the same), a name longer than :data:`MAX_LABEL` characters cut in its
    middle (an 80-character name on the confusion matrix ran across the panel beside it, over its counts), and
    each label numbered by its place when two would still read the same. The tables beside the figure carry
    every name in full."""
    font = get_font(findfont(FontProperties()))
    shown = []
    for name in map(str, names):
        text = "".join(c if font.get_char_index(ord(c)) else f"\\u{ord(c):04x}" for c in name)
        half = (MAX_LABEL - 1) // 2
        shown.append(text if len(text) <= MAX_LABEL else f"{text[:half]}…{text[-half:]}")
    if len(set(shown)) < len(shown):
        shown = [f"{i}: {text}" for i, text in enumerate(shown)]
    return shown


def _tick_rotation(labels: list[str]) -> int:
    # short names (digits) stand upright; longer ones lean so neighbours do not overlap
    return 45 if max(map(len, labels), default=0) > 3 else 0
