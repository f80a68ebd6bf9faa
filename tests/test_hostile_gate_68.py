"""Hostile inputs to the merge gate, probe 68: a class the base's model knew without test images gains some at the
head. The gate runs as CI runs it (:func:`test_hostile_gate.gate`) and its notes are asserted whole."""

import numpy as np
import pytest
from gate_repo import CLASSES, init, labels_of, write_both_variants, wrong_on
from hostile_harness import default_params, make_project
from test_hostile_gate import gate


@pytest.mark.hostile("gate")
def test_a_class_the_base_knew_without_test_images_is_not_called_new_at_the_head(tmp_path):
    # the base evaluated classes 0-9 and '10' (its metrics score 10, with no test image of it); the head's test split
    # holds 100 images of 10. Before: "class '10' is new at workspace", untrue: the base's model knew it
    project = make_project(tmp_path / "project", default_params())
    classes = [*CLASSES, "10"]
    write_both_variants(project, labels_of(), wrong_on(labels_of(), [1, 2], classes=classes), classes=classes)
    init(project)
    labels = np.concatenate([labels_of(), np.full(100, "10", dtype=object)])
    write_both_variants(project, labels, wrong_on(labels, [1, 2], classes=classes), classes=classes)
    done, _ = gate(project, "--variants", "baseline")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("- ")] == [
        "- baseline: class '10' has no test image at HEAD (its model knew it): its 100 test images at workspace have "
        "nothing at HEAD to compare with (not gated); the others are, and those it takes count as its false positives"]
