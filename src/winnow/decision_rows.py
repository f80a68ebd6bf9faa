"""The cleaners' decisions as rows: :func:`cleaner_decisions` gathers every drop and relabel of the cleaners' files,
and :func:`apply_decisions` applies them to a variant's rows (:mod:`winnow.variants`)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cleaner_decisions(
    *, flags: pd.DataFrame | None = None, groups: pd.DataFrame | None = None,
    label_issues: pd.DataFrame | None = None, neighbour_decisions: pd.DataFrame | None = None,
    valuation_decisions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every drop/relabel decision of the cleaners, one row per (image, decision).

    Args:
        flags: threshold's flags.parquet: ``id``, one bool column per quality issue, ``any``.
        groups: dedup's groups.parquet: ``id``, ``kept``, ``reason``.
        label_issues: confident-learn's label_issues.parquet: ``id``, ``decision`` (keep | drop |
            relabel), ``suggested_label``, ``reason``.
        neighbour_decisions: embedding-clean's decisions.parquet, the same columns.
        valuation_decisions: data-valuation's decisions.parquet, the same columns (drops only).

    Returns:
        DataFrame with ``id, action, label, reason, stage``; ``label`` is the new label for a
        relabel and -1 otherwise.
    """
    parts = []
    if flags is not None:
        issues = np.array([c for c in flags.columns if c not in ("id", "any") and flags[c].dtype == bool],
                          dtype=object)
        flagged = flags[flags[issues].any(axis=1)]
        # a list, not DataFrame.apply: apply on zero rows (a clean data set) returns a frame, not a Series
        reasons = ["+".join(issues[row]) for row in flagged[issues].to_numpy(bool)]
        parts.append(pd.DataFrame({"id": flagged["id"], "action": "drop", "label": -1,
                                   "reason": pd.Series(reasons, index=flagged.index, dtype=object),
                                   "stage": "threshold"}))
    if groups is not None:
        removed = groups[~groups["kept"].astype(bool)]
        parts.append(pd.DataFrame({"id": removed["id"], "action": "drop", "label": -1,
                                   "reason": removed["reason"].astype(str), "stage": "dedup"}))
    for table, stage in ((label_issues, "confident_learn"), (neighbour_decisions, "embedding_clean"),
                         (valuation_decisions, "data_valuation")):
        if table is None:
            continue
        acted = table[table["decision"].isin(["drop", "relabel"])]
        parts.append(pd.DataFrame({
            "id": acted["id"], "action": acted["decision"],
            "label": np.where(acted["decision"] == "relabel", acted["suggested_label"], -1).astype(np.int64),
            "reason": acted["reason"].astype(str), "stage": stage,
        }))
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("id", "action", "label", "reason", "stage")})
    return pd.concat(parts, ignore_index=True)


def apply_decisions(rows: pd.DataFrame, decisions: pd.DataFrame, *, warn: str | None = None) -> pd.DataFrame:
    """Rows with the decisions applied to the train images they name.

    A drop wins over a relabel; two relabels of one image to different labels drop it (the cleaners
    disagree, so neither label is trusted). A relabel to the label its image already has changes nothing: the
    image is kept (dropped as above where another decision relabels it to another label), and ``warn`` (where
    the decisions come from; None: the budget's trials, which say nothing) names in one ``warning:`` line how
    many and the first. Decisions for ids outside ``rows`` (val and test images) are ignored: only train images
    change. An id the data lacks is refused where the decisions are read
    (:func:`winnow.decision_files.read_cleaner_tables`, :func:`winnow.decision_files.read_decisions`).
    """
    decisions = decisions[decisions["id"].isin(set(rows["id"]))]
    # the budget's file carries every train id in its attrs (winnow.decision_files), which pandas deep-copied into each
    # group of the aggregations below: before, 2,000 decisions of 20,000 train images took 39 s (0.6 s without), and
    # an export, import or variants run of thousands of flags minutes
    decisions.attrs = {}
    # before: a decision file edited by hand to relabel an image to its own class made it a relabel "2->2", counted
    # as one in metrics/variants.json and the report, and offered for review as "relabel owl -> owl"
    relabel = decisions["action"] == "relabel"
    same = relabel & decisions["label"].eq(decisions["id"].map(
        pd.Series(rows["label"].to_numpy(), index=rows["id"].to_numpy())))
    # still a vote for the label it has where another cleaner relabels the image to another one: before, that
    # relabel was applied, against the cleaner that kept the label, where two relabels that disagree drop the image
    same &= ~decisions["id"].isin(decisions.loc[relabel & ~same, "id"])
    if same.any() and warn is not None:
        first = decisions[same].iloc[0]
        print(f"warning: {warn}: {int(same.sum())} relabel(s) to the label the image already has, read as keep "
              f"(first: id {first['id']!r}, by {first['stage']}); the data set keeps those labels")
    decisions = decisions[~same]
    if decisions.empty:
        return rows.copy()
    by_id = decisions.groupby("id", sort=False)
    summary = pd.DataFrame({
        "drops": decisions["action"].eq("drop").groupby(decisions["id"], sort=False).any(),  # a lambda: 30x slower
        "labels": decisions[decisions["action"] == "relabel"].groupby("id")["label"].nunique(),
        "new_label": decisions[decisions["action"] == "relabel"].groupby("id")["label"].first(),
        "drop_reason": decisions[decisions["action"] == "drop"].groupby("id")["reason"].agg("; ".join),
        "relabel_reason": decisions[decisions["action"] == "relabel"].groupby("id")["reason"].agg("; ".join),
        "stages": by_id["stage"].agg(lambda s: "+".join(dict.fromkeys(s))),
    })
    out = rows.merge(summary, how="left", left_on="id", right_index=True)
    drop = out["drops"].eq(True) | out["labels"].gt(1)
    relabel = ~drop & out["labels"].eq(1)
    out.loc[drop, "reason"] = out.loc[drop, "drop_reason"].fillna("conflicting relabels")
    # built from the relabelled rows only: with no relabel at all their columns are all null, and pandas
    # refuses to add a null object column to a string one
    moved = out[relabel]
    out.loc[relabel, "reason"] = (moved["label"].astype(str) + "->" + moved["new_label"].astype("Int64").astype(str)
                                  + ": " + moved["relabel_reason"].astype(str))
    out.loc[relabel, "label"] = out.loc[relabel, "new_label"].astype(np.int64)
    out.loc[drop, "action"] = "drop"
    out.loc[relabel, "action"] = "relabel"
    out.loc[drop | relabel, "stage"] = out.loc[drop | relabel, "stages"]
    return out.loc[:, list(rows.columns)].astype({"label": np.int64})
