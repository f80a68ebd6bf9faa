"""Which images the label cleaners judge, and what they read to know it.

:func:`read_judged` reads every label cleaner stage's inputs (confident-learn, embedding-clean, data-valuation);
:func:`considered_rows` picks the train images worth judging (those threshold and dedup leave them, as
``pruned.cleaners`` says) and marks dedup's label-conflict suspects among them (the val images a judge is measured
on: :mod:`winnow.judge_val`); :func:`in_id_order` orders the judged rows so the same images decide the same whatever
order data/degrade lists them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from winnow.errors import WinnowError
from winnow.groundtruth import TRUTH
from winnow.group_rows import check_group_numbers, check_reasons
from winnow.imageset import ImageSet


def read_judged(*, cleaners: list[str], params: Mapping[str, Any] | None = None,
                ) -> tuple[ImageSet, np.ndarray, np.ndarray, pd.DataFrame | None]:
    """The inputs every label cleaner stage (confident-learn, embedding-clean, data-valuation) reads: the
    degraded imageset, threshold's flags and dedup's groups (each optional), and degrade's planted truth,
    all read before anything is trained, so a damaged file stops the stage at once. ``cleaners``:
    params.yaml's ``pruned.cleaners`` (whether threshold's flags and dedup's removals are judged,
    :func:`considered_rows`); ``params``: params.yaml, which threshold's flags must have been cut under
    (:func:`read_filters`).

    Returns:
        ``(data, considered, conflict, truth)``: data/degrade; the two arrays :func:`considered_rows`
        returns for its manifest; degrade's planted perturbations (a missing log refused naming degrade:
        before, read as none planted, so the cleaners' scores against the planted flips were left out of their
        metrics).
    """
    from winnow.groundtruth import PERTURBATION_COLUMNS, check_flips
    from winnow.imageset import read_imageset
    from winnow.stage_reads import read_table, rerun_error

    data = read_imageset("data/degrade")
    flags, groups = read_filters(data.manifest, params=params, cleaners=cleaners)
    truth = read_table(TRUTH, written_by="degrade", columns=PERTURBATION_COLUMNS)
    try:
        check_flips(truth, classes=len(data.classes), manifest=data.manifest)
    except WinnowError as err:  # read before anything is judged: before, a traceback once every image was
        raise rerun_error(TRUTH, str(err), written_by="degrade") from None
    considered, conflict = considered_rows(data.manifest, flags=flags, groups=groups,
                                           dedup_cleans="dedup" in cleaners, threshold_cleans="threshold" in cleaners)
    return data, considered, conflict, truth


def with_digests(table: pd.DataFrame, *, manifest: pd.DataFrame) -> pd.DataFrame:
    """A cleaner's table of images (``id`` per row: threshold's flags, dedup's groups, a label cleaner's decisions)
    with ``digest``: the pixel digest in ``manifest`` (data/degrade's ``id``, ``digest``) of the image each row
    judged, so a reader can refuse judgements of pixels that changed since (:func:`check_pixels`)."""
    return table.assign(digest=table["id"].map(manifest.set_index("id")["digest"]).astype(object))


def check_pixels(table: pd.DataFrame, *, manifest: pd.DataFrame, path: str, written_by: str) -> None:
    """Refuse (:func:`winnow.stage_reads.rerun_error`) a table of :func:`with_digests` whose ``digest`` of an image is not its
    pixel digest in ``manifest`` (data/degrade's) now, or that has no ``digest`` column (written by hand, or by an
    earlier winnow): its judgements are of pixels nobody can tell. Before: degrade rerun with other pixels alone (a
    blur's kernel, degrade.seed) and the budget run by itself (dvc repro -s budget) weighed the cleaners' judgements
    of the old pixels on the same ids; and a table without the column was read unchecked, so the same stale table
    with its digests dropped passed."""
    from winnow.stage_reads import check_sizes, no_digests_error, other_pixels_error

    if "digest" not in table.columns:
        raise no_digests_error(path, written_by=written_by)
    # the original sizes the table judged, where it records them (threshold's flags: odd_size reads them)
    check_sizes(table, manifest=manifest, path=path, written_by=written_by)
    now = table["id"].map(manifest.set_index("id")["digest"])
    moved = np.flatnonzero((table["digest"].astype(object) != now).to_numpy())
    if len(moved):
        raise other_pixels_error(path, imageset="data/degrade", images=len(moved), first=table["id"].iloc[moved[0]],
                                 then=table["digest"].iloc[moved[0]], now=now.iloc[moved[0]], written_by=written_by)


def check_grouped(groups: pd.DataFrame, *, manifest: pd.DataFrame, path: str = "data/dedup/groups.parquet",
                  by: tuple[str, ...] = ("split", "label")) -> None:
    """:func:`check_pixels` of dedup's ``groups``, then refuse (:func:`winnow.stage_reads.rerun_error`) groups whose
    ``split`` or ``label`` of an image is not its split or label in ``manifest`` (data/degrade's) now: dedup chose its
    leaks by the splits and the copy each group keeps (and its label conflicts) by the labels. Before: the splits
    drawn anew (ingest.val_fraction changed, ingest and degrade rerun alone) or degrade's label noise drawn anew keep
    every id and pixel, and the cleaners, the budget and variants read the old groups as current: a train image that
    now copies a test image was judged and kept in pruned, since the groups of the old splits named no leak.

    ``by``: the columns the reader's use of the groups depends on (the variant contracts' leak rates: the split
    alone), each required as :func:`check_pixels` requires ``digest``: before, the same stale groups with ``split``
    and ``label`` dropped passed unchecked."""
    check_pixels(groups, manifest=manifest, path=path, written_by="dedup")
    from winnow.stage_reads import rerun_error

    check_group_numbers(groups, path=path)
    check_reasons(groups, path=path)
    missing = [column for column in by if column not in groups.columns]
    if missing:
        raise rerun_error(path, f"lacks column(s) {', '.join(missing)}", written_by="dedup")
    known = manifest.set_index("id")
    for column in by:
        then, now = groups[column].astype(object), groups["id"].map(known[column]).astype(object)
        moved = np.flatnonzero((then != now).to_numpy())
        if len(moved):
            first = moved[0]
            raise rerun_error(path, f"grouped other {column}s than data/degrade's now for {len(moved)} image(s) (first: "
                                    f"id {groups['id'].iloc[first]!r}, {column} {then.iloc[first]!r} then, "
                                    f"{now.iloc[first]!r} now): made before degrade changed the data",
                              written_by="dedup")


def check_given_labels(table: pd.DataFrame, *, manifest: pd.DataFrame, path: str, written_by: str) -> None:
    """Refuse (:func:`winnow.stage_reads.rerun_error`) a label cleaner's ``table`` whose ``given_label`` of an image is
    no class index (:func:`given_labels`) or is not its label in ``manifest`` (data/degrade's) now: it judged labels
    that changed since (degrade's label noise drawn anew keeps every id and pixel). Read so by the budget, the
    variants stage and `winnow review` (winnow.decision_files), and by the variant contracts' label-issue rate: before,
    that rate counted an image judged under its old label as judged and no issue, as if relabelled, and passed."""
    from winnow.stage_reads import rerun_error

    label = table["id"].map(manifest.set_index("id")["label"])
    stale = np.flatnonzero(given_labels(path, table, written_by=written_by) != label.to_numpy(np.float64))
    if len(stale):
        first = table.iloc[stale[0]]
        raise rerun_error(path, f"given_label differs from data/degrade for {len(stale)} image(s) (first: id "
                                f"{first['id']!r}, {first['given_label']} there, {label.iloc[stale[0]]} in "
                                "data/degrade): it judged labels that changed since", written_by=written_by)


def given_labels(path, table: pd.DataFrame, *, written_by: str) -> np.ndarray:
    """``table``'s ``given_label`` column as float64, refused (:func:`winnow.stage_reads.rerun_error`) where it holds
    no class indices: text or booleans, a null, a fraction (the first bad row named)."""
    from winnow.stage_reads import check_class_indices, missing_cell, rerun_error

    # before: a null in a nullable integer column (pandas' Int64) ended the budget and review export in a TypeError,
    # and a text or null given_label was called one of other labels ("0 there, 0 in data/degrade")
    check_class_indices(table, "given_label", path=path, written_by=written_by)
    given = table["given_label"]
    values = given.to_numpy(np.float64, na_value=np.nan)
    bad = np.flatnonzero(np.isnan(values) | (values % 1 != 0))
    if len(bad):
        value = given.astype(object).iloc[bad[0]]
        raise rerun_error(path, f"row {bad[0]} has no given_label" if missing_cell(value) else
                          f"row {bad[0]} has given_label {value!r}, not a class index", written_by=written_by)
    return values


def read_filters(manifest: pd.DataFrame, *, params: Mapping[str, Any] | None = None,
                 cleaners: Iterable[str] | None = None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """``(flags, groups)``: threshold's flags and dedup's groups of the images of data/degrade (``manifest``), each
    None where its stage has not written it, as :func:`considered_rows` takes them. ``params``: params.yaml, whose
    threshold and score settings the flags must have been cut under (:func:`winnow.flag_cuts.check_cut`; None: not
    compared). Before, flags cut under other threshold.issues, bins, max_flagged_fraction or score settings (an edit,
    then a cleaner or the budget run alone) were read as current and left other images out of the judging.
    ``cleaners``: params.yaml's ``pruned.cleaners`` (None: as if every cleaner), which say what the filters move: the
    flags are held to params.yaml where threshold or dedup is among them (dedup keeps the copies the flags pass), the
    copies dedup keeps to the flags where dedup is. With neither, the flags and the kept copies move no image judged
    (the leaks are dropped whatever the flags): before, flags cut under other settings were refused there too."""
    from winnow.flag_cuts import check_cut, check_flagged_by, check_grouped_at
    from winnow.stage_reads import read_table

    # threshold flags every image of data/degrade: one it lacks would count as examined and unflagged
    flags = read_table("data/threshold/flags.parquet", written_by="threshold", columns=("id", "any"),
                       missing_ok=True, rows_of=("data/degrade", manifest["id"]), flags=True)
    groups = read_table("data/dedup/groups.parquet", written_by="dedup",
                        columns=("id", "group", "kept", "reason", "label_conflict"), missing_ok=True,
                        rows_of=("data/degrade", manifest["id"]), booleans=("kept", "label_conflict"),
                        complete=("group",))  # a row an image
    moved_by = {"threshold", "dedup"} if cleaners is None else set(cleaners)
    if flags is not None:
        check_pixels(flags, manifest=manifest, path="data/threshold/flags.parquet", written_by="threshold")
        if params is not None and moved_by & {"threshold", "dedup"}:
            check_cut(flags, params=params)
    if groups is not None:
        check_grouped(groups, manifest=manifest)
        if "dedup" in moved_by:
            check_flagged_by(groups, flags, manifest=manifest)  # kept copies chosen by the flags now
        # and grouped by params.yaml's dedup settings: its leak drops apply whatever the cleaners
        if params is not None:
            check_grouped_at(groups, params=params)
    return flags, groups


def in_id_order(manifest: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """int64 ``(R,)``: the positions of bool ``rows`` ``(N,)`` of ``manifest``, ordered by their ids. A judge draws
    its folds, deals the val images to its fold judges and plants its val flips by position, and takes tied
    neighbours by position: judged in id order, the same images decide the same whatever order data/degrade lists
    them in (before: its rows reversed changed 35 of the default run's 2,763 confident-learn decisions, and
    embedding-clean's measured relabel precision from 0.904 to 0.900)."""
    positions = np.flatnonzero(rows)
    return positions[np.argsort(manifest["id"].to_numpy()[positions].astype(str), kind="stable")]


def filtered_out(manifest: pd.DataFrame, *, flags: pd.DataFrame | None, groups: pd.DataFrame | None,
                 dedup_cleans: bool = True, threshold_cleans: bool = True) -> np.ndarray:
    """bool ``(N,)`` over ``manifest``'s rows: the images the filters take out of the label cleaners' judging
    (arguments as :func:`considered_rows`): threshold's flagged ones when ``threshold_cleans``, and dedup's removed
    copies when ``dedup_cleans``, else its leaks alone, which pruned drops whatever its cleaners."""
    ids = manifest["id"]
    out = np.zeros(len(manifest), bool)
    # before: flagged images were left out whatever pruned.cleaners said; with threshold not among them pruned
    # kept 492 train images no cleaner had judged (43 planted flips among them with degrade.disjoint false)
    if flags is not None and threshold_cleans:
        issue_columns = [c for c in flags.columns if c != "id" and flags[c].dtype == bool]
        out |= flags.set_index("id")[issue_columns].any(axis=1).reindex(ids, fill_value=False).to_numpy(bool)
    if groups is not None:
        by_id = groups.set_index("id")
        # before: every removed copy was left out, dedup in pruned.cleaners or not: without it pruned shipped a
        # picture's copies labelled 0 and 1 and no cleaner had judged the one dedup would have removed
        dropped = ~by_id["kept"].astype(bool) if dedup_cleans else by_id["reason"] == "leak"
        out |= dropped.reindex(ids, fill_value=False).to_numpy(bool)
    return out


def considered_rows(
    manifest: pd.DataFrame, *, flags: pd.DataFrame | None = None, groups: pd.DataFrame | None = None,
    dedup_cleans: bool = True, threshold_cleans: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows confident learning judges, and which of them dedup marked as label conflicts.

    Args:
        manifest: the imageset's manifest (``id``, ``split``, ...), ``N`` rows.
        flags: threshold's ``flags.parquet`` (``id`` + one bool column per quality issue); a train image
            with any flag is left out when ``threshold_cleans`` (threshold is in ``pruned.cleaners``, so pruned
            drops it): a dark or blurred image says little about its label. Otherwise pruned keeps it, so its
            label is judged like any other.
        groups: dedup's ``groups.parquet`` (``id``, ``kept``, ``reason``, ``label_conflict``, ...); the
            copies pruned drops are left out so one image is not judged twice: every removed copy when
            ``dedup_cleans`` (dedup is in ``pruned.cleaners``), else only the leaks, which pruned drops whatever
            its cleaners.

    Returns:
        ``(considered, conflict)``, bool ``(N,)`` each; ``conflict`` is False outside ``considered``.

    Raises:
        WinnowError: when no train image is left to judge.
    """
    ids = manifest["id"]
    considered = (manifest["split"].to_numpy() == "train") & ~filtered_out(
        manifest, flags=flags, groups=groups, dedup_cleans=dedup_cleans, threshold_cleans=threshold_cleans)
    conflict = np.zeros(len(manifest), bool)
    if groups is not None:
        conflict = groups.set_index("id")["label_conflict"].reindex(ids, fill_value=False).to_numpy(bool) & considered
    if not considered.any():
        train = int((manifest["split"] == "train").sum())
        if not train:
            raise WinnowError("no train image to judge: the imageset's train split is empty")
        raise WinnowError(f"no train image left to judge: threshold flagged or dedup removed all {train} of them; "
                          "check data/threshold/flags.parquet and data/dedup/groups.parquet (threshold and dedup "
                          "params)")
    return considered, conflict
