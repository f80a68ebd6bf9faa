"""The plot files of numbers the report draws: the threshold stage's histograms (``plots/threshold/<issue>.csv``),
each checked against metrics/threshold.json beside it. One missing, or contradicting those metrics, stops the report in
one line naming it (:func:`winnow.stage_reads.rerun_error`): a figure silently short of a panel reads as the whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from winnow.stage_reads import read_table, rerun_error

THRESHOLD_PLOTS = Path("plots/threshold")


def histograms_of(*, summary: dict | None, images: int | None = None) -> dict[str, pd.DataFrame]:
    """Issue → its histogram (:func:`histogram_of`, each of ``images`` scores when given: data/threshold/flags.parquet's
    rows), every issue of ``summary`` (metrics/threshold.json) among them: the threshold stage writes one per issue
    beside it. Before: a deleted plots/threshold/dark.csv left dark's panel out of the figure without a word, the table
    above it still showing dark's cut."""
    paths = {path.stem: path for path in sorted(THRESHOLD_PLOTS.glob("*.csv"))}
    missing = [issue for issue in summary or {} if issue not in paths]
    if missing:
        raise rerun_error(THRESHOLD_PLOTS / f"{missing[0]}.csv", "not found (the threshold stage writes one for each "
                          "issue of metrics/threshold.json)", written_by="threshold")
    return {issue: histogram_of(path, summary=summary, images=images) for issue, path in paths.items()}


def histogram_of(path: Path, *, summary: dict | None, images: int | None = None) -> pd.DataFrame:
    """The threshold stage's histogram of one issue, its counts whole and >= 0, adding up to ``images`` when given
    (the stage counts every image it scored), and its cut the one metrics/threshold.json gives (before: an edited
    CSV drew its cut line at 0.9 under a panel titled "cut 0.188", and negative counts; and one of another data set,
    cut where this run's is under threshold.issues' method fixed, was drawn as this run's scores)."""
    # flagged (a bin holding a flagged image: drawn red) true or false in each row: before, a CSV without it ended
    # the report in KeyError: 'flagged', and one of "no"/"yes" drew every bin red
    table = read_table(path, written_by="threshold", columns=("score", "count", "threshold", "flagged"),
                       booleans=("flagged",))
    count = pd.to_numeric(table["count"], errors="coerce")
    bad = ~(count >= 0) | (count != count.round())
    if bad.any():
        raise rerun_error(path, f"count on line {bad.idxmax() + 2} is {table['count'][bad.idxmax()]}, not a count",
                          written_by="threshold")
    if images is not None and int(count.sum()) != images:
        raise rerun_error(path, f"its counts add up to {int(count.sum()):,} images, but data/threshold/flags.parquet "
                                f"holds {images:,}: the two are from different runs, or edited", written_by="threshold")
    if summary is None or path.stem not in summary:  # not drawn: the section draws the issues the summary holds
        return table
    cut = summary[path.stem].get("threshold")
    drawn = pd.to_numeric(table["threshold"], errors="coerce")
    if not (drawn.isna().all() if cut is None else np.isclose(drawn, cut, rtol=0, atol=1e-9).all()):
        raise rerun_error(path, f"threshold is {drawn.iloc[0]}, but metrics/threshold.json gives {path.stem}.threshold "
                                f"{cut}", written_by="threshold")
    # the red bins hold the images flagged (histogram_plot marks a bin holding one): before, "dark: cut 0.2, 5 flagged"
    # stood above a panel of no red bin, and "0 flagged" above red ones
    red, flagged = int(count[table["flagged"].astype(bool)].sum()), summary[path.stem]["flagged"]
    if red < flagged or (red > 0) != (flagged > 0):
        raise rerun_error(path, f"its bins marked flagged hold {red:,} images, but metrics/threshold.json gives "
                                f"{path.stem}.flagged {flagged:,}: the two are from different runs, or edited",
                          written_by="threshold")
    return table
