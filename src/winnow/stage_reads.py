"""Checked reads of what other stages wrote: a table (:func:`read_table`) or JSON file (:func:`read_json`) that is
missing, unreadable, short of columns or keys, or holds rows of other images is refused in one line naming the stage
that writes it (:func:`rerun_error`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from winnow.errors import WinnowError, refuse_unreadable


def rerun_error(path: str | os.PathLike, problem: str, *, written_by: str) -> WinnowError:
    """The one line for an intermediate file that is missing or broken: the file, what is wrong with it and
    the stage that writes it again (its DVC name, e.g. ``threshold``, ``train@baseline``)."""
    return WinnowError(f"{path}: {problem}; rerun the {written_by} stage (dvc repro {written_by})")


def missing_cell(value) -> bool:
    """Whether a table's cell is null (None, NaN or pandas' NA, as parquet gives an empty cell back): every row check
    names such a cell as "no <column>", not as its repr ("<NA>", "nan")."""
    import pandas as pd

    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def other_pixels_error(path: str | os.PathLike, *, imageset: str, images: int, first, then, now,
                       written_by: str) -> WinnowError:
    """The one line for a table of ``images`` rows whose pixel ``digest`` is not their image's in ``imageset`` now,
    the ``first`` id's digest ``then`` (the table's) and ``now``: every reader words it so (before: the scores'
    readers said "scored from other pixels than ... (digest differs)", the cleaners' "judged other pixels ...")."""
    return rerun_error(path, f"judged other pixels than {imageset}'s now for {images} image(s) (first: id {first!r}, "
                             f"pixels {then!r} then, {now!r} now): made before degrade changed the data",
                       written_by=written_by)


def no_digests_error(path: str | os.PathLike, *, written_by: str) -> WinnowError:
    """The one line for a table of images by id that has no ``digest`` column (the pixel digest of each image it
    judged): every reader that checks the pixels words it so (the cleaners' tables and the scores alike)."""
    return rerun_error(path, "has no digest column (the pixel digest of each image it judged): made by an earlier "
                             "winnow or by hand", written_by=written_by)


# the key of the attrs in which the score stage's scores and threshold's flags record the original sizes they judged
# (sizes_record): the pixel digests leave them out, and degrade's odd_size at a size above the stored one changes a
# file's size in the manifest alone
SIZED_AT = "sized_at"


def sizes_record(manifest) -> str:
    """sha256 of each image's ``id``, original size and whether it is trusted (its size sets no fence), in id order:
    what the blurry, odd_size and odd_aspect_ratio scores of ``manifest``'s images read besides their pixels."""
    import hashlib

    import numpy as np

    ids = manifest["id"].to_numpy(dtype=str)
    order = np.argsort(ids, kind="stable")
    trusted = (manifest["split"].to_numpy() == "trusted") if "split" in manifest else np.zeros(len(manifest), bool)
    rows = np.stack([manifest["orig_h"].to_numpy(np.int64), manifest["orig_w"].to_numpy(np.int64), trusted], axis=1)
    digest = hashlib.sha256("\n".join(ids[order]).encode())
    digest.update(np.ascontiguousarray(rows[order]).tobytes())
    return digest.hexdigest()


def check_sizes(table, *, manifest, path: str | os.PathLike, written_by: str, problem: str | None = None) -> None:
    """Refuse (:func:`rerun_error`: ``problem``, default "judged other original sizes ...") a ``table`` recording other
    original sizes (:data:`SIZED_AT`) than data/degrade's ``manifest`` gives now; one recording none (by hand, an
    earlier winnow's) is read as before, its manifest's sizes unread. Those must be sizes (:func:`check_original_sizes`,
    naming degrade): before, a text size there was a ValueError traceback in each reader, a null a RuntimeWarning."""
    recorded = table.attrs.get(SIZED_AT)
    if recorded is not None:
        check_original_sizes(manifest, path="data/degrade/manifest.parquet", written_by="degrade")
        if recorded != sizes_record(manifest):
            raise rerun_error(path, problem or "judged other original sizes (orig_h, orig_w) than data/degrade's "
                                               "manifest gives now: made before degrade changed them",
                              written_by=written_by)


def read_table(path: str | os.PathLike, *, written_by: str, columns: Iterable[str] = (),
               missing_ok: bool = False, unique: str | tuple[str, ...] | None = None,
               rows_of: tuple[str, Any] | None = None,
               ids_of: tuple[str, Any] | None = None, flags: bool = False, booleans: Iterable[str] = (),
               complete: Iterable[str] = (), numbers: Iterable[str] = ()):
    """A table another stage wrote, parquet or CSV by the suffix, holding at least ``columns``.

    A missing, empty, truncated or foreign file, or one without a needed column, raises
    :func:`rerun_error`; with ``missing_ok`` an absent file gives None (its stage is optional).

    Args:
        unique: a column no two rows may share (``"id"`` for a table of one row per image): a repeated
            value would make a merge fail or a lookup by id pick one of two rows; or columns no two rows may
            share all of (``("round", "id")``: embedding-clean's rounds, one row per image and round).
        rows_of: ``(imageset, ids)``: the table must hold exactly one row per id of ``ids`` (the images of
            the imageset folder ``imageset``, named in the message) and no row for another id, in any
            order; implies ``unique="id"``. A missing image would pass unexamined, an unknown one is
            another imageset's.
        ids_of: ``(imageset, ids)``: every row names an id of ``ids`` (a table of some of the images, such
            as decisions), no row for another id.
        flags: every column but ``id`` (and ``digest``, the pixels flagged: winnow.judged_rows.with_digests) holds
            true or false in each row (threshold's flags, one column per issue and ``any``).
        booleans: the ``columns`` that hold true or false in each row (dedup's ``kept`` and ``label_conflict``):
            text "False" or a null is true to ``astype(bool)``, and 0/1 is no flag to a reader of the bool columns.
        complete: the ``columns`` that hold a value in every row (dedup's ``group``): a null is no value of its own
            to a reader, which groups or compares on it.
        numbers: the ``columns`` of numbers (a label cleaner's confidence columns), handed on as float64 (a null as
            NaN): text or true/false is another tool's column, whatever numpy makes of it.
    """
    import numpy as np
    import pandas as pd

    path = Path(path)
    if missing_ok and not path.exists():
        return None
    if not path.is_file():
        raise rerun_error(path, "not found", written_by=written_by)
    kind = "CSV" if path.suffix == ".csv" else "parquet"
    try:
        frame = pd.read_csv(path) if kind == "CSV" else pd.read_parquet(path)
    # pyarrow and pandas raise subclasses of the first two for a damaged file; the others pandas' read of damaged
    # pandas metadata (a field of the wrong kind, or left out)
    except (OSError, ValueError, TypeError, AttributeError, KeyError, IndexError) as err:
        refuse_unreadable(err, path)
        damage = None if kind == "CSV" else _metadata_damage(path, err)
        if damage is None and not isinstance(err, (OSError, ValueError)):  # not the metadata: a bug, its traceback
            raise
        raise rerun_error(path, damage or f"not a readable {kind} file ({_detail(err)})",
                          written_by=written_by) from err
    if rows_of is not None:
        unique = "id"
    keys = [] if unique is None else [unique] if isinstance(unique, str) else list(unique)
    columns = [*columns, *(key for key in keys if key not in columns)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise rerun_error(path, f"lacks column(s) {', '.join(missing)}", written_by=written_by)
    if keys:
        repeated = frame.duplicated(keys)
        if repeated.any():
            noun = ("id(s)" if keys == ["id"] else f"value(s) of {keys[0]}" if len(keys) == 1 else
                    f"row(s) of the same {' and '.join(keys)}")
            first = frame.loc[repeated, keys].iloc[0]
            raise rerun_error(path, f"{int(repeated.sum())} repeated {noun}, first " + (
                _shown(first.iloc[0]) if len(keys) == 1 else ", ".join(f"{k} {_shown(v)}" for k, v in first.items())),
                written_by=written_by)
    # before: a flags file of 0/1 (or text, or nulls) was read as flagging nothing: the label cleaners judged its
    # flagged images, which pruned then kept, and nothing was said; dedup's kept as the text "True"/"False" was read
    # as true throughout: the copies dedup removed were judged and kept
    check_flags(frame, frame.columns.drop(["id", "digest"], errors="ignore") if flags else booleans, path=path,
                written_by=written_by)
    # before: dedup's groups with a null group (a hand edit, a table joined by another tool) were read as one picture
    # of every image lacking it: 5 of 6 val images left out as its repeats, and data-valuation said to raise
    # ingest.val_fraction
    for column in complete:
        empty = frame[column].isna().to_numpy()
        if empty.any():
            first = f", first id {_shown(frame['id'][empty].iloc[0])}" if "id" in frame.columns else ""
            raise rerun_error(path, f"column {column!r} is empty in {int(empty.sum())} row(s){first}",
                              written_by=written_by)
    # before: confident-learn's label_quality as true/false ranked every decision at confidence 0 or 1 and the budget
    # chose none over top10%; as text, numpy read it as numbers
    for column in numbers:
        if not holds_numbers(frame[column].dtype):
            raise rerun_error(path, f"{column} holds {frame[column].dtype} values, not numbers", written_by=written_by)
        # handed on as float64, a nullable column's NA as NaN (missing, to every reader): before, label_quality as
        # pandas' Float64 with a NA ended the report in a TypeError ("must be real number, not NAType")
        frame[column] = frame[column].to_numpy(np.float64, na_value=np.nan)
    for given, every in ((rows_of, True), (ids_of, False)):
        problem = None if given is None else _rows_problem(frame["id"], *given, every=every)
        if problem:
            raise rerun_error(path, problem, written_by=written_by)
    return frame


def _metadata_damage(path: Path, err: Exception) -> str | None:
    """What is damaged in the pandas metadata of the parquet file at ``path`` (``pandas``: its columns; PANDAS_ATTRS:
    the records its stage keeps of how it ran, a DataFrame's attrs), whose read failed in ``err``, or None. Before,
    PANDAS_ATTRS cut or not JSON read "not a readable parquet file (Expecting value: line 1 column 6 (char 5))", and
    JSON that is no object (null, a list) stopped the reader in a TypeError, a traceback; and so did (found by a
    review) a ``pandas`` object whose fields are of another kind or left out (``"columns": 5``: TypeError, KeyError,
    AttributeError), where the file reads whole without that metadata."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return None
    for key in (b"pandas", b"PANDAS_ATTRS"):
        if key not in metadata:
            continue
        try:
            value = json.loads(metadata[key])
        except ValueError as err:
            return f"its pandas metadata ({key.decode()}) is cut or not JSON ({_detail(err)})"
        if not isinstance(value, dict):
            kind = "null" if value is None else type(value).__name__
            return f"its pandas metadata ({key.decode()}) holds a JSON {kind}, not an object"
    if b"pandas" not in metadata:
        return None
    try:
        pq.read_table(path).to_pandas(ignore_metadata=True)
    except Exception:  # noqa: BLE001 - unreadable without it too: not the metadata's fault
        return None
    return f"its pandas metadata (pandas) does not describe its columns ({type(err).__name__}: {_detail(err)})"


def check_flags(frame, columns: Iterable[str], *, path: str | os.PathLike, written_by: str) -> None:
    """Refuse (:func:`rerun_error`) a table ``frame`` read from ``path`` whose ``columns`` do not hold true or false in
    every row: text "False" or a null is true to ``astype(bool)``, and 0/1 is no flag to a reader of bool columns."""
    import pandas as pd

    for column in columns:
        values = frame[column]
        if not pd.api.types.is_bool_dtype(values) or values.isna().any():
            nulls = " with nulls" if pd.api.types.is_bool_dtype(values) else ""
            raise rerun_error(path, f"column {column!r} holds {values.dtype} values{nulls}, not true or false flags",
                              written_by=written_by)


def holds_numbers(kind) -> bool:
    """Whether a column of dtype ``kind`` holds numbers: numeric and not bool (numpy counts true/false as numbers)."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind)


def check_class_indices(frame, column: str, *, path: str | os.PathLike, written_by: str) -> None:
    """Refuse (:func:`rerun_error`) a non-empty table ``frame`` read from ``path`` whose ``column`` holds no class
    indices by its kind: text or booleans (a number there may still be no class index: the reader checks each value).
    The decision files and a variant's rows read labels so: before, a rows file's text "0.0" passed as class 0 and was a
    ValueError traceback where training cast it, and booleans were classes 0 and 1."""
    kind = frame[column].dtype
    if len(frame) and not holds_numbers(kind):
        raise rerun_error(path, f"{column} holds {kind} values, not class indices", written_by=written_by)


MAX_SIDE = 2**31 - 1  # the largest side PNG, TIFF and Pillow store (a signed 32-bit count)


def check_original_sizes(manifest, *, path: str | os.PathLike, written_by: str) -> None:
    """Refuse (:func:`rerun_error`) an imageset ``manifest`` (read from ``path``) whose ``orig_h`` and ``orig_w`` are
    not every image's whole original size, 1 to :data:`MAX_SIDE` pixels a side (the first image named): the size scores
    take their logs. The score stage reads data/degrade's so, and degrade data/ingest's, which it copies: before, a bad
    size in data/ingest was refused at score naming degrade, whose rerun copied it again, and a column of text ("x")
    was a ValueError traceback there."""
    import numpy as np

    for column in ("orig_h", "orig_w"):
        kind = manifest[column].dtype
        if not holds_numbers(kind):
            raise rerun_error(path, f"{column} holds {kind} values, not sizes in pixels", written_by=written_by)
    sizes = manifest[["orig_h", "orig_w"]].to_numpy(np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        whole = (sizes >= 1) & (sizes == np.round(sizes)) & np.isfinite(sizes)
    # before: a size of 0 or NaN ended in "orig_h and orig_w must be 30 positive sizes" (NaN after a RuntimeWarning),
    # naming neither the file nor the image, and 1e20, past the side an image file holds, in a RuntimeWarning (a cast to
    # int64) and the same line
    for bad, what in ((~whole.all(axis=1), "without a whole original size of at least 1 pixel"),
                      ((sizes > MAX_SIDE).any(axis=1), f"of an original size past {MAX_SIDE:,} pixels a side, more "
                                                       "than an image file holds")):
        if bad.any():
            first = manifest.iloc[int(np.argmax(bad))]
            raise rerun_error(path, f"{int(bad.sum())} image(s) {what}, first {first['id']!r} ({first['orig_h']} x "
                                    f"{first['orig_w']})", written_by=written_by)


def check_taught_classes(manifest, classes: list[str], *, path: str | os.PathLike, written_by: str) -> None:
    """Refuse (:func:`rerun_error`) an imageset ``manifest`` (read from ``path``, its class names ``classes``) with a
    class that has no train image, which ingest refuses (:func:`winnow.ingest.check_classes`): the degrade stage reads
    data/ingest so. Before, such a data/ingest (written by hand, or before ingest refused it) degraded without a word
    into a class no classifier learns, or, with one class taught, was blamed on the damage ("only class 'a' keeps train
    images after the damage; ... so remove or subsample fewer") where degrade was off."""
    import numpy as np

    labels = manifest["label"].to_numpy(np.int64)
    taught = np.bincount(labels[manifest["split"].to_numpy() == "train"], minlength=len(classes))
    empty = np.flatnonzero(taught == 0)
    if len(empty):
        elsewhere = int((labels == empty[0]).sum())
        which = f"no train images ({elsewhere} in other splits)" if elsewhere else "no images"
        raise rerun_error(path, f"class {classes[empty[0]]!r} has {which}, which ingest refuses ({len(empty)} such "
                                "class(es) in all)", written_by=written_by)


def _rows_problem(table_ids, imageset: str, ids, *, every: bool) -> str | None:
    """What keeps ``table_ids`` from naming only ids of ``ids`` (imageset ``imageset``'s) and, with ``every``,
    each of them once, or None."""
    import pandas as pd

    known = pd.Index(ids)
    present = pd.Index(table_ids)
    extra = table_ids[~present.isin(known)].drop_duplicates()
    absent = known[~known.isin(present)] if every else known[:0]
    problems = []
    if len(extra):
        problems.append(f"{len(extra)} id(s) not in {imageset}, first {_shown(extra.iloc[0])}")
    if len(absent):
        problems.append(f"no row for {len(absent)} image(s) of {imageset}, first {_shown(absent[0])}")
    return ", and ".join(problems) or None


def _shown(value: Any) -> str:
    """A value for a message: ``'img-3'`` or ``7``, not ``np.int64(7)``."""
    return repr(value.item() if type(value).__module__ == "numpy" else value)


def read_json(path: str | os.PathLike, *, written_by: str, keys: Iterable[str] = (), missing_ok: bool = False):
    """JSON another stage wrote; with ``keys``, an object holding at least those keys. Failures as
    :func:`read_table`."""
    path = Path(path)
    if missing_ok and not path.exists():
        return None
    if not path.is_file():
        raise rerun_error(path, "not found", written_by=written_by)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        refuse_unreadable(err, path)
        raise rerun_error(path, f"not a readable JSON file ({_detail(err)})", written_by=written_by) from err
    keys = list(keys)
    if keys and not isinstance(value, dict):
        raise rerun_error(path, f"holds a JSON {type(value).__name__}, not an object", written_by=written_by)
    missing = [k for k in keys if k not in value]
    if missing:
        raise rerun_error(path, f"lacks key(s) {', '.join(missing)}", written_by=written_by)
    return value


def _detail(err: Exception) -> str:
    """The first line of a reader's error, without the path it repeats (``... source '<path>': why``)."""
    lines = str(err).strip().splitlines()
    return (lines[0].split("': ", 1)[-1] if lines else type(err).__name__)[:160]
