"""Data set versions, assembled from imagesets plus decision files, never by editing data in place.

A variant is a folder ``data/variants/<name>/`` holding ``rows.parquet``, one row per train image
the variant considered (:data:`ROW_COLUMNS`): where its pixels live (``origin``: ``ingest``,
``degrade`` or ``extra``), the label it trains with, and what was decided about it and why. Images
a variant adds (GAN samples) travel in an imageset ``extra/`` inside the folder, so a variant is
self-contained and training never depends on the stage that produced the additions.

- ``oracle``: the train split before degrade (the undamaged reference; needs degrade on);
- ``baseline``: the train split as degrade left it (for a user's own data: as it came in);
- ``pruned``: baseline with the drop and relabel decisions the budget stage chose among those of the
  cleaners in ``pruned.cleaners`` (``data/budget/decisions.parquet``, :mod:`winnow.budget`), then a
  person's verdicts (``reviews/verdicts.csv``, :func:`winnow.verdicts.apply_verdicts`) in place of them
  where given;
- ``augmented``: pruned plus generated images (written by gan-synthesize).

Every variant validates on the val split and is evaluated on the test split of ``data/ingest``,
which no stage changes; decisions only ever touch train rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.configs import CLEANERS
from winnow.errors import WinnowError
from winnow.imageset import ImageSet, read_imageset, write_imageset
from winnow.origin_checks import INGEST, ORIGINS, PIXELS, check_origin_rows, check_same_classes
from winnow.stage import write_table
from winnow.stage_reads import check_class_indices, missing_cell, read_table, rerun_error

VARIANTS_DIR = "data/variants"
ROW_COLUMNS = ("id", "origin", "label", "action", "reason", "stage")
ACTIONS = ("keep", "drop", "relabel", "add")
# the versions built on pruned: a class the cleaners (or a person's verdicts) emptied is missing from each of them too
FROM_PRUNED = ("pruned", "augmented", "balanced")
# the variants other stages write; every other one is written by the variants stage
WRITTEN_BY = {"augmented": "gan-synthesize", "balanced": "balance"}
# per cleaner (pruned.cleaners): its decision file, the stage writing it, the cleaner_decisions argument it
# fills and the columns cleaner_decisions reads from it
DECISION_FILES = {
    "threshold": ("data/threshold/flags.parquet", "threshold", "flags", ("id", "any")),
    "dedup": ("data/dedup/groups.parquet", "dedup", "groups", ("id", "kept", "reason")),
    "confident_learn": ("data/confident-learn/label_issues.parquet", "confident-learn", "label_issues",
                        ("id", "decision", "suggested_label", "reason")),
    "embedding_clean": ("data/embedding-clean/decisions.parquet", "embedding-clean", "neighbour_decisions",
                        ("id", "decision", "suggested_label", "reason")),
    "data_valuation": ("data/data-valuation/decisions.parquet", "data-valuation", "valuation_decisions",
                       ("id", "decision", "suggested_label", "reason")),
}
assert tuple(DECISION_FILES) == CLEANERS  # one list of cleaners: winnow.configs.CLEANERS
# the decision files of one row per image of data/degrade (the rest: one per train image their cleaner judged)
PER_IMAGE = ("flags", "groups")
# the key of pruned's rows' attrs (the parquet file's metadata) recording the pruned.cleaners it was made of
MADE_AMONG = "cleaners"
# the key of balanced's rows' attrs recording the settings and data/ingest balance made it of (winnow.built_on)
MADE_OF = "made_of"


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


def write_variant(name: str, rows: pd.DataFrame, *, extra: ImageSet | None = None,
                  root: str | os.PathLike = VARIANTS_DIR, cleaners: list[str] | None = None,
                  pixels: pd.DataFrame | None = None, made_of: dict[str, str] | None = None) -> None:
    """Write ``<root>/<name>/rows.parquet`` (and ``extra/`` when images are added); ``cleaners``: the pruned.cleaners
    whose decisions the rows apply, recorded in the file (:data:`MADE_AMONG`, :func:`check_made_among`) unless None;
    ``made_of``: what else the rows were made of, recorded in the file (:data:`MADE_OF`) unless None;
    ``pixels``: the ``id`` and ``digest`` of the images of data/degrade or data/ingest the rows were decided on,
    recorded in a column of their rows (:data:`PIXELS`, :func:`check_origin_rows`) unless None."""
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    bad = set(rows["action"]) - set(ACTIONS)
    if bad:
        raise WinnowError(f"variant {name}: unknown action(s) {sorted(bad)}")
    if extra is not None:
        write_imageset(folder / "extra", extra.images, extra.manifest, extra.classes)
    written = rows.loc[:, list(ROW_COLUMNS)]
    if cleaners is not None:
        written.attrs = {**written.attrs, MADE_AMONG: sorted(cleaners)}
    if made_of is not None:
        written.attrs = {**written.attrs, MADE_OF: dict(made_of)}
    if pixels is not None:  # of the images of an imageset (not of extra, whose rows name its own)
        digests = pd.Series(pixels["digest"].to_numpy(object), index=pixels["id"].astype(str).to_numpy())
        written[PIXELS] = written["id"].astype(str).map(digests).where(written["origin"] != "extra").astype(object)
    write_table(folder / "rows.parquet", written)


def check_made_among(rows: pd.DataFrame, *, cleaners: list[str], name: str = "pruned",
                     root: str | os.PathLike = VARIANTS_DIR) -> None:
    """Refuse a variant's ``rows`` (:func:`read_rows`) made of the decisions of other pruned.cleaners than
    ``cleaners`` (params.yaml's now), where they record theirs (:data:`MADE_AMONG`): a reader of pruned.cleaners took
    them for the rows of the cleaners it lists. Before: after data_valuation was taken out of pruned.cleaners and the
    report run alone (dvc repro -s report), the page said its drops were applied by none but on another cleaner's
    decision or a person's verdict, where pruned dropped them on its own."""
    then = rows.attrs.get(MADE_AMONG)
    path, written_by = _rows_file(name, root)
    if then is not None and not (isinstance(then, list) and all(isinstance(item, str) for item in then)):
        # before: a record of another kind (its metadata rewritten by another tool) was read as no record, unchecked
        raise rerun_error(path, f"records cleaners {json.dumps(then)[:40]}, not a list of cleaners",
                          written_by=written_by)
    if then is not None and sorted(then) != sorted(cleaners):
        raise rerun_error(path, f"made of the decisions of pruned.cleaners {', '.join(then) or 'none'}, but "
                                f"params.yaml lists {', '.join(sorted(cleaners)) or 'none'} now", written_by=written_by)


def check_kept(name: str, rows: pd.DataFrame, *, before: pd.DataFrame | None = None,
               classes: list[str]) -> None:
    """Raise :class:`WinnowError` when variant ``name`` keeps no train image, or when its decisions leave a
    class without any that ``before`` (the rows the decisions were applied to, same order) had.

    A class already absent from ``before`` (removed on purpose by degrade's class_removal) is no error.
    """
    kept = rows["action"] != "drop"
    if not kept.any():
        cause = (f"its decisions drop all {len(rows)} train images" if len(rows)
                 else "the train split it is taken from is empty")
        raise WinnowError(f"variant {name}: no train image left ({cause}); a model cannot be trained on it")
    if before is None:
        return
    had = np.bincount(before["label"].to_numpy(np.int64), minlength=len(classes))
    has = np.bincount(rows.loc[kept, "label"].to_numpy(np.int64), minlength=len(classes))
    lost = np.flatnonzero((had > 0) & (has == 0))
    if len(lost):
        label = lost[0]
        taken = rows[(before["label"].to_numpy() == label) & (rows["action"] != "keep").to_numpy()]
        by_stage = ", ".join(f"{stage} {n}" for stage, n in taken.groupby("stage").size().items())
        # a person's verdicts among them (stage review, or <cleaner>+review where they confirmed a decision)
        advice = ("check those decisions and verdicts" if taken["stage"].str.contains("review").any()
                  else "check those decisions or leave the stage out of pruned.cleaners")
        raise WinnowError(f"variant {name}: the decisions leave class {classes[label]!r} no train image (all "
                          f"{had[label]} dropped or relabelled: {by_stage}); {advice}")


def read_rows(name: str, *, root: str | os.PathLike = VARIANTS_DIR, num_classes: int | None = None,
              imagesets: dict[str, ImageSet] | None = None) -> pd.DataFrame:
    """A variant's ``rows.parquet``, checked: :data:`ROW_COLUMNS`, known actions and origins, one row per
    image, given ``num_classes`` labels in ``[0, num_classes)``, and given ``imagesets`` (origin of :data:`ORIGINS`
    -> its imageset) its rows of those origins their train images as they label them (:func:`winnow.origin_checks.check_origin_rows`)."""
    path, written_by = _rows_file(name, root)
    rows = read_table(path, written_by=written_by, columns=ROW_COLUMNS)
    for column, known in (("action", ACTIONS), ("origin", (*ORIGINS, "extra"))):
        bad = ~rows[column].isin(known)
        if bad.any():
            raise rerun_error(path, f"row {int(np.flatnonzero(bad)[0])} has {column} {rows[column][bad].iloc[0]!r}, "
                                    f"not one of {', '.join(known)}", written_by=written_by)
    twice = rows.duplicated(["origin", "id"])
    if twice.any():
        raise rerun_error(path, f"image {rows['id'][twice].iloc[0]!r} has more than one row", written_by=written_by)
    # text or booleans as the decision files' labels are: before, text "0.0" passed and was a ValueError traceback where
    # training cast it, and booleans were told "made from another degrade"
    check_class_indices(rows, "label", path=path, written_by=written_by)
    if num_classes is not None:
        _check_labels(rows, num_classes, path=path, written_by=written_by)
    imagesets = imagesets or {}
    splits = None if "ingest" not in imagesets else imagesets["ingest"].manifest.set_index("id")["split"]
    for origin, imageset in imagesets.items():
        check_origin_rows(rows, origin, imageset, splits=splits, path=path, written_by=written_by)
    return rows


def _check_labels(rows: pd.DataFrame, num_classes: int, *, path: Path, written_by: str) -> None:
    """Refuse ``rows`` whose labels are not class indices in ``[0, num_classes)``."""
    labels = pd.to_numeric(rows["label"], errors="coerce")
    bad = labels.isna() | (labels < 0) | (labels >= num_classes) | (labels % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        label = rows["label"].astype(object).iloc[row]
        # a gap as no label: before, "row 1 has label <NA>" (a nullable column) or "label nan" (a float one)
        raise rerun_error(path, f"row {row} has {'no label' if missing_cell(label) else f'label {label!r}'}, not a "
                                f"class index in [0, {num_classes - 1}]", written_by=written_by)


def _rows_file(name: str, root: str | os.PathLike) -> tuple[Path, str]:
    """A variant's rows.parquet and the stage that writes it."""
    return Path(root) / name / "rows.parquet", WRITTEN_BY.get(name, "variants")


def load_variant(name: str, *, root: str | os.PathLike = VARIANTS_DIR,
                 rows: pd.DataFrame | None = None) -> tuple[ImageSet, ImageSet]:
    """(train, val) imagesets of a variant, images in memory, labels as the variant decided. ``rows``: the variant's
    rows as the caller read them (:func:`read_rows`), to load the images of (their labels checked here against
    data/ingest's classes); None: read here. A stage that writes rows made of the variant's (balance, gan-synthesize)
    passes the rows it writes: read again after its work (minutes), they were those of a pruned the variants stage had
    rewritten meanwhile, written beside copies of the images loaded before.

    Refused in one line naming the stage to rerun: an imageset of other image shapes or classes
    (:func:`winnow.origin_checks.check_same_classes`) than data/ingest, and rows that name an image data/ingest puts in val or test, keep an
    image at another label than its imageset gives it, or lack a train image of it: what a stage run by hand (or by dvc
    repro -s) meets after the stages before it reran only in part."""
    ingested = read_imageset(INGEST)
    if rows is None:
        rows = read_rows(name, root=root, num_classes=len(ingested.classes))
    else:
        _check_labels(rows, len(ingested.classes), path=_rows_file(name, root)[0], written_by=_rows_file(name, root)[1])
    check_kept(name, rows, classes=ingested.classes)
    sources = _sources(name, rows, ingested, root=root)
    parts = []
    for origin, chosen in rows.loc[loaded_order(rows)].groupby("origin", sort=False):
        imageset = sources[origin]
        part = imageset.select(pd.Index(imageset.manifest["id"]).get_indexer(chosen["id"]))
        labels = chosen["label"].to_numpy(np.int64)
        part.manifest["label"] = labels
        parts.append(part)
    train = ImageSet(np.concatenate([p.images for p in parts]),
                     pd.concat([p.manifest for p in parts], ignore_index=True), ingested.classes)
    return train, ingested.split("val")


def _sources(name: str, rows: pd.DataFrame, ingested: ImageSet, *, root: str | os.PathLike) -> dict[str, ImageSet]:
    """The imageset of each origin of variant ``name``'s kept ``rows`` (memory-mapped: no image copied), checked as
    :func:`load_variant` and :func:`learnt_ids` read them: of data/ingest's image shape and classes, and the rows
    their train images as they label them (:func:`winnow.origin_checks.check_origin_rows`)."""
    path, written_by = _rows_file(name, root)
    sources = {"ingest": ingested}
    splits = pd.Series(ingested.manifest["split"].to_numpy(), index=ingested.manifest["id"].to_numpy())
    for origin in rows.loc[loaded_order(rows), "origin"].unique():
        if origin not in sources:
            folder = Path(root) / name / "extra" if origin == "extra" else Path(ORIGINS[origin])
            sources[origin] = read_imageset(folder)
            # an imageset made from an earlier ingest (ingest.size or the class folders changed, then a stage run by
            # hand or by dvc repro -s): before, other shapes were a traceback (numpy's concatenate, or the model's first
            # val batch), other classes were the rows' class indices read silently against data/ingest's names
            stage = written_by if origin == "extra" else origin
            shape, expected = sources[origin].images.shape[1:], ingested.images.shape[1:]
            if shape != expected:
                raise rerun_error(folder, f"images are {'x'.join(map(str, shape))}, {INGEST}'s are "
                                          f"{'x'.join(map(str, expected))}: made from another ingest", written_by=stage)
            check_same_classes(sources[origin], ingested, where=folder, written_by=stage)
        check_origin_rows(rows, origin, sources[origin], splits=splits, path=path, written_by=written_by)
    return sources


def loaded_order(rows: pd.DataFrame) -> np.ndarray:
    """The index labels of the rows :func:`load_variant` returns as train images, in its order: the kept
    rows grouped by origin (origins in order of first appearance), each group in row order."""
    kept = rows[rows["action"] != "drop"]
    return np.concatenate([group.index.to_numpy() for _, group in kept.groupby("origin", sort=False)])


def learnt_ids(name: str, *, root: str | os.PathLike = VARIANTS_DIR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ids ``(M,)`` of the images train@<name> learns from or chooses its epoch on, their labels ``(M,)`` and their
    pixel digests ``(M,)``, as :func:`load_variant` gives them: its kept rows' and data/ingest's val split's. Reads the
    manifests and copies no image; rows it would refuse are refused alike (:func:`check_kept`, :func:`_sources`)."""
    ingested = read_imageset(INGEST)
    rows = read_rows(name, root=root, num_classes=len(ingested.classes))
    # as load_variant refuses them: before, rows that drop every image were a ValueError traceback in loaded_order
    check_kept(name, rows, classes=ingested.classes)
    # and rows of another ingest or degrade (an image it no longer holds, or labels otherwise): before, named as a
    # model that learnt other pixels, "rerun train@<v>", which then refused the rows themselves
    sources = _sources(name, rows, ingested, root=root)
    rows = rows.loc[loaded_order(rows)]
    val = ingested.manifest[ingested.manifest["split"] == "val"]
    digests = pd.Series("", index=rows.index, dtype=object)
    for origin, chosen in rows.groupby("origin", sort=False):
        manifest = sources[origin].manifest
        digests[chosen.index] = chosen["id"].map(manifest.set_index("id")["digest"]).to_numpy()
    return (np.concatenate([rows["id"].to_numpy(str), val["id"].to_numpy(str)]),
            np.concatenate([rows["label"].to_numpy(np.int64), val["label"].to_numpy(np.int64)]),
            np.concatenate([digests.to_numpy(str), val["digest"].to_numpy(str)]))


def val_ids() -> np.ndarray:
    """The ids ``(V,)`` of data/ingest's val split as it is now: what every variant's training chooses its epoch on
    (:func:`load_variant`'s val), for :func:`winnow.checkpoints.load`'s ``chose_on``."""
    manifest = read_imageset(INGEST).manifest
    return manifest.loc[manifest["split"] == "val", "id"].to_numpy(str)


def loaded_ids(train: ImageSet, val: ImageSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`learnt_ids` of the images :func:`load_variant` gave (``train``, ``val``), taken from them: what a stage
    that learns from them records, of the images it loaded and not of the files as they are later."""
    return (np.concatenate([train.manifest["id"].to_numpy(str), val.manifest["id"].to_numpy(str)]),
            np.concatenate([train.labels, val.labels]).astype(np.int64),
            np.concatenate([train.manifest["digest"].to_numpy(str), val.manifest["digest"].to_numpy(str)]))


def variant_argument(argv: list[str], *, stage: str, variants: list[str]) -> str:
    """The one variant a per-variant stage (``<stage>@<variant>`` in dvc.yaml) was started with, checked
    against params.yaml's ``variants`` before any data is read: a wrong name would otherwise surface as a
    missing rows.parquet or model, pointing at the wrong stage.

    Args:
        argv: the stage's arguments (``sys.argv[1:]``).
        stage: the stage's name, for the message.
        variants: params.yaml's ``variants``.
    """
    known = ", ".join(variants)
    if len(argv) != 1:
        got = "none" if not argv else f"{len(argv)}: {' '.join(argv)}"
        raise WinnowError(f"{stage}: takes one argument, the variant (got {got}); run "
                          f"python stages/{stage}.py <variant> with one of params.yaml variants ({known})")
    if argv[0] not in variants:
        raise WinnowError(f"{stage} {argv[0]}: {argv[0]!r} is not one of params.yaml variants ({known}); "
                          "choose one of them, or add it to variants")
    return argv[0]


def load_test() -> ImageSet:
    """The untouched test split of the ingest imageset."""
    return read_imageset(INGEST).split("test")
