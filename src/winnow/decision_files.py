"""The cleaners' decision files and the budget's, read and checked before any of their decisions is weighed or
applied (:data:`winnow.variants.DECISION_FILES` names the cleaners' files): a damaged or stale file is refused in
one line naming it and the stage that writes it again, never read as other decisions. Read by the budget
(:mod:`winnow.budget`), the variants stage and `winnow review` (:mod:`winnow.review`).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from winnow.configs import CLEANERS
from winnow.errors import WinnowError
from winnow.stage import read_table, rerun_error
from winnow.variants import DECISION_FILES, DEGRADE, PER_IMAGE


def read_cleaner_tables(cleaners, *, num_classes: int, manifest: pd.DataFrame,
                        extra_columns: dict[str, tuple[str, ...]] | None = None) -> dict[str, pd.DataFrame]:
    """The decision files of ``cleaners`` (names in :data:`winnow.variants.DECISION_FILES`), read and checked, as
    :func:`winnow.variants.cleaner_decisions` keyword arguments; ``num_classes``: data/degrade's classes;
    ``manifest``: data/degrade's (``id``, ``split``, ``label``); ``extra_columns``: per cleaner, columns needed
    besides those it reads.

    threshold's flags and dedup's groups must hold one row per image of data/degrade
    (:func:`winnow.stage.read_table` ``rows_of``), a label cleaner's decisions one row per image it judged,
    each a train image of data/degrade with its ``given_label`` there: a repeated row would count one image's
    decision twice (or two different ones), a missing one would pass it unexamined, an unknown one, a val or
    test image or another given label is another data version's. A label cleaner's ``decision`` must be keep,
    drop or relabel and a relabel's ``suggested_label`` a class index.

    Raises:
        WinnowError: one line naming the file and the stage that writes it again.
    """
    unknown = sorted(set(cleaners) - set(CLEANERS))
    if unknown:
        raise WinnowError(f"pruned.cleaners: unknown {unknown}; choose from {', '.join(CLEANERS)}")
    tables = {}
    for cleaner in cleaners:
        path, stage, argument, columns = DECISION_FILES[cleaner]
        columns = (*columns, *(extra_columns or {}).get(cleaner, ()))
        if argument in PER_IMAGE:
            tables[argument] = read_table(path, written_by=stage, columns=columns, rows_of=(DEGRADE, manifest["id"]))
        else:
            tables[argument] = read_table(path, written_by=stage, columns=(*columns, "given_label"), unique="id",
                                          ids_of=(DEGRADE, manifest["id"]))
            # before: a decision 'Relabel' (or null) was read as keep, and a relabel to 12 of 10 classes
            # crashed the budget in numpy (or, hidden by another cleaner's drop, reached variants, which
            # told the user to rerun the budget, which wrote it again)
            _check_actions(path, tables[argument], action="decision", label="suggested_label",
                           known=("keep", "drop", "relabel"), num_classes=num_classes, written_by=stage)
            _check_judged(path, tables[argument], manifest=manifest, written_by=stage)
    return tables


def _check_judged(path: str | os.PathLike, table: pd.DataFrame, *, manifest: pd.DataFrame, written_by: str) -> None:
    """Refuse (:func:`winnow.stage.rerun_error`) a label cleaner's ``table`` naming an image outside the train split
    of ``manifest`` (data/degrade's), or with a ``given_label`` that is not its label there: another data version's.
    Before, the budget ranked both (a val image's relabel took a place in each cut and changed nothing) and shipped
    relabels judged against labels that had changed since; `winnow review export` refused only the second, whose
    "relabel owl -> owl" it had offered (and imported a reject of it as accept). A ``given_label`` that is no
    class index (text, null, a fraction) is refused first, naming its row."""
    known = manifest.set_index("id")
    split, label = table["id"].map(known["split"]), table["id"].map(known["label"])
    held_out = np.flatnonzero(split != "train")
    if len(held_out):
        first = held_out[0]
        raise rerun_error(path, f"{len(held_out)} image(s) outside the train split (first {table['id'].iloc[first]!r}, "
                                f"a {split.iloc[first]} image); a label cleaner judges train images only",
                          written_by=written_by)
    # before: a null in a nullable integer column (pandas' Int64) ended the budget and review export in a TypeError,
    # and a text or null given_label was called one of other labels ("0 there, 0 in data/degrade")
    given = table["given_label"]
    if not pd.api.types.is_numeric_dtype(given.dtype) or pd.api.types.is_bool_dtype(given.dtype):
        raise rerun_error(path, f"given_label holds {given.dtype} values, not class indices", written_by=written_by)
    values = given.to_numpy(np.float64, na_value=np.nan)
    bad = np.flatnonzero(np.isnan(values) | (values % 1 != 0))
    if len(bad):
        value = given.astype(object).iloc[bad[0]]
        raise rerun_error(path, f"row {bad[0]} has no given_label" if _missing(value) else
                          f"row {bad[0]} has given_label {value!r}, not a class index", written_by=written_by)
    stale = np.flatnonzero(values != label.to_numpy(np.float64))
    if len(stale):
        first = table.iloc[stale[0]]
        raise rerun_error(path, f"given_label differs from {DEGRADE} for {len(stale)} image(s) (first: id "
                                f"{first['id']!r}, {first['given_label']} there, {label.iloc[stale[0]]} in "
                                f"{DEGRADE}): it judged labels that changed since", written_by=written_by)


def _check_actions(path: str | os.PathLike, table: pd.DataFrame, *, action: str, label: str,
                   known: tuple[str, ...], num_classes: int, written_by: str) -> None:
    """Refuse (:func:`winnow.stage.rerun_error`, naming the first bad row) a row of ``table`` whose ``action``
    column is not one of ``known`` (null included), or a relabel whose ``label`` column is not a class index in
    ``[0, num_classes)``."""
    bad = ~table[action].isin(known)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value, choices = table[action].astype(object).iloc[row], " or ".join([", ".join(known[:-1]), known[-1]])
        raise rerun_error(path, f"row {row} has no {action} (one of {choices})" if _missing(value) else
                          f"row {row} has {action} {value!r}, not {choices}", written_by=written_by)
    labels = pd.to_numeric(table[label], errors="coerce")
    relabel = (table[action] == "relabel").to_numpy()
    bad = relabel & (labels.isna() | (labels < 0) | (labels >= num_classes) | (labels % 1 != 0)).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise rerun_error(path, f"row {row} relabels to {table[label].astype(object).iloc[row]!r}, not a class "
                                f"index in [0, {num_classes - 1}]", written_by=written_by)


def _missing(value) -> bool:
    """Whether a table's cell is null (None or NaN, as parquet gives an empty cell back)."""
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def read_decisions(path: str | os.PathLike, *, written_by: str, num_classes: int, ids) -> pd.DataFrame:
    """A file of :func:`winnow.variants.cleaner_decisions` rows (``id, action, label, reason, stage``), checked:
    every id an image of data/degrade (``ids``; another id means decisions of another data version), every action
    drop or relabel, every relabel a class index in ``[0, num_classes)`` and every reason and stage text."""
    decisions = read_table(path, written_by=written_by, columns=("id", "action", "label", "reason", "stage"),
                           ids_of=(DEGRADE, ids))
    _check_actions(path, decisions, action="action", label="label", known=("drop", "relabel"),
                   num_classes=num_classes, written_by=written_by)
    # before: a null reason or stage crashed apply_decisions ("sequence item 0: expected str instance")
    for column in ("reason", "stage"):
        bad = ~decisions[column].map(lambda value: isinstance(value, str)).to_numpy(bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = decisions[column].astype(object).iloc[row]
            raise rerun_error(path, f"row {row} has no {column}" if _missing(value) else
                              f"row {row} has {column} {value!r}, not text", written_by=written_by)
    return decisions
