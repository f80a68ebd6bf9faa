"""The tables the data contracts (``contracts/*.yaml``) validate, built without Great Expectations.

- :func:`ingest_table`: one row per ingested image, the manifest plus the image shape and two set-wide
  class counts;
- the scores table is ``data/score/scores.parquet`` as the score stage wrote it;
- :func:`variant_table`: one row per training variant, the rates its contract bounds.

The cleaners' measurements (:func:`measurements`) all describe ``data/degrade``: threshold flags, dedup
groups and confident-learn issues were computed on its pixels and labels. A measurement applies to a
variant's row only when the row shows the same pixels (same ``id`` and pixel ``digest``), so the oracle
(the undamaged train split) is measured on its unperturbed images and a GAN image is not measured at all; a
balance copy is measured as the image it was made from (:func:`measured_as`). A label issue applies only
while the row keeps the label confident-learn judged: a relabelled image, or the oracle's true label of a
flipped image, is measured and not an issue, and so is an image a person reviewed and kept at that label
(its row's stage ends in ``review``, :func:`winnow.verdicts.apply_verdicts`). Rates are shares of
the kept rows that were measured, and null when nothing was measured (the contract then fails).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VARIANT_RATES = ("duplicate_rate", "label_issue_rate", "flagged_rate", "class_balance", "completeness")


def class_counts(labels: pd.Series, *, num_classes: int) -> np.ndarray:
    """int64 ``(num_classes,)``: images per class, 0 for a class with none; labels outside the range ignored."""
    labels = pd.to_numeric(labels, errors="coerce")
    valid = labels[labels.between(0, num_classes - 1) & (labels % 1 == 0)].astype(np.int64)
    return np.bincount(valid.to_numpy(), minlength=num_classes)


def balance(counts: np.ndarray) -> float:
    """Smallest class count over the largest (1 = balanced, 0 = a class is empty or there are no images)."""
    return float(counts.min() / counts.max()) if len(counts) and counts.max() > 0 else 0.0


def ingest_table(manifest: pd.DataFrame, *, image_shape: tuple[int, ...], num_classes: int) -> pd.DataFrame:
    """The ingest contract's table.

    Args:
        manifest: ``data/ingest/manifest.parquet`` as read, without the imageset's own validation (the
            contract reports what is wrong instead of stopping at the first problem).
        image_shape: the shape of ``images.npy``, ``(N, H, W, C)``.
        num_classes: the length of ``classes.json``.

    Returns:
        The manifest with ``height``, ``width``, ``channels`` (from ``image_shape``, the same on every row),
        ``smallest_class_train_images`` and ``class_balance`` (over the train split, repeated on every row).
    """
    _, height, width, channels = image_shape
    counts = class_counts(manifest.loc[manifest["split"] == "train", "label"], num_classes=num_classes)
    return manifest.assign(height=height, width=width, channels=channels,
                           smallest_class_train_images=int(counts.min()) if num_classes else 0,
                           class_balance=balance(counts))


def measurements(
    manifest: pd.DataFrame, *, flags: pd.DataFrame | None, groups: pd.DataFrame | None,
    label_issues: pd.DataFrame | None,
) -> pd.DataFrame:
    """What the cleaners measured, one row per image of ``data/degrade``.

    Args:
        manifest: ``data/degrade/manifest.parquet`` (``id``, ``digest``).
        flags: threshold's ``flags.parquet`` (``id``, ``any``), or None when missing.
        groups: dedup's ``groups.parquet`` (``id``, ``split``, ``group``), or None when missing.
        label_issues: confident-learn's ``label_issues.parquet`` (``id``, ``given_label``, ``is_issue``; only
            the images it judged), or None when missing.

    Returns:
        ``id, digest, flagged, group, copies_eval, given_label, is_issue``; ``copies_eval`` is True when the
        image's dedup group holds a val, test or trusted image. A column is all null when its input is None;
        ``given_label`` and ``is_issue`` are null for images confident-learn did not judge.
    """
    out = manifest.loc[:, ["id", "digest"]].reset_index(drop=True)
    out["flagged"] = _lookup(out["id"], flags, "any")
    out["group"] = _lookup(out["id"], groups, "group")
    if groups is not None:
        groups = groups.assign(copies_eval=groups["group"].isin(groups.loc[groups["split"] != "train", "group"]))
    out["copies_eval"] = _lookup(out["id"], groups, "copies_eval")
    out["given_label"] = _lookup(out["id"], label_issues, "given_label")
    out["is_issue"] = _lookup(out["id"], label_issues, "is_issue")
    return out


def _lookup(ids: pd.Series, table: pd.DataFrame | None, column: str) -> pd.Series:
    if table is None:
        return pd.Series(None, index=ids.index, dtype=object)
    return table.set_index("id")[column].reindex(ids).astype(object).reset_index(drop=True)


def variant_table(name: str, rows: pd.DataFrame, *, measured: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    """The variant contract's table: one row of rates for variant ``name``.

    Args:
        rows: the variant's ``rows.parquet`` (``id, label, action, stage``) plus ``digest``, the digest of the
            pixels the row trains on (null when its image is missing from its origin imageset).
        measured: :func:`measurements`.
        num_classes: the length of ``classes.json``.

    Returns:
        One row: ``variant``, the :data:`VARIANT_RATES` (each in [0, 1], null when not measured),
        ``kept_images`` and ``measured_share`` (kept rows the cleaners looked at, a balance copy through the image it
        was made from: :func:`measured_as`):

        - ``duplicate_rate``: kept rows in a dedup group holding another kept row or a val/test image (a
          train copy of an evaluation image is a duplicate too: it flatters the score that image gives; a balance
          copy is one where the image it was made from is, not of that image, which it is there to copy);
        - ``label_issue_rate``: judged kept rows confident-learn calls an issue, still under the judged label and
          not reviewed (a person who kept the image at that label checked it);
        - ``flagged_rate``: kept rows with any threshold flag;
        - ``class_balance``: the smallest class's kept count over the largest's;
        - ``completeness``: kept rows with a label in range and an existing image.
    """
    kept = rows[rows["action"] != "drop"].reset_index(drop=True)
    labels = pd.to_numeric(kept["label"], errors="coerce")
    valid_label = labels.between(0, num_classes - 1) & (labels % 1 == 0)
    looked_at = measured_as(kept, rows).merge(measured, on=["id", "digest"], how="left", indicator=True)
    seen = looked_at[looked_at["_merge"] == "both"]
    grouped = seen[seen["group"].notna()]
    # the kept images of the row's group other than its own (a copy's own: the image it was made from). Before, a
    # copy counted only an evaluation image, so the copies of a kept image another kept image duplicates were no
    # duplicates (the default run: 47 of 435), and balanced's duplicate rate read 0.089 beside pruned's 0.101
    originals = grouped.loc[~grouped["copy"], ["group", "id"]]
    others = grouped["group"].map(originals.groupby("group").size()).fillna(0) - grouped["id"].isin(originals["id"])
    judged = seen[seen["given_label"].notna()]
    # numbers compared as numbers: a label column written as text ("1") trains as 1 (read_rows), and compared as
    # text it matched no given label, so the rate read 0.0 and the check passed
    issues = judged["is_issue"].astype(bool) & (pd.to_numeric(judged["label"], errors="coerce").to_numpy()
                                                == judged["given_label"].astype(np.int64).to_numpy())
    # a person kept it at the label doubted: checked, not an issue. Before, under enforce a pruned variant whose every
    # doubted image a person kept counted each as an issue, and its contract could never pass
    issues &= ~judged["reviewed"].astype(bool)
    return pd.DataFrame([{
        "variant": name,
        "duplicate_rate": _share((others > 0) | grouped["copies_eval"].astype(bool)),
        "label_issue_rate": _share(issues),
        "flagged_rate": _share(seen.loc[seen["flagged"].notna(), "flagged"].astype(bool)),
        "class_balance": balance(class_counts(kept["label"], num_classes=num_classes)),
        "completeness": _share(valid_label & kept["digest"].notna()),
        "kept_images": len(kept),
        "measured_share": _share(looked_at["_merge"] == "both"),
    }])


def measured_as(kept: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``id, digest, label, copy, reviewed`` of each of the ``kept`` rows (of ``rows``, :func:`with_digests`'s) as
    the cleaners measured it; ``reviewed``: a person's verdict holds for the image (its ``stage`` ends in ``review``).
    A balance copy (a row with a ``source_id``) is measured as the image it was made from, and reviewed as it,
    under its own label: augmenting keeps a dark image dark and a wrong label wrong, and before, its copies were
    not measured at all, so the balanced variant's rates were pruned's though it copies its far-from-centre
    images, flagged and doubted ones among them, the most (the default run: 37 of 435 copies of flagged
    images, 82 of label issues, each rate read as pruned's)."""
    key = kept.loc[:, ["id", "digest", "label"]].assign(copy=kept["source_id"].notna(),
                                                        reviewed=_reviewed(kept["stage"]))
    made_from = kept.loc[key["copy"], "source_id"]
    originals = rows[rows["source_id"].isna()].drop_duplicates("id").set_index("id")
    key.loc[key["copy"], "id"] = made_from
    key.loc[key["copy"], "digest"] = originals["digest"].reindex(made_from).to_numpy()
    key.loc[key["copy"], "reviewed"] = _reviewed(originals["stage"]).reindex(made_from).fillna(False).to_numpy(bool)
    return key


def _reviewed(stage: pd.Series) -> pd.Series:
    """True where a row's ``stage`` says a person's verdict holds for it: ``review`` (overruling the cleaners) or
    ``<stages>+review`` (confirming them)."""
    return stage.astype(str).str.contains(r"(?:^|\+)review$")


def _share(mask: pd.Series) -> float | None:
    """The share of True values, or None for an empty selection (nothing was measured)."""
    return float(mask.mean()) if len(mask) else None


def with_digests(rows: pd.DataFrame, *, manifests: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """``rows`` plus ``digest``: the pixel digest of each row's image in its ``origin`` imageset.

    Args:
        rows: a variant's ``rows.parquet`` (``id``, ``origin``, ...).
        manifests: origin (``ingest``, ``degrade``, ``extra``) -> that imageset's manifest (``id``, ``digest``).

    Returns:
        A copy of ``rows`` with ``digest``, null where the origin or the id is unknown (a missing image), and
        ``source_id``: the image a balance copy was made from (its manifest's ``source_id``), else null.
    """
    digest = pd.Series(None, index=rows.index, dtype=object)
    source = pd.Series(None, index=rows.index, dtype=object)
    for origin, manifest in manifests.items():
        here = rows["origin"] == origin
        by_id = manifest.set_index("id")
        digest[here] = by_id["digest"].reindex(rows.loc[here, "id"]).to_numpy()
        if "source_id" in by_id:
            source[here] = by_id["source_id"].reindex(rows.loc[here, "id"]).to_numpy()
    return rows.assign(digest=digest, source_id=source)
