"""Hostile inputs to evaluate and the statistics behind the gate, probe 71:

- a test split whose manifest holds a label outside 0..K-1 (hand-edited): evaluate's one line names the row and the
  label as a number, not as numpy's repr, and a nullable label column's gap as no label.

In-process on hand-made imagesets (:func:`test_hostile_metrics_more._evaluate_project`): no training.
"""

import pandas as pd
import pytest
from hostile_harness import assert_nothing_left, edit_table, files_under
from test_hostile_metrics_more import _evaluate_project

from winnow.imageset import ImageSetError
from winnow.variants import load_test


@pytest.mark.hostile("gate")
@pytest.mark.parametrize(("label", "shown"), [(2, "2"), (-1, "-1"), (None, "no label")])
def test_a_test_label_outside_the_classes_is_named_as_a_number(tmp_path, monkeypatch, label, shown):
    # before: "error: data/ingest: labels must be integers in [0, 1] (classes.json has 2); row 10 has np.int64(2)"
    # (numpy 2's repr of the value), and "row 10 has <NA>" for a label missing from a nullable column
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    # rows 0-5 train, 6-7 val, 8-9 the test images of a: test-1-0, the first of b's, is row 10
    edit_table(project / "data/ingest/manifest.parquet",
               lambda m: m.assign(label=pd.array(m["label"].where(m["id"] != "test-1-0", label), dtype="Int64")))
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(ImageSetError) as refused:
        load_test()
    assert str(refused.value) == ("data/ingest: labels must be integers in [0, 1] (classes.json has 2); row 10 has "
                                  f"{shown}")
    assert_nothing_left(project, before)
