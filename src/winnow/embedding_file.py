"""The ``file`` source's reader (issue 18): embeddings a user brings, a ``.npy`` in manifest order (its rows'
ids checked against an ``ids.json`` beside it) or a ``.parquet`` keyed by ``id`` (a ``digest`` column checked
against the pixels), read by :func:`read_embedding_file` into numeric ``(N, D)`` rows in manifest order. What is
stored then passes :func:`winnow.embedding_checks.checked`.

Every refusal is one line naming the file (``where``) and the first image it concerns.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from winnow.embedding_checks import shown
from winnow.errors import WinnowError, first_line, limits_met, out_of_memory
from winnow.output_paths import check_input_file
from winnow.npy_rows import data_bytes


def read_embedding_file(path: str | os.PathLike, ids: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """Numeric ``(N, D)`` values, row ``i`` for ``ids[i]``, from a ``.npy`` of shape ``(N, D)`` whose rows
    follow the manifest already, or a ``.parquet`` with an ``id`` column and either one list column
    ``embedding`` (other columns then ignored) or numeric feature columns (nullable and decimal ones too, without a
    missing value), in any row order; the id may be the parquet's index, or one level of it (the other named levels
    are columns then, unnamed ones left out). A parquet's optional ``digest``
    column must hold ``digests`` (``(N,)``, the manifest's pixel digests of ``ids``). Finiteness, the scale, the
    float32 cast and the checks of what is stored are :func:`embed_imageset`'s."""
    path = Path(path)
    where = f"represent.file: {path}"
    if path.is_dir() and _holds_parts(path):
        # before: "is a folder, not a file; write the embeddings there or point represent.file at them" of a parquet
        # dataset of part files (as Spark, Dask or pyarrow.dataset write one), which held them already
        raise WinnowError(f"{where} is a folder of parquet part files (a dataset, as Spark or Dask write one), and "
                          "represent reads one file; gather it into one: pandas.read_parquet(folder).to_parquet(file), "
                          "and point represent.file at that file")
    check_input_file(path, option="represent.file", fix="write the embeddings there or point represent.file "
                                                              "at them")
    # the suffix in any case (a Windows tool's EMB.NPY), and parquet's short .pq (before: "unknown format '.NPY'; write
    # a .npy", of a .npy); winnow.source_listing finds a .npy's ids.json by the same rule
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:  # mapped, not read: a damaged header claiming terabytes is an error, not an allocation
            values = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:  # EOFError: an empty file
            if out_of_memory(err):  # the map past `ulimit -v` (ENOMEM): the process's fault, not the file's
                raise
            objects = _object_dtype(path)
            if objects is not None:  # before: "unreadable as .npy (Array can't be memory-mapped: ...)", and no way out
                raise WinnowError(f"{where}: holds Python objects (dtype {objects}), not numbers, and a pickle is never "
                                  "loaded; save the features as numbers: np.save(path, "
                                  "np.stack(features).astype(np.float32))") from err
            raise WinnowError(f"{where}: unreadable as .npy ({first_line(err)})") from err
        if not isinstance(values, np.ndarray):  # np.load reads a .npz archive whatever the file's name
            names = ", ".join(values.files)
            values.close()
            raise WinnowError(f"{where}: a .npz archive (arrays: {names or 'none'}), not one .npy array; save the "
                              "(N, D) array with np.save")
        held, needed = data_bytes(path, values.shape, values.dtype, values.offset)
        if held != needed:  # before: a header cut to D/2 was read as twice the rows, each half of a real one
            raise WinnowError(f"{where}: holds {held:,} bytes but its header's shape {values.shape} needs "
                              f"{needed:,}; the header does not describe the data: save the (N, D) array again "
                              "with np.save")
        if values.ndim != 2:
            raise WinnowError(f"{where}: shape {values.shape}; embeddings must be a 2-D array (N images, D)")
        if len(values) != len(ids):
            raise WinnowError(f"{where}: {len(values)} rows but the imageset has {len(ids)} images; a .npy needs one "
                              "row per image in manifest order (or write a .parquet with an id column)")
        _check_row_ids(path, ids, where)
        _warn_pixels_unchecked(where)
    elif suffix in (".parquet", ".pq"):
        values = _parquet_rows(path, ids, where, digests)
    else:
        raise WinnowError(f"{where}: unknown format {path.suffix!r}; write a .npy (rows in manifest order) or a "
                          ".parquet or .pq (an id column)")
    if values.dtype.kind == "c":
        raise WinnowError(f"{where}: values are complex ({values.dtype}); embeddings must be real numbers")
    if values.dtype.kind not in "iuf":
        raise WinnowError(f"{where}: values are {values.dtype}, not numbers; embeddings must be numeric")
    if values.shape[1] == 0:
        raise WinnowError(f"{where}: no feature values (D = 0); each image needs at least one number")
    return values


def _object_dtype(path: Path) -> np.dtype | None:
    """The dtype a ``.npy``'s header names when it holds Python objects (which np.save pickles), else None (a header
    that cannot be read included)."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with open(path, "rb") as handle:
            reader = readers.get(np.lib.format.read_magic(handle))
            dtype = reader(handle)[2] if reader else None
    except (ValueError, OSError, EOFError, SyntaxError):
        return None
    return dtype if dtype is not None and dtype.hasobject else None


def _holds_parts(folder: Path, *, looked_at: int = 10_000) -> bool:
    """Whether ``folder`` holds parquet files among its first ``looked_at`` entries, or a partition folder among them
    does (``part=0``, as pandas' partition_cols and Spark's partitionBy write: before, told it was no dataset); no other
    folder is walked (the home folder given by mistake)."""
    try:
        with os.scandir(folder) as entries:
            return any(entry.name.lower().endswith((".parquet", ".pq"))
                       or "=" in entry.name and entry.is_dir() and _holds_parts(Path(entry.path), looked_at=looked_at)
                       for entry in itertools.islice(entries, looked_at))
    except OSError:  # unreadable: check_input_file's line
        return False


def _check_row_ids(path: Path, ids: np.ndarray, where: str) -> None:
    """A .npy holds no ids: its rows are taken in the manifest's order, which a change to degrade (its seed, its
    perturbations) reorders at the same count, so the rows then describe other images. ``ids.json`` beside it (the
    ids in row order, as represent writes ``data/represent/ids.json``) is checked against the manifest; without
    one, a warning says what is assumed."""
    listed_path = path.with_name("ids.json")
    if not listed_path.is_file():
        print(f"warning: {where}: no ids.json beside it, so its rows are taken in data/degrade/manifest.parquet's "
              "order, which a change to degrade (its seed, its perturbations) reorders without a word; write the ids "
              "in row order to ids.json beside it (as data/represent/ids.json), or a .parquet with an id column")
        return
    try:
        listed = json.loads(listed_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise WinnowError(f"{where}: {listed_path} is not a JSON list of ids ({first_line(err)})") from err
    if not isinstance(listed, list) or len(listed) != len(ids):
        count = f"{len(listed)} ids" if isinstance(listed, list) else type(listed).__name__
        raise WinnowError(f"{where}: {listed_path} holds {count} for {len(ids)} rows; it lists the ids in row order")
    # before: the first repeat was named as a row made for another manifest (degrade's seed or perturbations changed),
    # though the manifest had not changed: the user's file holds two rows for one image and none for another
    named = pd.Series([str(i) for i in listed])
    repeated = np.flatnonzero(named.duplicated().to_numpy())
    if len(repeated):
        first = int(np.flatnonzero(named == named[repeated[0]])[0])
        raise WinnowError(f"{where}: {listed_path} holds {len(repeated)} repeated id(s), first "
                          f"{shown(listed[repeated[0]])} (rows {first} and {repeated[0]}); one row per image")
    # before: ids the imageset does not hold (row numbers 0, 1, ... written for ids, another data set's) were named as
    # rows of a manifest that degrade had since reordered, and the user told its seed or perturbations had changed
    foreign = np.flatnonzero(~named.isin(pd.Index(ids).astype(str)).to_numpy())
    if len(foreign):
        raise WinnowError(f"{where}: {listed_path} holds {len(foreign)} id(s) not in the imageset, first "
                          f"{shown(listed[foreign[0]])} (row {foreign[0]}); list the id of each row as "
                          f"data/degrade/manifest.parquet names its image (e.g. {shown(ids[0])}), or embed the "
                          "imageset's images")
    differ = next((row for row, (a, b) in enumerate(zip(listed, ids)) if str(a) != str(b)), None)
    if differ is not None:
        raise WinnowError(f"{where}: row {differ} is {listed[differ]!r} in {listed_path.name} but {ids[differ]!r} in "
                          "data/degrade/manifest.parquet: the file was made for another manifest (degrade's seed or "
                          "perturbations changed); write it again for this one")


_BOOKKEEPING = {"label", "labels", "target", "targets", "class", "classes", "category", "categories", "y", "split",
                "index", "row", "row_number", "row_id", "idx"}
# words that make a longer name bookkeeping too: class_id, category_id, targetIdx, image_index (not y: umap_y)
_BOOKKEEPING_WORDS = _BOOKKEEPING - {"y"}


def _bookkeeping_column(name: str, values: pd.Series) -> bool:
    """Whether a parquet column named ``name`` is a label, split or row number rather than a feature. A name
    such as ``y`` or ``class`` (or one with such a word, ``class_id``) is also a coordinate's (a 2-D map's x and
    y) or a feature's: such a column reads as bookkeeping only while its values could be one, whole numbers or
    text; ``label`` always does."""
    lowered = name.lower()
    if "label" in lowered or lowered.startswith(("unnamed", "__index_level")):
        return True
    # before: only the bare names were seen, so a class_id or category_id column (COCO's) became a feature, and the
    # label cleaners judged each label partly by the label itself
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()))
    if lowered not in _BOOKKEEPING and not words & _BOOKKEEPING_WORDS:
        return False
    if not pd.api.types.is_float_dtype(values):
        return True
    whole = values.dropna().to_numpy(dtype=np.float64)
    return bool(np.all(whole == np.round(whole)))


def _warn_pixels_unchecked(where: str) -> None:
    """The warning a file without a ``digest`` column owes: its rows are tied to images by id alone, and degrade
    rerun with another seed or perturbations keeps the ids but not the pixels under them, so rows made for the old
    pixels are read as the new ones' (data/represent/made_from.json then records the new pixels as if embedded)."""
    print(f"warning: {where}: no digest column says which pixels each row was made from, so rows made before a change "
          "to degrade (its seed or perturbations: the same ids, other pixels) are read as the images now; write a "
          ".parquet with data/degrade/manifest.parquet's digest column beside id to have them checked")


def _parquet_rows(path: Path, ids: np.ndarray, where: str, digests: np.ndarray) -> np.ndarray:
    """The parquet's features reordered to ``ids``, after checking that its ids are exactly those."""
    try:
        frame = _parquet_frame(path)
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        if limits_met(err):  # pyarrow's ArrowMemoryError, or a reader thread refused: not the file's fault
            raise
        raise WinnowError(f"{where}: unreadable as parquet ({first_line(err)})") from err
    # written by df.set_index("id").to_parquet(), or with id one level of several (set_index(["id", "crop"])): every
    # named level a column again, as written (before, of the latter: "no id column; the rows must say which image they
    # describe"). An unnamed level is left out, as a one-level unnamed index is: reset_index called it level_1 and
    # read its row numbers as a feature
    if "id" not in frame.columns and "id" in frame.index.names:
        frame = frame.reset_index(level=[name for name in frame.index.names if name is not None])
    if "id" not in frame.columns:
        raise WinnowError(f"{where}: no id column; the rows must say which image they describe "
                          f"(columns: {', '.join(map(str, frame.columns[:5]))})")
    # before: a null id was named as an id not in the imageset ("first nan"; embed the imageset's images), and two
    # as a repeated id, where the file's rows lack the id itself
    unnamed = np.flatnonzero(frame["id"].isna().to_numpy())
    if len(unnamed):
        raise WinnowError(f"{where}: {len(unnamed)} row(s) have no id (null), first row {unnamed[0]} (counted from 0); "
                          "each row needs the id of the image it describes, as data/degrade/manifest.parquet names "
                          f"it (e.g. {shown(ids[0])})")
    repeated = frame["id"][frame["id"].duplicated()]
    if len(repeated):
        raise WinnowError(f"{where}: {len(repeated)} repeated id(s), first {shown(repeated.iloc[0])}; one row "
                          "per image")
    extra = frame["id"][~frame["id"].isin(ids)]
    if len(extra):
        raise WinnowError(f"{where}: {len(extra)} id(s) not in the imageset, first {shown(extra.iloc[0])}; "
                          "embed the imageset's images (ids as in data/degrade/manifest.parquet, e.g. "
                          f"{shown(ids[0])})")
    missing = ids[~pd.Index(ids).isin(frame["id"])]
    if len(missing):
        raise WinnowError(f"{where}: {len(missing)} image(s) of the imageset have no row, first {shown(missing[0])}; "
                          "every image of every split needs an embedding")
    frame = frame.set_index("id").loc[ids]
    if "digest" in frame.columns:  # the pixels each row was made from: degrade rerun keeps ids, not their pixels
        given = frame.pop("digest").to_numpy()
        width = len(str(digests[0]))  # pixel_digest: hex digits, as many for every image
        # before: a digest of the user's own (a file's sha256) or a missing one read as pixels since changed, and the
        # line said to embed the images again, which left the column as it was
        foreign = np.array([not isinstance(d, str) or not re.fullmatch(f"[0-9a-f]{{{width}}}", d) for d in given])
        if foreign.any():
            first = np.argmax(foreign)
            raise WinnowError(f"{where}: {int(foreign.sum())} row(s) hold a digest unlike "
                              f"data/degrade/manifest.parquet's ({width} hex digits), first id {shown(ids[first])} "
                              f"({shown(given[first])}); the digest column copies the manifest's, to say which "
                              "pixels each row was made from: copy it there, or leave the column out")
        stale = given.astype(str) != np.asarray(digests, dtype=str)
        if stale.any():  # before: refused as "column 'digest' is object, not numbers", and never compared
            raise WinnowError(f"{where}: {int(stale.sum())} image(s) now hold other pixels than their row's digest, "
                              f"first id {shown(ids[np.argmax(stale)])}: the file was made for another data/degrade "
                              "(its seed or perturbations changed); embed those images again")
    else:
        _warn_pixels_unchecked(where)
    if "embedding" in frame.columns:
        _refuse_embedding_type(schema.field("embedding").type, where)
        cells = frame["embedding"].to_numpy()
        missing = np.flatnonzero([cell is None for cell in cells])  # a null list cell (pyarrow gives None)
        if len(missing):  # before: a null first cell blamed the next image for having values
            raise WinnowError(f"{where}: {len(missing)} embedding(s) are missing (null), first id "
                              f"{shown(ids[missing[0]])}; every image of every split needs an embedding")
        lengths = np.array([np.size(cell) for cell in cells])
        odd = np.flatnonzero(lengths != lengths[0])
        if len(odd):
            raise WinnowError(f"{where}: the embedding of id {shown(ids[odd[0]])} has {lengths[odd[0]]} values "
                              f"where id {shown(ids[0])} has {lengths[0]}; every embedding needs the same length")
        if lengths[0] == 0:  # before: "values are object, not numbers"
            raise WinnowError(f"{where}: the embedding column holds empty lists (D = 0); each image needs at least "
                              "one number")
        return np.stack([np.asarray(cell) for cell in cells])  # (N, D): one flat list of numbers per cell
    bookkeeping = [c for c in frame.columns if _bookkeeping_column(str(c), frame[c])]
    if bookkeeping:  # a label beside the features would let the label cleaners judge labels by themselves
        # before: a feature of whole numbers named with such a word (ndvi_index as int16, MODIS's scaled NDVI) was
        # told to 'write only id and the features', which it was, and not how to keep it
        raise WinnowError(f"{where}: column {bookkeeping[0]!r} reads as a label, split or row index, not a feature: "
                          "the embedding would carry what the label cleaners judge; write only id and the features "
                          "(a feature of whole numbers: rename it without label, class, category, target, split, "
                          "index, row or idx)")
    odd = [c for c in frame.columns
           if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    if odd:
        raise WinnowError(f"{where}: column {odd[0]!r} is {frame[odd[0]].dtype}, not numbers; besides id, give "
                          "numeric feature columns or one list column named embedding")
    gaps = frame.isna()  # pd.NA in a nullable column, NaN in a float one
    if gaps.any().any():
        column = gaps.columns[gaps.any().to_numpy()][0]
        raise WinnowError(f"{where}: column {column!r} has {int(gaps[column].sum())} missing value(s), first id "
                          f"{shown(ids[np.argmax(gaps[column].to_numpy())])}; every image needs every feature")
    # float64, not to_numpy(): nullable (Int64, Float64) columns beside others would give an object array
    return frame.to_numpy(dtype=np.float64)


def _parquet_frame(path: Path) -> pd.DataFrame:
    """The parquet at ``path`` as a frame, its pandas index made the index again. Where the record pandas wrote in the
    file names a dtype pandas cannot build again (a list column of pyarrow's dtype, ``list<item: double>[pyarrow]``,
    which pandas 3 writes and cannot read back), the columns are read as arrow holds them, without that record.
    Before: "unreadable as parquet (data type 'list<item: double>[pyarrow]' not understood)" of a whole file whose
    embedding column pyarrow reads, with nothing to do about it.

    Decimal columns (a database's numeric type), and lists of decimals, are read as float64: before, refused as
    "object, not numbers"."""
    decimals = [field.name for field in pq.read_schema(path) if _holds_decimals(field.type)]
    table = pq.read_table(path) if decimals else None
    for name in decimals:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, _decimals_as_floats(table.column(at)))
    try:
        return pd.read_parquet(path) if table is None else table.to_pandas()
    except TypeError as err:
        if "not understood" not in str(err):
            raise
    table = pq.read_table(path) if table is None else table
    record = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    names = {column.get("field_name"): column.get("name") for column in record.get("columns", [])}
    index = [name for name in record.get("index_columns", []) if isinstance(name, str) and name in table.column_names]
    frame = table.to_pandas(ignore_metadata=True)
    if index:  # df.set_index("id") as "id", an index of no name as __index_level_0__: the index, as pandas reads it
        frame = frame.set_index(index)
        frame.index.names = [names.get(name, name) for name in index]
    return frame


def _holds_decimals(kind: pa.DataType) -> bool:
    """Whether a column of arrow type ``kind`` holds decimals, or lists of them, also dictionary-encoded."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_decimal(kind) or _is_list(kind) and pa.types.is_decimal(kind.value_type)


def _decimals_as_floats(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` (decimals, or lists of them) as float64 (or lists of float64), each the nearest to its decimal, as
    ``float(decimal.Decimal)`` gives it: through its text, because arrow's own decimal-to-float cast is an ulp off for
    about a third of decimal128(10, 4)'s values, and Decimal objects cost a Python object each (a 8,068 x 512
    embedding: 14 s, against 1.6 s of floats)."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if _is_list(kind):
        if pa.types.is_fixed_size_list(kind):
            return column.cast(pa.list_(pa.string(), kind.list_size)).cast(pa.list_(pa.float64(), kind.list_size))
        listed = pa.large_list if pa.types.is_large_list(kind) else pa.list_
        return column.cast(listed(pa.string())).cast(listed(pa.float64()))
    return column.cast(pa.string()).cast(pa.float64())


def _refuse_embedding_type(kind: pa.DataType, where: str) -> None:
    """One line unless a parquet's ``embedding`` column, of arrow type ``kind``, holds one flat list of numbers
    per image: a list, large list or fixed-size list of integers or floats. Lists of nulls (empty lists, or
    lists of missing values) and a column of nulls pass, for the lines on empty and missing embeddings.

    Before: a struct or decimal per image (a Python dict or Decimal to numpy) ended in an IndexError
    traceback, and text ("1,2") was refused as one number per image."""
    if pa.types.is_dictionary(kind):  # a pandas categorical: its values' type is what the cells hold
        kind = kind.value_type
    fix = "it must hold one list of numbers per image (or write each feature as a numeric column)"
    if _is_list(kind):
        inner = kind.value_type
        if _is_list(inner):  # pyarrow would give an array of arrays per cell
            raise WinnowError(f"{where}: the embedding column holds a list of lists per image; flatten each image's "
                              "features to one list of numbers")
        if not (pa.types.is_integer(inner) or pa.types.is_floating(inner) or pa.types.is_decimal(inner)
                or pa.types.is_null(inner)):
            raise WinnowError(f"{where}: the embedding column holds lists of {_type_name(inner)} per image, not of "
                              f"numbers; {fix}")
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        raise WinnowError(f"{where}: the embedding column holds one number per image; {fix}")
    elif not pa.types.is_null(kind):
        raise WinnowError(f"{where}: the embedding column holds one {_type_name(kind)} value per image, not a list of "
                          f"numbers; {fix}")


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)


def _type_name(kind: pa.DataType) -> str:
    """An arrow type for a message: ``text`` for either string type, and ``struct``, not ``struct<x: double, ...>``."""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):  # pandas writes large_string
        return "text"
    return str(kind).split("<")[0]
