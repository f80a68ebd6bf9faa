"""The report's data-valuation section (issue 23): the train images that hurt the model on val most and
those that help it most, with their labels and values, from the data-valuation stage's decisions and
metrics. A module of its own so the report's other sections can move without touching it."""

from __future__ import annotations

import html
import math

import pandas as pd

from winnow.imageset import ImageSet
from winnow.markdown import isolate
from winnow.report import fmt, key_value_table, not_run, truth_scores
from winnow.report_grids import DECIDED_NOT_APPLIED, images_by_id, tile
from winnow.stage_reads import rerun_error

METRICS = "metrics/data_valuation.json"
ESTIMATOR_NAMES = {"knn_shapley": "kNN-Shapley", "tracin": "TracIn"}  # metrics keys as the page names them


def valuation_section(*, decisions: pd.DataFrame | None, summary: dict | None, imageset: ImageSet | None,
                      count: int, cleaning: bool, applied: int | None) -> str:
    """Two grids: the ``count`` most harmful images (highest ``harm``: both estimators value them lowest),
    framed red where the stage decided to drop them, and the ``count`` most helpful, each at most the half of the
    images on its side of the ranking and no drop among the helpful, each captioned with its
    given class, its kNN-Shapley value and its TracIn value; above them the stage's counts and how many of its
    drops pruned applies.

    Args:
        decisions: ``data/data-valuation/decisions.parquet`` (:data:`winnow.valuation.DECISION_COLUMNS`).
        summary: ``metrics/data_valuation.json``.
        imageset: ``data/degrade``, where the train images are.
        cleaning: whether data_valuation is among ``pruned.cleaners``.
        applied: how many of the images it decided to drop pruned drops, whoever decided it: the budget on its
            word or another cleaner's, or a person's verdict (data/variants/pruned/rows.parquet); None: unknown.
    """
    if decisions is None or summary is None or imageset is None:
        return not_run("data valuation", how="the data-valuation stage writes data/data-valuation/decisions.parquet")
    undecided = summary.get("undecided") or {}
    if "why" in undecided and cleaning:
        # the stage decides nothing only where data_valuation is among no pruned.cleaners, and refuses otherwise:
        # before, the page said "It is not among pruned.cleaners" beside a params.yaml that lists it there now
        raise rerun_error(METRICS, "decided nothing, as data_valuation was among no pruned.cleaners when the stage "
                                   "ran, but params.yaml lists it there now", written_by="data-valuation")
    if "why" in undecided:  # the stage wrote no decision: "valued 0" and empty grids read as a valuation that ran
        return (f"<p>Data valuation decided nothing about the {fmt(undecided.get('images'))} train images: "
                f"{html.escape(str(undecided['why']))}. It is not among pruned.cleaners, so the pipeline went on.</p>")
    order = decisions.sort_values("harm", ascending=False, kind="stable")
    names = imageset.classes

    def grid(rows: pd.DataFrame) -> str:
        tiles = [tile(image, caption=f"{names[label]}\nkNN {_value(knn)} · TracIn {_value(influence)}",
                      kind="dropped" if decision == "drop" else "")
                 for image, label, knn, influence, decision in zip(
                     images_by_id(imageset, rows["id"]), rows["given_label"], rows["knn_shapley"], rows["tracin"],
                     rows["decision"])]
        return f'<div class="grid">{"".join(tiles)}</div>'

    # before: "dropped (reliably negative) 437" and red frames while pruned.cleaners left it out and pruned
    # dropped none: the stage's own decisions read as removals
    # before: "none" also where pruned dropped some of these images on another cleaner's word (embedding-clean's
    # drops of the same mislabelled images), which read as those harmful images kept in pruned
    others = (f", but pruned drops {applied:,} of these images on another cleaner's decision or a person's verdict"
              if applied else "")
    applies = (f"none: data_valuation is not among pruned.cleaners{others}" if not cleaning else
               "unknown (the variants stage has not run)" if applied is None else applied)
    counts = {"valued": summary.get("considered")}
    # before: a class with fewer than 2 val images had its train images left out of the valuation (kept, no row)
    # while the page said only "valued 58", as if every train image the filters left had been valued
    # each name isolated (markdown.isolate): a right-to-left one read its count first, "(1 חתול"
    thin = undecided.get("classes") or {}
    if undecided.get("images") and isinstance(thin, dict):
        counts["left undecided and kept (too few val images of their class)"] = (
            f"{fmt(undecided['images'])}: " + ", ".join(
                f"{isolate(name)} ({fmt(held.get('val_images') if isinstance(held, dict) else None)} val image(s)"
                + (f", {fmt(held['copied_val_images'])} more left out as copies of a picture"
                   if isinstance(held, dict) and held.get("copied_val_images") else "")
                + (f", {fmt(held['silent_val_images'])} more with an all-zero representation"
                   if isinstance(held, dict) and held.get("silent_val_images") else "") + ")"
                for name, held in thin.items()))
    counts |= {"decided drop (reliably negative)": summary.get("flagged"), "of those, pruned applies": applies,
               "bound (standard errors)": summary.get("bound"), "combine": summary.get("combine"),
               "seconds": summary.get("seconds")}
    # each estimator's count, recounted from decisions.parquet: under combine both, the fewer of the two says which
    # estimator held the drops back
    for name, figures in (summary.get("values") or {}).items():
        counts[f"valued below zero by {ESTIMATOR_NAMES.get(name, name)} (reliably)"] = (
            f"{fmt(figures.get('negative'))} ({fmt(figures.get('reliably_negative'))})")
    if "truth" in summary:
        truth = truth_scores(summary["truth"])  # 0/0: the file's 0.0 is no score
        counts |= {f"against planted label noise: {k}": truth[k] for k in ("precision", "recall", "f1")}
        if truth["precision"] is None:
            counts["against planted label noise: precision"] = "– (nothing dropped)"
        if truth["recall"] is None:
            counts["against planted label noise: recall"] = "– (no planted flip among the images valued)"
    # before: with fewer than 2 x count images valued (20 at the default 16) both grids showed the same images, so
    # the two the stage decided to drop as harmful stood, framed red, under "Most helpful (16)" too. Each grid now
    # takes its own half of the ranking, and no drop is called helpful
    harmful = order.head(min(count, (len(order) + 1) // 2))
    rest = order.iloc[len(harmful):]
    helpful = rest[rest["decision"] != "drop"].iloc[::-1].head(count)
    return ("<p>Each train image's value for a model judged on the val split: kNN-Shapley (its share of a "
            "K-nearest-neighbour classifier's val accuracy) and TracIn (how much training on it lowered the val "
            "loss of a linear layer on the embedding). Negative values hurt.</p>"
            + key_value_table(counts, title="What the valuation did")
            + f"<h3>Most harmful ({len(harmful):,}; red: decided drop)</h3>" + grid(harmful) + _helpful_note(harmful)
            + DECIDED_NOT_APPLIED
            + f"<h3>Most helpful ({len(helpful):,})</h3>" + grid(helpful))


def _helpful_note(harmful: pd.DataFrame) -> str:
    """A note when images of the harmful grid are valued above zero by both estimators: the grid is the lower half
    of the ranking, and on a clean set (158 photos, one valued below zero by TracIn alone) it showed 15 images of
    positive kNN and TracIn values under "Most harmful" beside the page's "Negative values hurt", without a word."""
    helping = int(((harmful["knn_shapley"] > 0) & (harmful["tracin"] > 0)).sum())
    if not helping:
        return ""
    return (f'<p class="note">{helping:,} of these {len(harmful):,} are valued above zero by both estimators: they '
            "rank lowest, but help the model rather than hurt it.</p>")


def _value(x: float) -> str:
    """An estimator's value of an image, signed in scientific notation; a missing one (NaN: read_table's numbers=
    hands a null so) "–", as a missing label quality reads. Before: "kNN +nan"."""
    return "–" if math.isnan(x) else f"{x:+.2e}"
