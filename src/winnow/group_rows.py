"""dedup's groups (data/dedup/groups.parquet) checked as every reader reads them
(:func:`winnow.judged_rows.check_grouped`): group numbers dedup writes, each group_size its group's number of images,
and a reason dedup writes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.configs import KEPT_REASONS, REMOVED_REASONS


def check_group_numbers(groups: pd.DataFrame, *, path: str) -> None:
    """Refuse (:func:`winnow.stage_reads.rerun_error`) dedup's ``groups`` whose ``group`` is no group number dedup
    writes (a whole number, 0 or more), or whose ``group_size`` of an image, where the table has one, is not the number
    of images in its group. Before: a group of -1 written for every image without a copy (another tool's mark for none)
    was read by the budget and the label cleaners as one picture of all of them, and ended the report in a ValueError,
    as did group numbers written as text; a group_size written as text ended it in a TypeError."""
    from winnow.stage_reads import holds_numbers, rerun_error

    if "group" not in groups.columns:  # a reader using it requires it (before: a KeyError traceback in the budget)
        return
    group = groups["group"].dropna()
    if not holds_numbers(group.dtype):
        raise rerun_error(path, f"group holds {group.dtype} values, not group numbers", written_by="dedup")
    odd = np.flatnonzero(((group < 0) | (group % 1 != 0)).to_numpy())
    if len(odd):
        raise rerun_error(path, f"group {group.iloc[odd[0]]:g} of id {groups['id'][group.index[odd[0]]]!r} is "
                                "no group number (a whole number, 0 or more)", written_by="dedup")
    if "group_size" not in groups.columns:
        return
    if not holds_numbers(groups["group_size"].dtype):
        raise rerun_error(path, f"group_size holds {groups['group_size'].dtype} values, not numbers of images",
                          written_by="dedup")
    held = groups["group"].map(group.value_counts()).to_numpy(np.float64, na_value=np.nan)
    sizes = groups["group_size"].to_numpy(np.float64, na_value=np.nan)
    wrong = np.flatnonzero((sizes != held) & ~np.isnan(held))
    if len(wrong):
        at = wrong[0]
        said = "no group_size" if np.isnan(sizes[at]) else f"group_size {sizes[at]:g}"
        raise rerun_error(path, f"{said} of id {groups['id'].iloc[at]!r}, but its group {groups['group'].iloc[at]:g} "
                                f"holds {held[at]:.0f} image(s)", written_by="dedup")


def check_reasons(groups: pd.DataFrame, *, path: str) -> None:
    """Refuse (:func:`winnow.stage_reads.rerun_error`) dedup's ``groups`` whose ``reason`` of an image, where the table
    has one, is none of those dedup writes (:data:`winnow.configs.KEPT_REASONS`,
    :data:`winnow.configs.REMOVED_REASONS`). Before: a train copy of a test image whose reason read "Leak" or null
    (another tool's, or an edit) was judged by the label cleaners as any train image, and pruned, which drops leaks
    whatever pruned.cleaners says, kept it, exit 0."""
    from winnow.stage_reads import missing_cell, rerun_error

    if "reason" not in groups.columns:  # a reader using it requires it
        return
    reason = groups["reason"].astype(object)
    unknown = np.flatnonzero(~reason.isin([*KEPT_REASONS, *REMOVED_REASONS]).to_numpy())
    if len(unknown):
        value, image = reason.iloc[unknown[0]], groups["id"].iloc[unknown[0]]
        known = ", ".join(KEPT_REASONS + REMOVED_REASONS)
        raise rerun_error(path, f"no reason for id {image!r}" if missing_cell(value) else
                          f"reason {value!r} of id {image!r} is none of those dedup writes ({known})",
                          written_by="dedup")
