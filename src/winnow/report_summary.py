"""The report's summary section, what happened to the data: what went in (ingest, degrade), what each data set
version holds, and what each cleaner did, by reason and by class; then each relabel and the train images per
class per version, all from the variants' rows. A module of its own so the report's other sections can move
without touching it."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from winnow.configs import CLEANERS
from winnow.markdown import isolate
from winnow.report import block, by_class, fmt, html_table, not_run, reason_text, reason_tokens

ACTION_TITLES = {"drop": "removed", "relabel": "relabelled", "add": "added"}


def summary_section(*, ingest: dict | None, rejected: pd.DataFrame | None, degrade: dict | None,
                    variant_rows: dict[str, pd.DataFrame], origin_labels: dict[str, pd.Series],
                    classes: list[str]) -> str:
    """What went in, what each data set version holds, and what each cleaner did, by reason and by class
    name (an image removed for two reasons counts under both); then each relabel (given → new class) and
    the train images per class per version.

    Args:
        ingest, degrade: ``metrics/ingest.json``, ``metrics/degrade.json``.
        rejected: ``data/ingest/rejected.csv`` (``path, reason``).
        variant_rows: variant → its ``rows.parquet``.
        origin_labels: origin (``ingest``, ``degrade``) → its manifest's label by id, the labels the rows
            started from.
    """
    parts = []
    if ingest:
        splits = " · ".join(f"{name} {fmt(n)}" for name, n in ingest.get("split", {}).items())
        parts.append(f"<p><b>{fmt(ingest['images'])}</b> images read ({splits}) in {fmt(ingest['classes'])} classes; "
                     f"<b>{fmt(ingest['rejected'])}</b> files rejected.</p>")
    if rejected is not None and len(rejected):
        reasons = rejected.groupby("reason").size().rename("files").to_frame()
        parts.append(block("Files ingest rejected, by reason", html_table(reasons), rows=len(reasons)))
    if degrade and degrade.get("kind"):
        planted = pd.Series(degrade["kind"], name="images").loc[lambda s: s > 0].to_frame()
        planted.index.name = "problem planted by degrade"
        parts.append(f"<p>degrade: train split {fmt(degrade['train']['before'])} → {fmt(degrade['train']['after'])} "
                     f"images; {fmt(degrade['perturbed_images'])} images perturbed"
                     + (f", of which {fmt(degrade['carrying_images'])} are left in it carrying a known problem (the "
                        "rest removed)" if "carrying_images" in degrade else "") + ".</p>"
                     + html_table(planted))
    if not variant_rows:
        return "".join(parts) + not_run("data set versions", how="the variants stage writes data/variants/")
    changes = {name: _row_changes(rows, origin_labels=origin_labels) for name, rows in variant_rows.items()}
    overview = pd.DataFrame({name: {"train images": int((c["action"] != "drop").sum()),
                                    **{title: int((c["action"] == action).sum())
                                       for action, title in ACTION_TITLES.items()}}
                             for name, c in changes.items()}).T
    overview.index.name = "version"
    parts += ["<h3>Data set versions</h3>", html_table(overview)]
    decisions = pd.concat(changes.values()).loc[lambda c: c["action"].isin(list(ACTION_TITLES))]
    decisions = decisions.drop_duplicates(["id", "stage", "action", "reason"])  # pruned's decisions recur in its heirs
    if len(decisions):
        cleaners = by_class(_cleaner_counts(decisions, classes=classes), classes=classes)
        parts.append(block("What each cleaner did, by reason and class (the class an image was given)",
                           html_table(cleaners), rows=len(cleaners)) + _several_rows_note(decisions))
    relabels = decisions[decisions["action"] == "relabel"]
    if len(relabels):
        moves = relabels.groupby(["given", "label"]).size().sort_values(ascending=False, kind="stable")
        moves = moves.rename("images").to_frame().set_axis(
            pd.Index([f"{isolate(classes[a])} → {isolate(classes[b])}" for a, b in moves.index],
                     name="given → new class"))
        parts.append(block("Relabels, given class → new class", html_table(moves), rows=len(moves)))
    images = pd.DataFrame({name: c.loc[c["action"] != "drop", "label"].value_counts().reindex(range(len(classes)),
                                                                                         fill_value=0)
                           for name, c in changes.items()}).set_axis(pd.Index(classes, name="class"))
    parts.append(block("Train images per class, per version", html_table(images), rows=len(images)))
    return "".join(parts)


def _row_changes(rows: pd.DataFrame, *, origin_labels: dict[str, pd.Series]) -> pd.DataFrame:
    # each row with the label it started from (added images start from their own label)
    given = rows["label"].copy()
    for origin, labels in origin_labels.items():
        mine = rows["origin"] == origin
        given[mine] = rows.loc[mine, "id"].map(labels).fillna(rows.loc[mine, "label"]).astype(np.int64)
    return rows.assign(given=given.astype(np.int64))


def reason_kind(token: str) -> str:
    """:func:`winnow.report.reason_text` without the class a reason names (the class is the table's column):
    ``inside_class:7`` → ``inside another class``."""
    rule, _, option = token.partition(":")
    if rule in ("inside_class", "neighbours_agree") and option.isdigit():
        return "inside another class" if rule == "inside_class" else "neighbours agree on another class"
    return reason_text(token, classes=[])


@functools.lru_cache(maxsize=None)
def _row_kinds(reason: str) -> tuple[str, ...]:
    # the kinds of reason one decision counts under in the cleaners' table, one row each. Cached: a set's decisions
    # repeat a few reasons, and parsing each row anew, in the table and again in its note, took ~9 s each a million rows
    return tuple(dict.fromkeys(map(reason_kind, reason_tokens(reason)))) or ("(no reason given)",)


def _several_rows_note(decisions: pd.DataFrame) -> str:
    """A note when an image counts in more than one row of the cleaners' table (an all-black photo removed as dark
    and as grayscale), whose column then adds up to more images than the versions' table says were removed: before,
    dark 1 + grayscale 1 + odd size 1 + near duplicate 2 stood under pruned's 4 removed without a word."""
    rows = pd.Series([len(_row_kinds(reason)) for reason in decisions["reason"]], index=decisions["id"].to_numpy())
    several = int((rows.groupby(level=0).sum() > 1).sum())
    if not several:
        return ""
    return (f'<p class="note">{several:,} image(s) count in more than one row, once for each cleaner and reason '
            "that acted on them, so a column adds up to more than the images the versions above removed or "
            "changed.</p>")


def _cleaner_counts(decisions: pd.DataFrame, *, classes: list[str]) -> pd.DataFrame:
    # one row per cleaner · decision · kind of reason, one column per class (the class given), and all
    keys, given = [], []
    for stage, action, reason, label in zip(decisions["stage"], decisions["action"], decisions["reason"],
                                            decisions["given"]):
        cleaner = " + ".join(part.replace("_", "-") for part in (stage or "(unknown)").split("+"))
        for kind in _row_kinds(reason):
            keys.append(f"{cleaner} · {ACTION_TITLES[action]} · {kind}")
            given.append(classes[label])
    table = pd.crosstab(pd.Series(keys, name="cleaner · decision · reason"),
                        pd.Categorical(given, categories=classes)).reindex(columns=classes, fill_value=0)
    table.columns = pd.Index(classes)
    total = "all"
    while total in classes:  # a class called "all" crashed the page: the total is "(all)" beside it
        total = f"({total})"
    table.insert(0, total, table.sum(axis=1))
    order = [*(c.replace("_", "-") for c in CLEANERS), "gan", "balance"]  # the order the pipeline runs them

    def position(key: str) -> int:
        first = key.split(" · ")[0].split(" + ")[0]
        return order.index(first) if first in order else len(order)

    return table.iloc[sorted(range(len(table)), key=lambda i: (position(table.index[i]), table.index[i]))]
