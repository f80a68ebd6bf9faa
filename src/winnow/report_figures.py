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
from PIL import Image

from winnow.study import AXIS_LABELS

# class names, ids and paths are drawn as typed: "$x$" is text, never a formula (a class "$\foo$" raised)
matplotlib.rcParams["text.parse_math"] = False

FLAGGED_COLOUR, KEPT_COLOUR = "#d62728", "#7f7f7f"


def png_uri(png: bytes) -> str:
    """A ``data:image/png;base64,…`` URI of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_uri(fig: Figure, *, dpi: int = 100) -> str:
    """The figure rendered to PNG in memory, as a data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return png_uri(buffer.getvalue())


def image_png(image: np.ndarray, *, min_side: int = 84) -> bytes:
    """One uint8 ``(H, W, C)`` image as PNG bytes, enlarged by an integer factor to at least ``min_side`` pixels."""
    scale = max(1, math.ceil(min_side / max(image.shape[:2])))
    big = np.repeat(np.repeat(np.asarray(image), scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(big[..., 0] if big.shape[-1] == 1 else big).save(buffer, format="PNG")
    return buffer.getvalue()


def image_uri(image: np.ndarray, *, min_side: int = 84) -> str:
    """:func:`image_png` as a data URI."""
    return png_uri(image_png(image, min_side=min_side))


def per_class_f1_figure(f1: pd.DataFrame) -> str:
    """Grouped bars: one group per class, one bar per variant (``f1``: rows = classes, columns = variants)."""
    classes, variants = list(f1.index), list(f1.columns)
    fig = Figure(figsize=(max(6.0, 0.25 * len(classes) * len(variants) + 2), 3.4))
    ax = fig.subplots()
    width = 0.8 / len(variants)
    positions = np.arange(len(classes))
    for i, variant in enumerate(variants):
        ax.bar(positions + (i - (len(variants) - 1) / 2) * width, f1[variant], width, label=variant)
    ax.set(xticks=positions, ylabel="F1 on the test split", ylim=(0, 1.05), xlabel="class")
    ax.set_xticklabels(classes, rotation=_tick_rotation(classes), ha="right" if _tick_rotation(classes) else "center")
    ax.legend(ncols=len(variants), loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return figure_uri(fig)


def confusion_figure(confusions: dict[str, pd.DataFrame]) -> str:
    """One confusion matrix per variant, side by side: counts written in, colour = share of the true class."""
    fig = Figure(figsize=(4.6 * len(confusions), 4.4))
    for ax, (variant, matrix) in zip(np.atleast_1d(fig.subplots(1, len(confusions))), confusions.items()):
        counts = matrix.to_numpy()
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        labels = list(matrix.index)
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
    return figure_uri(fig)


def threshold_figure(histograms: dict[str, pd.DataFrame], *, titles: dict[str, str]) -> str:
    """One histogram per quality score (log counts); bins at or below the chosen threshold are red.

    Args:
        histograms: issue → the threshold stage's ``plots/threshold/<issue>.csv``
            (``score, count, threshold, flagged``).
        titles: issue → the panel title.
    """
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
        ax.set(xlim=(0, 1), xlabel="score (lower = worse)", ylabel="images + 1")
        ax.set_title(titles.get(issue, issue), fontsize=9)
    for ax in axes[len(histograms):]:
        ax.set_visible(False)
    return figure_uri(fig)


def study_figure(study: pd.DataFrame) -> str:
    """Test accuracy (solid) and macro F1 (dashed) against damage level, one panel per sweep, one colour
    per damage; repeated runs of a point are averaged (``study``: the rows of ``plots/study/study.csv``)."""
    curves = study[study["sweep"] != "clean"]
    means = curves.groupby(["sweep", "damage", "level"], as_index=False)[["accuracy", "macro_f1"]].mean()
    sweeps = list(dict.fromkeys(means["sweep"]))
    fig = Figure(figsize=(4.8 * len(sweeps), 3.6), layout="constrained")
    for ax, sweep in zip(np.atleast_1d(fig.subplots(1, len(sweeps))), sweeps):
        for i, (damage, curve) in enumerate(means[means["sweep"] == sweep].groupby("damage")):
            colour = f"C{i % 10}"
            ax.plot(curve["level"], curve["accuracy"], marker="o", color=colour, label=damage)
            ax.plot(curve["level"], curve["macro_f1"], linestyle="--", color=colour)
        ax.set(title=sweep, xlabel=AXIS_LABELS.get(sweep, "level"), ylabel="accuracy / macro F1", ylim=(0, 1))
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
    return figure_uri(fig)


def _tick_rotation(labels: list[str]) -> int:
    # short names (digits) stand upright; longer ones lean so neighbours do not overlap
    return 45 if max(map(len, labels), default=0) > 3 else 0
