"""Hostile inputs to the nearest-neighbour and embedding code, probe 79:

- a user's ``.npy`` of float64 subnormal values (about 1e-310): represent scaled them by 2**1030 and recorded the
  factor as infinity (metrics/represent.json held ``"scale": Infinity``, which is no JSON; "values stored times
  inf"), exit 0; now one line.
- a user's parquet whose id is null in a row: named "an id not in the imageset, first nan" with the advice to embed
  the imageset's images, and two such rows "a repeated id, first nan"; now named as rows without an id.
- a user's parquet of decimal feature columns (a database's numeric type): refused as "column 'f0' is object, not
  numbers", and an embedding column of decimal lists as "not of numbers"; now read as the numbers they are.
- a user's parquet whose id is one level of a several-level index (``df.set_index(["id", "f0"])``): refused as "no id
  column; the rows must say which image they describe"; now every level is a column again, as a one-level id index is.
"""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_represent import ids, separable
from test_hostile_represent_65 import _project, _represent


@pytest.mark.hostile("represent")
def test_a_users_embedding_of_float64_subnormal_numbers_is_one_line_not_a_scale_of_infinity(tmp_path, monkeypatch,
                                                                                          capsys):
    project = _project(tmp_path, source="file", file="mine.npy", knn_k=5)
    np.save(project / "mine.npy", separable().astype(np.float64) * 1e-310)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line.startswith("error: represent.file: mine.npy: the embeddings are float64 subnormal numbers (median row "
                           "length ")
    assert line.endswith("below float64's smallest normal number 2.2e-308), which hold fewer digits, and the factor "
                         "that would bring them near 1 is beyond float64; save the features as the model gave them, "
                         "not scaled down")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_users_embedding_just_above_float64s_normal_numbers_is_still_stored_near_unit_norm(tmp_path, monkeypatch,
                                                                                            capsys):
    project = _project(tmp_path, source="file", file="mine.npy", knn_k=5)
    np.save(project / "mine.npy", separable().astype(np.float64) * 2.0 ** -1000)  # normal: its factor 2**1000 fits
    done = _represent(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    stored = np.load(project / "data/represent/embeddings.npy")
    # a power of two alone: the file's own values back, bit for bit, times 2**1000
    np.testing.assert_array_equal(stored, separable())


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("nulls", [[5], [5, 9]], ids=["one", "two"])
def test_a_parquet_row_without_an_id_is_named_so(tmp_path, monkeypatch, capsys, nulls):
    # before: "1 id(s) not in the imageset, first nan; embed the imageset's images ...", and of two null ids
    # "1 repeated id(s), first nan; one row per image"
    project = _project(tmp_path, source="file", file="mine.parquet", knn_k=5)
    named = [None if row in nulls else name for row, name in enumerate(ids())]
    pq.write_table(pa.table({"id": pa.array(named, pa.string()),
                             "embedding": pa.array(separable().tolist(), pa.list_(pa.float32()))}),
                   project / "mine.parquet")
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == (f"error: represent.file: mine.parquet: {len(nulls)} row(s) have no id (null), first row 5 (counted "
                    "from 0); each row needs the id of the image it describes, as data/degrade/manifest.parquet names "
                    "it (e.g. 'img-0')")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("layout", ["columns", "list"])
def test_a_parquet_of_decimal_features_is_read_as_numbers(tmp_path, monkeypatch, capsys, layout):
    # before: "error: represent.file: mine.parquet: column 'f0' is object, not numbers; ...", and of an embedding
    # column of decimal lists "... holds lists of decimal128 per image, not of numbers"
    project = _project(tmp_path, source="file", file="mine.parquet", knn_k=5)
    features = np.round(separable().astype(np.float64), 4)  # four decimal places: exact as decimal128(10, 4)
    exact = [[decimal.Decimal(f"{v:.4f}") for v in row] for row in features]
    columns = ({f"f{j}": pa.array([row[j] for row in exact], pa.decimal128(10, 4)) for j in range(features.shape[1])}
               if layout == "columns" else {"embedding": pa.array(exact, pa.list_(pa.decimal128(10, 4)))})
    pq.write_table(pa.table({"id": pa.array(ids().tolist()), **columns}), project / "mine.parquet")
    done = _represent(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(project / "data/represent/embeddings.npy"), features.astype(np.float32))


@pytest.mark.hostile("represent")
def test_a_parquet_whose_id_is_one_level_of_its_index_is_read_by_id(tmp_path, monkeypatch, capsys):
    # before: "error: represent.file: mine.parquet: no id column; the rows must say which image they describe
    # (columns: f1)"
    project = _project(tmp_path, source="file", file="mine.parquet", knn_k=5)
    features = separable()
    order = np.arange(len(features))[::-1]  # rows in another order than the manifest's: the ids place them
    frame = pd.DataFrame({"id": ids()[order], "f0": features[order, 0], "f1": features[order, 1]})
    frame.set_index(["id", "f0"]).to_parquet(project / "mine.parquet")
    done = _represent(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(project / "data/represent/embeddings.npy"), features)
