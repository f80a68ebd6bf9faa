"""Data set versions, assembled from imagesets plus decision files, never by editing data in place.

A variant is a folder ``data/variants/<name>/`` holding ``rows.parquet``, one row per train image
the variant considered (:data:`ROW_COLUMNS`): where its pixels live (``origin``: ``ingest``,
``degrade`` or ``extra``), the label it trains with, and what was decided about it and why. Images
a variant adds (GAN samples) travel in an imageset ``extra/`` inside the folder, so a variant is
self-contained and training never depends on the stage that produced the additions.

- ``oracle``: the train split before degrade (the undamaged reference; needs degrade on);
- ``baseline``: the train split as degrade left it (for a user's own data: as it came in);
- ``pruned``: baseline with every drop and relabel decision of the chosen cleaners applied;
- ``augmented``: pruned plus generated images (written by gan-synthesize).

Every variant validates on the val split and is evaluated on the test split of ``data/ingest``,
which no stage changes; decisions only ever touch train rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.errors import WinnowError
from winnow.imageset import ImageSet, read_imageset, write_imageset
from winnow.stage import write_table

INGEST, DEGRADE, VARIANTS_DIR = "data/ingest", "data/degrade", "data/variants"
ORIGINS = {"ingest": INGEST, "degrade": DEGRADE}
ROW_COLUMNS = ("id", "origin", "label", "action", "reason", "stage")
ACTIONS = ("keep", "drop", "relabel", "add")
CLEANERS = ("threshold", "dedup", "confident_learn", "embedding_clean")


def _rows(manifest: pd.DataFrame, origin: str) -> pd.DataFrame:
    train = manifest[manifest["split"] == "train"]
    return pd.DataFrame({"id": train["id"].to_numpy(), "origin": origin, "label": train["label"].to_numpy(np.int64),
                         "action": "keep", "reason": "", "stage": ""})


def oracle_rows(ingested: pd.DataFrame) -> pd.DataFrame:
    """Rows of the undamaged train split (manifest of ``data/ingest``)."""
    return _rows(ingested, "ingest")


def baseline_rows(degraded: pd.DataFrame) -> pd.DataFrame:
    """Rows of the train split as degrade left it (manifest of ``data/degrade``)."""
    return _rows(degraded, "degrade")


def cleaner_decisions(
    *, flags: pd.DataFrame | None = None, groups: pd.DataFrame | None = None,
    label_issues: pd.DataFrame | None = None, neighbour_decisions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every drop/relabel decision of the cleaners, one row per (image, decision).

    Args:
        flags: threshold's flags.parquet: ``id``, one bool column per quality issue, ``any``.
        groups: dedup's groups.parquet: ``id``, ``kept``, ``reason``.
        label_issues: confident-learn's label_issues.parquet: ``id``, ``decision`` (keep | drop |
            relabel), ``suggested_label``, ``reason``.
        neighbour_decisions: embedding-clean's decisions.parquet, the same columns.

    Returns:
        DataFrame with ``id, action, label, reason, stage``; ``label`` is the new label for a
        relabel and -1 otherwise.
    """
    parts = []
    if flags is not None:
        issues = [c for c in flags.columns if c not in ("id", "any") and flags[c].dtype == bool]
        flagged = flags[flags[issues].any(axis=1)]
        # a list, not DataFrame.apply: on a set where nothing was flagged apply returns a frame, not reasons
        reasons = ["+".join(np.array(issues)[row]) for row in flagged[issues].to_numpy(bool)]
        parts.append(pd.DataFrame({"id": flagged["id"].to_numpy(), "action": "drop", "label": -1,
                                   "reason": pd.Series(reasons, dtype=object), "stage": "threshold"}))
    if groups is not None:
        removed = groups[~groups["kept"].astype(bool)]
        parts.append(pd.DataFrame({"id": removed["id"], "action": "drop", "label": -1,
                                   "reason": removed["reason"].astype(str), "stage": "dedup"}))
    for table, stage in ((label_issues, "confident_learn"), (neighbour_decisions, "embedding_clean")):
        if table is None:
            continue
        acted = table[table["decision"].isin(["drop", "relabel"])]
        parts.append(pd.DataFrame({
            "id": acted["id"], "action": acted["decision"],
            "label": np.where(acted["decision"] == "relabel", acted["suggested_label"], -1).astype(np.int64),
            "reason": acted["reason"].astype(str), "stage": stage,
        }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("id", "action", "label", "reason", "stage")})
    return pd.concat(parts, ignore_index=True)


def apply_decisions(rows: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Rows with the decisions applied to the train images they name.

    A drop wins over a relabel; two relabels of one image to different labels drop it (the cleaners
    disagree, so neither label is trusted). Decisions for ids outside ``rows`` (val, test, or images
    already gone) are ignored: only train images change.
    """
    decisions = decisions[decisions["id"].isin(set(rows["id"]))]
    if decisions.empty:
        return rows.copy()
    by_id = decisions.groupby("id", sort=False)
    summary = pd.DataFrame({
        "drops": by_id["action"].agg(lambda a: (a == "drop").any()),
        "labels": decisions[decisions["action"] == "relabel"].groupby("id")["label"].nunique(),
        "new_label": decisions[decisions["action"] == "relabel"].groupby("id")["label"].first(),
        "drop_reason": decisions[decisions["action"] == "drop"].groupby("id")["reason"].agg("; ".join),
        "relabel_reason": decisions[decisions["action"] == "relabel"].groupby("id")["reason"].agg("; ".join),
        "stages": by_id["stage"].agg(lambda s: "+".join(dict.fromkeys(s))),
    })
    out = rows.merge(summary, how="left", left_on="id", right_index=True)
    drop = out["drops"].eq(True) | out["labels"].gt(1)
    relabel = ~drop & out["labels"].eq(1)
    old = out["label"].astype(str)
    out.loc[drop, "reason"] = out.loc[drop, "drop_reason"].fillna("conflicting relabels")
    out.loc[relabel, "reason"] = (old + "->" + out["new_label"].astype("Int64").astype(str) + ": "
                                  + out["relabel_reason"])[relabel]
    out.loc[relabel, "label"] = out.loc[relabel, "new_label"].astype(np.int64)
    out.loc[drop, "action"] = "drop"
    out.loc[relabel, "action"] = "relabel"
    out.loc[drop | relabel, "stage"] = out.loc[drop | relabel, "stages"]
    return out.loc[:, list(rows.columns)].astype({"label": np.int64})


def write_variant(name: str, rows: pd.DataFrame, *, extra: ImageSet | None = None,
                  root: str | os.PathLike = VARIANTS_DIR) -> None:
    """Write ``<root>/<name>/rows.parquet`` (and ``extra/`` when images are added)."""
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    bad = set(rows["action"]) - set(ACTIONS)
    if bad:
        raise WinnowError(f"variant {name}: unknown action(s) {sorted(bad)}")
    if extra is not None:
        write_imageset(folder / "extra", extra.images, extra.manifest, extra.classes)
    write_table(folder / "rows.parquet", rows.loc[:, list(ROW_COLUMNS)])


def read_rows(name: str, *, root: str | os.PathLike = VARIANTS_DIR) -> pd.DataFrame:
    path = Path(root) / name / "rows.parquet"
    if not path.is_file():
        raise WinnowError(f"{path}: not found; the variants stage (or gan-synthesize for augmented) writes it")
    return pd.read_parquet(path)


def load_variant(name: str, *, root: str | os.PathLike = VARIANTS_DIR) -> tuple[ImageSet, ImageSet]:
    """(train, val) imagesets of a variant, images in memory, labels as the variant decided."""
    rows = read_rows(name, root=root)
    rows = rows[rows["action"] != "drop"]
    ingested = read_imageset(INGEST)
    sources = {"ingest": ingested, "extra": None, "degrade": None}
    parts = []
    for origin, chosen in rows.groupby("origin", sort=False):
        if sources.get(origin) is None:
            sources[origin] = read_imageset(Path(root) / name / "extra" if origin == "extra" else ORIGINS[origin])
        imageset = sources[origin]
        position = pd.Series(np.arange(len(imageset)), index=imageset.manifest["id"].to_numpy())
        missing = ~chosen["id"].isin(position.index)
        if missing.any():
            raise WinnowError(f"variant {name}: id {chosen['id'][missing].iloc[0]!r} is not in the {origin} imageset")
        part = imageset.select(position[chosen["id"]].to_numpy())
        part.manifest["label"] = chosen["label"].to_numpy(np.int64)
        parts.append(part)
    if not parts:
        raise WinnowError(f"variant {name}: every train image was dropped")
    train = ImageSet(np.concatenate([p.images for p in parts]),
                     pd.concat([p.manifest for p in parts], ignore_index=True), ingested.classes)
    return train, ingested.split("val")


def load_test() -> ImageSet:
    """The untouched test split of the ingest imageset."""
    return read_imageset(INGEST).split("test")
