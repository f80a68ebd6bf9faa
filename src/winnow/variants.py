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
  person's verdicts (``reviews/verdicts.csv``, :func:`apply_verdicts`) in place of them where given;
- ``augmented``: pruned plus generated images (written by gan-synthesize).

Every variant validates on the val split and is evaluated on the test split of ``data/ingest``,
which no stage changes; decisions only ever touch train rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.configs import CLEANERS
from winnow.errors import WinnowError, first_line, listed
from winnow.imageset import ImageSet, read_imageset, write_imageset
from winnow.stage import read_table, rerun_error, write_table

INGEST, DEGRADE, VARIANTS_DIR = "data/ingest", "data/degrade", "data/variants"
ORIGINS = {"ingest": INGEST, "degrade": DEGRADE}
ROW_COLUMNS = ("id", "origin", "label", "action", "reason", "stage")
ACTIONS = ("keep", "drop", "relabel", "add")
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
# a person's verdicts (git-tracked, written by `winnow review import`, :mod:`winnow.review`): per image, what
# they said and the label it trains with afterwards (-1: dropped). accept = the cleaners' suggestion,
# reject = the given label, relabel = a class the person chose, drop = out whatever the suggestion was
VERDICTS_FILE = "reviews/verdicts.csv"
# label: the class the image trains with, -1 dropped; suggested: what accepting did when the person judged it
# (-1 drop, else the class), so the verdict word can be checked against the outcome without the review queue;
# given: the class the image had when the person judged it (a verdict holds only while that is its label)
# given: the label the person saw; digest: the pixels they saw (imageset ``digest``), so that a verdict never
# lands on another picture filed under the same id
VERDICT_COLUMNS = ("id", "verdict", "label", "suggested", "given", "digest")
VERDICTS = ("accept", "reject", "relabel", "drop")


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


def read_cleaner_tables(cleaners, *, extra_columns: dict[str, tuple[str, ...]] | None = None,
                        ids=None) -> dict[str, pd.DataFrame]:
    """The decision files of ``cleaners`` (names in :data:`DECISION_FILES`), read and checked, as
    :func:`cleaner_decisions` keyword arguments; ``extra_columns``: per cleaner, columns needed besides
    those :func:`cleaner_decisions` reads; ``ids``: data/degrade's ids (read from it when None).

    threshold's flags and dedup's groups must hold one row per image of data/degrade
    (:func:`winnow.stage.read_table` ``rows_of``), a label cleaner's decisions one row per image it judged,
    each an image of data/degrade: a repeated row would count one image's decision twice (or two different
    ones), a missing one would pass it unexamined, an unknown one is another data version's.

    Raises:
        WinnowError: one line naming the file and the stage that writes it again.
    """
    unknown = sorted(set(cleaners) - set(CLEANERS))
    if unknown:
        raise WinnowError(f"pruned.cleaners: unknown {unknown}; choose from {', '.join(CLEANERS)}")
    if cleaners and ids is None:
        ids = read_imageset(DEGRADE).manifest["id"]
    tables = {}
    for cleaner in cleaners:
        path, stage, argument, columns = DECISION_FILES[cleaner]
        columns = (*columns, *(extra_columns or {}).get(cleaner, ()))
        if argument in PER_IMAGE:
            tables[argument] = read_table(path, written_by=stage, columns=columns, rows_of=(DEGRADE, ids))
        else:
            tables[argument] = read_table(path, written_by=stage, columns=columns, unique="id",
                                          ids_of=(DEGRADE, ids))
    return tables


def read_decisions(path: str | os.PathLike, *, written_by: str, num_classes: int, ids) -> pd.DataFrame:
    """A file of :func:`cleaner_decisions` rows (``id, action, label, reason, stage``), checked: every id an
    image of data/degrade (``ids``; another id means decisions of another data version), every action drop or
    relabel and every relabel a class index in ``[0, num_classes)``."""
    decisions = read_table(path, written_by=written_by, columns=("id", "action", "label", "reason", "stage"),
                           ids_of=(DEGRADE, ids))
    bad = ~decisions["action"].isin(["drop", "relabel"])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise rerun_error(path, f"row {row} has action {decisions['action'].iloc[row]!r}, not drop or relabel",
                          written_by=written_by)
    labels = pd.to_numeric(decisions["label"], errors="coerce")
    relabel = (decisions["action"] == "relabel").to_numpy()
    bad = relabel & (labels.isna() | (labels < 0) | (labels >= num_classes) | (labels % 1 != 0)).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise rerun_error(path, f"row {row} relabels to {decisions['label'].astype(object).iloc[row]!r}, not a class "
                                f"index in [0, {num_classes - 1}]", written_by=written_by)
    return decisions


def apply_decisions(rows: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Rows with the decisions applied to the train images they name.

    A drop wins over a relabel; two relabels of one image to different labels drop it (the cleaners
    disagree, so neither label is trusted). Decisions for ids outside ``rows`` (val and test images) are
    ignored: only train images change. An id the data lacks is refused where the decisions are read
    (:func:`read_cleaner_tables`, :func:`read_decisions`).
    """
    decisions = decisions[decisions["id"].isin(set(rows["id"]))]
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


def check_same_classes(degraded: ImageSet, ingested: ImageSet) -> None:
    """Refuse a data/degrade whose classes are not data/ingest's (another data set's, or another order):
    oracle's labels are ingest's, the others degrade's, and a report would count one set's classes under the
    other's names."""
    if degraded.classes != ingested.classes:
        raise rerun_error(f"{DEGRADE}/classes.json", f"its classes ({listed(degraded.classes)}) differ from "
                          f"{INGEST}/classes.json's ({listed(ingested.classes)})", written_by="degrade")


def read_verdicts(path: str | os.PathLike, *, baseline: pd.DataFrame, digests: pd.Series,
                  num_classes: int) -> pd.DataFrame:
    """A person's verdicts (:data:`VERDICT_COLUMNS`), checked against ``baseline`` (the train rows) and
    ``digests`` (str pixel digests indexed by id, the imageset's): every verdict one of :data:`VERDICTS`,
    every label and suggestion a class index or -1, the label the person saw (``given``) still the image's
    label and the pixels they saw (``digest``) still its pixels, the suggestion not that label, accept with the suggestion, drop with
    -1 and relabel with a class (neither the suggestion), reject with the image's given label, every id a
    train image, once. An absent file holds no verdict.

    Returns:
        DataFrame ``id`` (str), ``verdict`` (str), ``label``, ``suggested``, ``given`` (int64), in file order.
    """
    path = Path(path)
    empty = pd.DataFrame({"id": pd.Series(dtype=object), "verdict": pd.Series(dtype=object),
                          **{column: pd.Series(dtype=np.int64) for column in ("label", "suggested", "given")},
                          "digest": pd.Series(dtype=object)})
    fix = "write it with `winnow review import`, or restore the header-only file from git"
    if not path.exists():
        return empty
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:  # pandas' parser and decoding errors are ValueErrors
        raise WinnowError(f"{path}: not a readable CSV file ({first_line(err)[:160]}); {fix}") from err
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the first field for an index: one field too many
        raise WinnowError(f"{path}: its lines hold more fields than the header ({', '.join(frame.columns)}); {fix}")
    missing = [c for c in VERDICT_COLUMNS if c not in frame.columns]
    if missing and set(missing) <= {"suggested", "given", "digest"}:  # written before verdicts recorded these
        raise WinnowError(f"{path}: lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)} (written by "
                          "an older winnow); import the reviewed file again with `winnow review import --replace "
                          "FILE`, which writes it anew")
    if missing:
        raise WinnowError(f"{path}: lacks column(s) {', '.join(missing)} (needs {', '.join(VERDICT_COLUMNS)}); {fix}")
    given = pd.Series(baseline["label"].to_numpy(np.int64), index=baseline["id"].to_numpy())
    labels, suggestions, saw = (pd.to_numeric(frame[c], errors="coerce") for c in ("label", "suggested", "given"))
    for row, (image, verdict, label, text, suggested, suggested_text, seen, seen_text, digest) in enumerate(zip(
            frame["id"], frame["verdict"], labels, frame["label"], suggestions, frame["suggested"], saw,
            frame["given"], frame["digest"])):
        where = f"{path}: line {row + 2} (id {image!r})"
        if verdict not in VERDICTS:
            raise WinnowError(f"{where}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}; {fix}")
        for column, value, shown in (("label", label, text), ("suggested", suggested, suggested_text)):
            if not (value % 1 == 0 and -1 <= value < num_classes):  # NaN fails
                raise WinnowError(f"{where}: {column} {shown!r} is not a class index in [0, {num_classes - 1}] or -1 "
                                  f"(dropped); {fix}")
        if not (seen % 1 == 0 and 0 <= seen < num_classes):
            raise WinnowError(f"{where}: given {seen_text!r} is not a class index in [0, {num_classes - 1}]; {fix}")
        if image not in given.index:
            raise WinnowError(f"{where}: not a train image of data/degrade; the data changed since the review: "
                              "export and review again, or remove the line")
        # another degrade seed or source changed the label: the verdict was about the label the person saw
        if seen != given[image]:
            raise WinnowError(f"{where}: its label was {seen_text} when reviewed and is {given[image]} in data/degrade "
                              "now; the verdict was for the label the person saw: export and review again, or "
                              "remove the line")
        # another degrade seed, or a file replaced under its name: the same id and label, another picture
        if digest != digests[image]:
            raise WinnowError(f"{where}: its pixels changed since the review (digest {digest!r} then, "
                              f"{digests[image]!r} in data/degrade now); the verdict was for the picture the person "
                              "saw: export and review again, or remove the line")
        if suggested == given[image]:  # by hand, or the label changed to the suggestion since the review
            raise WinnowError(f"{where}: suggested {suggested_text} is its label in data/degrade; a suggestion drops "
                              "or relabels: if the data changed since the review, export and review again, or "
                              "remove the line")
        # the verdict word says what the outcome is: the suggestion's outcome is accept, whatever word it took
        if verdict != "accept" and label == suggested:
            raise WinnowError(f"{where}: verdict {verdict} with label {text} is its suggestion: write accept; {fix}")
        expected = {"drop": label == -1, "relabel": label >= 0 and label != given[image],
                    "reject": label == given[image], "accept": label == suggested}[verdict]
        if not expected:
            want = {"drop": "-1", "relabel": f"a class index other than its given label {given[image]}",
                    "reject": f"its given label {given[image]}", "accept": f"its suggestion {suggested_text}"}[verdict]
            raise WinnowError(f"{where}: verdict {verdict} needs the label {want}, not {text}; {fix}")
    twice = frame["id"].duplicated()
    if twice.any():
        raise WinnowError(f"{path}: line {int(np.flatnonzero(twice)[0]) + 2}: id {frame['id'][twice].iloc[0]!r} "
                          f"has a verdict already; keep one line per image")
    return frame.loc[:, list(VERDICT_COLUMNS)].assign(label=labels.astype(np.int64), suggested=suggestions.astype(
        np.int64), given=saw.astype(np.int64)).reset_index(drop=True)


def refuse_kept_leaks(verdicts: pd.DataFrame, decisions: pd.DataFrame, *, where: str) -> None:
    """One line when a verdict keeps an image that ``decisions`` (the budget's) drop as dedup's ``leak``: a
    train copy of a val or test image is never trained on, whatever a person or the budget says, or the test
    would score an image the model learnt."""
    leaks = set(decisions.loc[(decisions["stage"] == "dedup") & (decisions["reason"] == "leak"), "id"])
    kept = verdicts[verdicts["id"].isin(leaks) & (verdicts["label"] != -1)]
    if len(kept):
        first = kept.iloc[0]
        raise WinnowError(f"{where}: id {first['id']!r}: verdict {first['verdict']} keeps a train copy of a val or "
                          "test image (dedup: leak), which pruned always drops: the test would score an image the "
                          "model learnt; write drop or accept for it, or remove the verdict")


def apply_verdicts(rows: pd.DataFrame, verdicts: pd.DataFrame, *,
                   baseline: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows with a person's verdicts in place of the automatic decisions for the images they name.

    A verdict's label -1 drops the image, its given label (from ``baseline``, the rows before any decision,
    same order as ``rows``) keeps it, another class relabels it. A verdict whose outcome is what the
    decisions already did **confirms** them (the row keeps its reason, ``review:<verdict>`` added); any
    other **overrules** them (stage ``review``).

    Returns:
        (rows, counts): counts ``verdicts``, ``confirmed``, ``overruled`` and ``relabelled_by_person`` (class
        verdicts: the person chose the label), the ``review`` entry of metrics/variants.json.
    """
    by_id = verdicts.set_index("id")
    verdict = rows["id"].map(by_id["verdict"])
    reviewed = verdict.notna().to_numpy()
    out = rows.copy()
    label = rows["id"].map(by_id["label"]).fillna(-2).to_numpy(np.int64)
    given = baseline["label"].to_numpy(np.int64)
    automatic = np.where(rows["action"] == "drop", -1, rows["label"].to_numpy(np.int64))
    confirmed = reviewed & (label == automatic)
    overruled = reviewed & ~confirmed
    note = np.array([f"review:{v}" for v in verdict.astype(object).fillna("")], dtype=object)  # no verdict: NaN floats
    reasons, stages = rows["reason"].to_numpy(object), rows["stage"].to_numpy(object)
    out.loc[confirmed, "reason"] = [f"{r}; {n}" if r else n for r, n in zip(reasons[confirmed], note[confirmed])]
    out.loc[confirmed, "stage"] = [f"{s}+review" if s else "review" for s in stages[confirmed]]
    action = np.where(label == -1, "drop", np.where(label == given, "keep", "relabel"))
    out.loc[overruled, "action"] = action[overruled]
    out.loc[overruled, "label"] = np.where(label == -1, given, label)[overruled]
    out.loc[overruled, "reason"] = [f"{g}->{l}: {n}" if a == "relabel" else n for g, l, a, n in zip(
        given[overruled], label[overruled], action[overruled], note[overruled])]
    out.loc[overruled, "stage"] = "review"
    counts = {"verdicts": int(reviewed.sum()), "confirmed": int(confirmed.sum()), "overruled": int(overruled.sum()),
              "relabelled_by_person": int((verdict == "relabel").sum())}
    return out.astype({"label": np.int64}), counts


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
        raise WinnowError(f"variant {name}: the decisions leave class {classes[label]!r} no train image (all "
                          f"{had[label]} dropped or relabelled: {by_stage}); check those decisions or leave the "
                          "stage out of pruned.cleaners")


def read_rows(name: str, *, root: str | os.PathLike = VARIANTS_DIR, num_classes: int | None = None) -> pd.DataFrame:
    """A variant's ``rows.parquet``, checked: :data:`ROW_COLUMNS`, known actions and origins, one row per
    image and, given ``num_classes``, labels in ``[0, num_classes)``."""
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
    if num_classes is not None:
        labels = pd.to_numeric(rows["label"], errors="coerce")
        bad = labels.isna() | (labels < 0) | (labels >= num_classes) | (labels % 1 != 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            label = rows["label"].astype(object).iloc[row]
            raise rerun_error(path, f"row {row} has label {label!r}, not a class index in [0, {num_classes - 1}]",
                              written_by=written_by)
    return rows


def _rows_file(name: str, root: str | os.PathLike) -> tuple[Path, str]:
    """A variant's rows.parquet and the stage that writes it."""
    return Path(root) / name / "rows.parquet", WRITTEN_BY.get(name, "variants")


def load_variant(name: str, *, root: str | os.PathLike = VARIANTS_DIR) -> tuple[ImageSet, ImageSet]:
    """(train, val) imagesets of a variant, images in memory, labels as the variant decided."""
    ingested = read_imageset(INGEST)
    rows = read_rows(name, root=root, num_classes=len(ingested.classes))
    check_kept(name, rows, classes=ingested.classes)
    path, written_by = _rows_file(name, root)
    sources = {"ingest": ingested}
    parts = []
    for origin, chosen in rows.loc[loaded_order(rows)].groupby("origin", sort=False):
        if origin not in sources:
            sources[origin] = read_imageset(Path(root) / name / "extra" if origin == "extra" else ORIGINS[origin])
        imageset = sources[origin]
        position = pd.Series(np.arange(len(imageset)), index=imageset.manifest["id"].to_numpy())
        missing = ~chosen["id"].isin(position.index)
        if missing.any():
            raise rerun_error(path, f"image {chosen['id'][missing].iloc[0]!r} is not in the {origin} imageset",
                              written_by=written_by)
        part = imageset.select(position[chosen["id"]].to_numpy())
        part.manifest["label"] = chosen["label"].to_numpy(np.int64)
        parts.append(part)
    train = ImageSet(np.concatenate([p.images for p in parts]),
                     pd.concat([p.manifest for p in parts], ignore_index=True), ingested.classes)
    return train, ingested.split("val")


def loaded_order(rows: pd.DataFrame) -> np.ndarray:
    """The index labels of the rows :func:`load_variant` returns as train images, in its order: the kept
    rows grouped by origin (origins in order of first appearance), each group in row order."""
    kept = rows[rows["action"] != "drop"]
    return np.concatenate([group.index.to_numpy() for _, group in kept.groupby("origin", sort=False)])


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
