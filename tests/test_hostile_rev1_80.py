"""Hostile review 1 of probe 80's commits: neighbouring inputs of their mends.

- dedup's pre-search line for images of one embedding row grouped rows by their bytes: 2,000 equal rows, half of
  them holding -0.0 where the others hold 0.0, made two groups under the count, and the radius search sat 9 s
  without a word; rows of NaN, within no radius of anything, were told as a crowd.
- the report past 186 classes: a version of no confused pair (every test image right) had no row, and a report of
  such versions alone an empty table under its heading, as if the table had failed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winnow import copies
from winnow.crowd_warning import warn_of_equal_rows
from winnow.report import confusion_part

EQUAL_ROWS_LINE = (
    "warning: dedup: 12 images share their embedding row with others (66 pairs of equal rows, within any "
    "dedup.embedding_radius): the embedding search and its thumbnail comparisons grow with the square of their "
    "number and may take minutes; an embedding that gives many images one row (a constant or collapsed model) "
    "tells them apart by nothing\n")


@pytest.mark.hostile("scale")
def test_rows_equal_but_for_the_sign_of_a_zero_are_told_as_one_crowd(monkeypatch, capsys):
    # 12 rows of one value, 6 of them with -0.0 where the others hold 0.0: 66 pairs, every one within the radius.
    # Before: two groups of 15 pairs each, under the (lowered) bound of 40, and no line before the search
    monkeypatch.setattr(copies, "EMBEDDING_CROWD", 40)
    embedding = np.tile(np.array([0.0, 1.0, 2.0, 0.0], np.float32), (12, 1))
    embedding[::2, [0, 3]] = -0.0
    found, _ = copies.embedding_pairs(embedding, radius=0.01)
    assert capsys.readouterr().out == EQUAL_ROWS_LINE
    assert len(found) == 66


@pytest.mark.hostile("scale")
def test_rows_of_nan_are_no_crowd(capsys):
    # rows of NaN lie within no cosine radius of any row: equal bits, but no pair of them is searched out
    warn_of_equal_rows(np.full((12, 4), np.nan, np.float32), past=8)
    assert capsys.readouterr().out == ""


@pytest.mark.hostile("report")
def test_a_version_of_no_confused_pair_past_186_classes_is_said_to_have_none():
    names = [f"c{i}" for i in range(187)]
    perfect = pd.DataFrame(np.eye(187, dtype=np.int64) * 3, index=names, columns=names)
    confused = perfect.copy()
    confused.iloc[5, 6] = 2
    part = confusion_part({"baseline": confused, "pruned": perfect})
    assert ("(actual and predicted class of every test image). No test image was predicted as another class by "
            "pruned.</p>") in part
    assert part.count("<tr>") == 2  # the head and baseline's one pair
    assert "<tr><td>baseline</td><td>c5</td><td>c6</td><td>2</td><td>0.400</td></tr>" in part
    # every version right: the line says so, and no empty table stands under the heading
    alone = confusion_part({"baseline": perfect, "pruned": perfect})
    assert alone.endswith("No test image was predicted as another class by baseline, pruned.</p>")
    assert "<table" not in alone
