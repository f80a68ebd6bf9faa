"""Hostile class structure through the per-class tables (probe 79):

- a class named ``all (accuracy)``: its recall row in the merge gate's table, and the FAIL line naming it, read as the
  variant's overall accuracy row ("baseline all (accuracy) -1.0000" for the class alone, beside the variant's own
  "baseline all (accuracy) -0.3333"), without a word; a warning now names it, as one for a class named as another's
  false-positive row, and the class row is shown only where it moved, as any class's.
"""

import pytest
from gate_repo import gated, init, labels_of, notes_of, write_variant
from hostile_harness import default_params, make_project


@pytest.mark.hostile("tables")
def test_a_class_named_as_the_overall_row_is_named_in_a_warning(tmp_path, capsys):
    names = ["all (accuracy)", "b", "c"]
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of(50, names)
    write_variant(project, "baseline", labels, labels, classes=names)
    init(project)
    head = labels.copy()
    head[labels == "all (accuracy)"] = "b"  # the class alone lost: accuracy 1 -> 2/3, the class's recall 1 -> 0
    write_variant(project, "baseline", labels, head, classes=names)
    code, out = gated(project, capsys, "--variants", "baseline")
    assert code == 1
    rows = [line.split(" | ")[1:3] for line in out.splitlines() if line.startswith("| baseline |")]
    assert rows[:2] == [["all (accuracy)", "150"], ["all (accuracy)", "50"]]  # the variant's row first, the class's
    assert ("- warning: baseline: the recall row of class all (accuracy) reads as the variant's overall accuracy row "
            "(that one comes first, the class's after it); rename the class to tell them apart") in notes_of(out)


@pytest.mark.hostile("tables")
def test_a_class_named_as_the_overall_row_is_not_shown_where_nothing_moved(tmp_path, capsys):
    names = ["all (accuracy)", "b", "c"]
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of(50, names)
    write_variant(project, "baseline", labels, labels, classes=names)
    init(project)
    head = labels.copy()
    head[labels == "c"] = "b"
    write_variant(project, "baseline", labels, head, classes=names)
    code, out = gated(project, capsys, "--variants", "baseline")
    # before: the class's row stood in every table as if it were the overall row, which is always shown
    rows = [line.split(" | ")[1:3] for line in out.splitlines() if line.startswith("| baseline |")]
    assert (code, rows) == (1, [["all (accuracy)", "150"], ["b (false positives)", "100"], ["c", "50"]])
