"""Leftovers of review 78g: faults still reachable beside the mends of probe 78 (the gate's blind-spot warnings, Git
LFS pointers). The gate runs in-process (:func:`winnow.cli.main`) and its lines are asserted whole.

- a class the base recognises at least half of, but fewer than COLLAPSE_MIN_LOST (3) images of, cannot collapse
  either (a collapse loses at least 3): a class of 2 test images, both right at base, both lost at head, was told the
  gate "cannot see them fall unless they collapse", a collapse it can never reach;
- a Git LFS pointer in the workspace (LFS content never fetched) was told to be untracked and renormalised at once,
  which commits the pointer text itself as the plain file; it is told to fetch it first.
"""

import numpy as np
import pytest
from gate_repo import CLASSES, gated, init, labels_of, notes_of, write_variant
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_gate_78 import LFS_POINTER_TEXT
from winnow.cli import main as winnow


@pytest.mark.hostile("gate")
def test_a_class_of_two_right_at_base_is_said_to_be_unwatched_not_left_to_a_collapse(tmp_path, capsys):
    classes = [*CLASSES, "tiny"]
    labels = np.concatenate([labels_of(), np.array(["tiny"] * 2, dtype=object)])
    project = make_project(tmp_path / "project", default_params())
    write_variant(project, "baseline", labels, labels.copy(), classes=classes)
    init(project)
    head = labels.copy()
    head[-2:] = CLASSES[0]  # recall 1 -> 0: halved, but 2 images lost, short of a collapse's 3
    write_variant(project, "baseline", labels, head, classes=classes)
    code, out = gated(project, capsys)
    # before: "class(es) tiny (2) hold too few test images for any drop to be significant (...): the gate cannot see
    # them fall unless they collapse; ..." when losing both is no collapse either
    assert code == 0
    assert [n for n in notes_of(out) if n.startswith("- warning:")] == [
        "- warning: baseline: class(es) tiny (2 of 2 right at base): too few right at base for any drop to be "
        "significant (losing every one tests at p adj ≥ 0.05) or to collapse (a collapse loses at least 3): the gate "
        "cannot see them fall at all; give the test split more of their images"]




@pytest.mark.hostile("gate")
def test_a_git_lfs_pointer_in_the_workspace_is_told_to_be_fetched_before_it_is_committed_plain(tmp_path, capsys):
    # a clone whose Git LFS files were never fetched (git-lfs not installed, GIT_LFS_SKIP_SMUDGE): the workspace holds
    # the pointer. Before: told to `git lfs untrack` and `git add --renormalize` it at once, which commits the pointer
    # text as a plain file, and the gate then refused it as "no column id, label, predicted"
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of()
    write_variant(project, "baseline", labels, labels.copy())
    init(project)
    (project / "metrics/evaluate/baseline/predictions.csv").write_text(LFS_POINTER_TEXT)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / "reports/gate.md")])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert_nothing_left(project, before)
    assert err.splitlines() == [
        "error: metrics/evaluate/baseline/predictions.csv at the workspace: a Git LFS pointer, not the file "
        "(.gitattributes sends it to Git LFS, and its content was never fetched here); fetch it first (`git lfs pull`, "
        "or rerun the stage that writes it), then keep it in git as a plain file: `git lfs untrack` the pattern that "
        "matches it, `git add --renormalize metrics/evaluate/baseline/predictions.csv` and commit, at the base too"]
