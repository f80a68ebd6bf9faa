"""The review queue: per train image, what the cleaners in ``pruned.cleaners`` suggest doing with it and why
(:func:`review_queue`), which ``winnow review export`` (:mod:`winnow.review`) writes out and ``winnow review
import`` checks a person's verdicts against."""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.variants import DECISION_FILES, PER_IMAGE
from winnow.decision_rows import apply_decisions, cleaner_decisions

BUDGET_IN = "data/budget/decisions.parquet"  # the budget stage's choice: what pruned does without a verdict
# an image's kind is the first of its decisions' kinds in this order (the page shows one grid per kind)
KINDS = ("label", "quality", "duplicate", "outlier")
# per cleaner, the columns the queue reads beyond those winnow.decision_files.read_cleaner_tables reads (given_label
# among them: listed here too, a file without it was said to lack "given_label, given_label")
REVIEW_COLUMNS = {"dedup": ("group",), "confident_learn": ("is_issue", "label_quality"),
                  "embedding_clean": ("agreement", "centroid_margin"), "data_valuation": ("harm",)}
# the label cleaners (winnow.budget.LABEL_CLEANERS: those of DECISION_FILES with a table per judged image, not per
# image) as (their read_cleaner_tables argument, cleaner): their decisions are scored by the budget's confidence
# (read_cleaner_tables checks their given_label against data/degrade's). Before: data_valuation was left out, so its
# drops had no score and sank below every scored decision of a queue sorted worst first
LABEL_TABLES = tuple((argument, cleaner) for cleaner, (_, _, argument, _) in DECISION_FILES.items()
                     if argument not in PER_IMAGE)


def suggestions(tables: dict[str, pd.DataFrame], *, applied: pd.DataFrame) -> pd.DataFrame:
    """Every drop or relabel the cleaners suggest, one row per (image, cleaner decision): the decisions they
    took (:func:`winnow.decision_rows.cleaner_decisions`), a label issue confident-learn kept (a relabel to its
    class), an outlier embedding-clean kept (a drop), and whatever ``applied`` (the budget's decisions)
    holds besides.

    Args:
        tables: :func:`winnow.decision_files.read_cleaner_tables` with :data:`REVIEW_COLUMNS`.
        applied: the budget's decisions, ``id, action, label, reason, stage``.

    Returns:
        DataFrame ``id, action, label, reason, stage`` (label: the new class of a relabel, else -1).
    """
    parts = [cleaner_decisions(**tables)]
    issues = tables.get("label_issues")
    if issues is not None:
        kept = issues[(issues["decision"] == "keep") & issues["is_issue"].astype(bool)
                      & (issues["suggested_label"] != issues["given_label"])]
        parts.append(pd.DataFrame({"id": kept["id"], "action": "relabel", "label": kept["suggested_label"],
                                   "reason": "label_issue (kept)", "stage": "confident_learn"}))
    neighbours = tables.get("neighbour_decisions")
    if neighbours is not None:
        flag_columns = [c for c in neighbours.columns if c.endswith("_outlier")]
        flags = neighbours[flag_columns].to_numpy(bool)
        kept = (neighbours["decision"] == "keep").to_numpy() & flags.any(axis=1)
        methods = np.array([c.removesuffix("_outlier") for c in flag_columns], dtype=object)
        parts.append(pd.DataFrame({"id": neighbours["id"][kept], "action": "drop", "label": -1,
                                   "reason": ["outlier:" + "+".join(methods[row]) + " (kept)" for row in flags[kept]],
                                   "stage": "embedding_clean"}))
    parts.append(applied.loc[:, ["id", "action", "label", "reason", "stage"]])
    every = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    return every.drop_duplicates(["id", "action", "label", "stage"]).astype({"label": np.int64}).reset_index(drop=True)


def decision_evidence(decisions: pd.DataFrame, tables: dict[str, pd.DataFrame], *,
                      scores: pd.DataFrame | None) -> pd.DataFrame:
    """Per row of :func:`suggestions`: its ``kind`` (:data:`KINDS`), ``score`` (float64 in [0, 1], higher =
    surer something is wrong: a label decision's confidence as the budget ranks it, one minus the lowest
    quality score flagged or outlier score flagged, 1 for a duplicate), the judge's class ``hint`` (int64,
    -1 when none) and ``copy_of`` (the id dedup kept in a duplicate's group, else "")."""
    from winnow.budget import label_confidence  # imports torch: only an export pays for it

    stage, reason = decisions["stage"].to_numpy(object), decisions["reason"].astype(str)
    outlier = reason.str.startswith("outlier").to_numpy()
    kind = np.select([stage == "threshold", stage == "dedup", outlier], ["quality", "duplicate", "outlier"], "label")
    score = np.full(len(decisions), np.nan)
    hint = np.where(decisions["action"] == "relabel", decisions["label"], -1).astype(np.int64)
    copy_of = np.full(len(decisions), "", dtype=object)

    def by_id(values, ids) -> pd.Series:
        return pd.Series(np.asarray(values), index=np.asarray(ids, dtype=object))

    flags = tables.get("flags")
    if flags is not None and scores is not None:
        issues = [c for c in flags.columns if c not in ("id", "any") and flags[c].dtype == bool and c in scores]
        quality = flags[["id"]].merge(scores[["id", *issues]], on="id", how="left")[issues].to_numpy(np.float64)
        worst = np.nanmin(np.where(flags[issues].to_numpy(bool), quality, np.inf), axis=1, initial=np.inf)
        mine = stage == "threshold"
        score[mine] = decisions["id"][mine].map(by_id(np.where(np.isinf(worst), np.nan, 1 - worst), flags["id"]))
    groups = tables.get("groups")
    if groups is not None:
        mine = stage == "dedup"
        kept = groups[groups["kept"].astype(bool)].drop_duplicates("group").set_index("group")["id"]
        copy_of[mine] = decisions["id"][mine].map(by_id(groups["group"].map(kept).fillna(""), groups["id"]))
        score[mine] = 1.0
    for argument, cleaner in LABEL_TABLES:
        table = tables.get(argument)
        if table is None:
            continue
        mine = stage == cleaner
        confidence, _ = label_confidence(table, cleaner=cleaner)
        score[mine & ~outlier] = decisions["id"][mine & ~outlier].map(by_id(confidence, table["id"]))
        judged = by_id(np.where(table["suggested_label"] != table["given_label"], table["suggested_label"], -1),
                       table["id"])
        drops = mine & (hint < 0) & ~outlier
        hint[drops] = decisions["id"][drops].map(judged).fillna(-1).astype(np.int64)
        if outlier[mine].any():
            methods = [c.removesuffix("_outlier") for c in table.columns if c.endswith("_outlier")]
            flagged = table[[f"{m}_outlier" for m in methods]].to_numpy(bool)
            lowest = np.min(np.where(flagged, table[methods].to_numpy(np.float64), np.inf), axis=1, initial=np.inf)
            rows = mine & outlier
            score[rows] = decisions["id"][rows].map(by_id(np.where(np.isinf(lowest), np.nan, 1 - lowest), table["id"]))
    return pd.DataFrame({"kind": kind, "score": score, "hint": hint, "copy_of": copy_of}, index=decisions.index)


def review_queue(*, baseline: pd.DataFrame, classes: list[str], tables: dict[str, pd.DataFrame],
                 applied: pd.DataFrame, scores: pd.DataFrame | None) -> pd.DataFrame:
    """One row per train image some cleaner suggests dropping or relabelling (:data:`QUEUE_COLUMNS`, without
    ``image``), worst first: by ``score`` (missing last), then kind, then id.

    Args:
        baseline: :func:`winnow.variants.baseline_rows` (the train images with their given labels).
        tables: the cleaners' decision files (:func:`winnow.decision_files.read_cleaner_tables`,
            :data:`REVIEW_COLUMNS`).
        applied: the decisions pruned applies (``data/budget/decisions.parquet``).
        scores: the score stage's table (``id`` and one column per quality issue), for quality drops' scores.
    """
    decisions = suggestions(tables, applied=applied)
    decisions = decisions[decisions["id"].isin(set(baseline["id"]))]  # only train images are ever changed
    evidence = decision_evidence(decisions, tables, scores=scores)
    rows = baseline[baseline["id"].isin(set(decisions["id"]))].reset_index(drop=True)
    suggested = apply_decisions(rows, decisions, warn="the cleaners' decision files")
    pruned = apply_decisions(rows, applied, warn=BUDGET_IN)
    per_image = decisions.join(evidence).assign(rank=lambda t: t["kind"].map(KINDS.index)).groupby("id", sort=False)
    facts = pd.DataFrame({
        "rank": per_image["rank"].min(), "score": per_image["score"].max(),
        "reason": per_image["reason"].agg(lambda r: "; ".join(dict.fromkeys(map(str, r)))),
        "stage": per_image["stage"].agg(lambda s: "+".join(dict.fromkeys(s))),
        "hint": per_image["hint"].max(), "copy_of": per_image["copy_of"].max(),
    }).reindex(rows["id"])
    action = suggested["action"].to_numpy(object)
    new_label = np.where(action == "relabel", suggested["label"], facts["hint"]).astype(np.int64)
    queue = pd.DataFrame({
        "id": rows["id"].to_numpy(object), "kind": np.array(KINDS, dtype=object)[facts["rank"].to_numpy(np.int64)],
        "given": [classes[label] for label in rows["label"]],
        "suggested": [classes[label] if label >= 0 else "" for label in new_label],
        "action": action, "pruned": pruned["action"].to_numpy(object), "reason": facts["reason"].to_numpy(object),
        "score": facts["score"].to_numpy(np.float64), "stage": facts["stage"].to_numpy(object),
        "copy_of": facts["copy_of"].to_numpy(object), "verdict": "",
    })
    queue = queue[queue["action"] != "keep"].assign(rank=lambda t: t["kind"].map(KINDS.index))
    queue = queue.sort_values(["score", "rank", "id"], ascending=[False, True, True], na_position="last", kind="stable")
    return queue.drop(columns="rank").reset_index(drop=True)
