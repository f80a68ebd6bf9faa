"""Hostile inputs to evaluate and the statistics behind the gate, probe 71:

- a test split whose manifest holds a label outside 0..K-1 (hand-edited): evaluate's one line names the row and the
  label as a number, not as numpy's repr, and a nullable label column's gap as no label;
- a class named by a digit that is no decimal one ("²", "10²"): the gate orders and gates it, not a ValueError
  traceback.

In-process on hand-made imagesets (:func:`test_hostile_metrics_more._evaluate_project`) and predictions
(:mod:`gate_repo`): no training.
"""

import pandas as pd
import pytest
from gate_repo import init, labels_of, write_variant, wrong_on
from hostile_harness import assert_nothing_left, default_params, edit_table, files_under, make_project
from test_hostile_metrics_more import _evaluate_project

from winnow.cli import main as winnow
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



def gated_two_classes(tmp_path, capsys, classes: list[str]) -> str:
    """The gate's verdict line on classes ``classes[0]`` and ``classes[1]`` of 100 test images each, the base right on
    every one, the head naming 30 of the second class's images as the first (exit 1, nothing on stderr, nothing left
    behind: asserted here)."""
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of(classes=classes)
    write_variant(project, "baseline", labels, labels.copy(), classes=classes)
    init(project)
    write_variant(project, "baseline", labels, wrong_on(labels, range(100, 130), classes=classes), classes=classes)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--variants", "baseline"])
    out, err = capsys.readouterr()
    assert (code, err) == (1, "")
    assert_nothing_left(project, before)
    return out.splitlines()[-1]


@pytest.mark.hostile("gate")
def test_a_class_named_by_a_superscript_digit_is_gated(tmp_path, capsys):
    # before: "ValueError: invalid literal for int() with base 10: '²'", a traceback from the sort of the test classes
    # (str.isdigit takes "²" for a digit, int() does not), so a project with such a class could not be gated at all.
    # Classes a and ² of 100 test images each; the base is right on every one, the head names 30 of ²'s images a
    classes = ["a", "²"]
    verdict = gated_two_classes(tmp_path, capsys, classes)
    # accuracy 1.0 -> 0.85 (30 of 200 lost), ²'s recall 1.0 -> 0.7, a takes 30 images, 0.3 per image of its own 100;
    # each of 30 images lost at phi 1.93 or 1.57 tests far below 0.0001, and is beyond its tolerance
    assert verdict == ("gate: FAIL — 3 regression(s): baseline all (accuracy) -0.1500 (p adj < 0.0001); "
                                    "baseline a (false positives) +0.3000 (p adj < 0.0001); baseline ² -0.3000 (p adj "
                                    "< 0.0001)")
