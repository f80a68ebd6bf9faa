"""Hostile inputs to the represent stage, third probe: a user's feature table with a size or time column beside
the features. Each ends in one ``error:`` line with nothing left behind."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_represent import N, ids, parquet, run_represent, separable


@pytest.mark.hostile("represent")
def test_a_size_column_beside_the_features_is_named_not_called_one_direction(tmp_path):
    # a table of two features near 1 and the image's file size in bytes (50,000 and up): every row points almost
    # along the size axis. before: "every image's embedding points the same way (each a positive multiple of one
    # vector ...)", which the rows were not, naming no column and no way out
    features = separable()
    table = pd.DataFrame({"id": ids(), "f0": features[:, 0], "f1": features[:, 1], "bytes": 50_000.0 + np.arange(N)})
    project, before, done = run_represent(tmp_path, write=parquet(table), source="file", file="mine.parquet")
    line = assert_error_line(done)
    assert re.fullmatch(
        re.escape("error: represent.file: mine.parquet: every image's embedding points almost the same way (cosine "
                  "distance at most ") + r"\d\.\de-\d\d" + re.escape(
            " from the first image's): a large offset common to every image, which float32 cosine cannot rank "
            "neighbours under; subtract the mean embedding, or, if feature 2 (counted from 0) is a size, a count or "
            "a time rather than a feature, leave it out: it lies far from 0 for every image and outweighs the rest"),
        line), line
    assert_nothing_left(project, before)
    # left out as the line says, the two features are read
    project, _, done = run_represent(tmp_path / "without", write=parquet(table.drop(columns="bytes")), source="file",
                                     file="mine.parquet")
    assert done.returncode == 0, done.stderr[-3000:]
