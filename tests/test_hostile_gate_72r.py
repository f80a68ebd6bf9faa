"""Review 72r of the gate mends of probe 72 (an earlier release's tolerances read as meant, a shallow clone's last
commit refused where a folder input cannot be compared). The gate runs in-process (:func:`winnow.cli.main`) and its
lines are asserted whole.

- an earlier release's per-class F1 pattern after another pattern (per_class.[0-4].f1: 0.01, then per_class.*.f1:
  0.05, the first-match idiom of that gate): every class was read at 0.01, classes 5 to 9 too, which that gate held to
  0.05; now each pattern keeps its own, today's strictest-pattern rule giving the classes both match the stricter;
- an earlier release's per-class F1 pattern that decided nothing there (per_class.[0-4].f1 after per_class.*.f1, and
  an entry naming a class tested no more): refused for good as "per_class.[0-4].recall: 0.02 decide no metric ...;
  correct them there", an entry the base does not hold, the change correcting it judged by the base too; now left out
  with a note, and a class's drop beyond the pattern's tolerance regresses as before;
- a commit at the end of a shallow clone's history whose pipeline reads a folder DVC tracks (`dvc add data/raw`, which
  git never holds): refused as "cannot tell whether data/raw changed", a false alarm on a current commit (git's diff
  sees nothing of DVC's data, in a full clone too); now gated as in a full clone.
"""

import subprocess
import sys

import pytest
from gate_repo import commit, git, gated, labels_of, notes_of, write_both_variants, write_variant, wrong_on
from hostile_harness import assert_nothing_left, files_under, make_project
from test_hostile_gate_72 import EARLIER_GATE, FOLDER_DVC_YAML, committed_base
from winnow.cli import main as winnow
from winnow.gate_settings import base_settings


@pytest.mark.hostile("gate")
def test_an_earlier_releases_pattern_after_a_narrower_one_keeps_its_own_tolerance(tmp_path):
    # the earlier gate's first match gave classes 0 to 4 0.01 and classes 5 to 9 0.05. Before: each pattern took the
    # strictest pattern before it, per_class.*.recall was read at 0.01 and a drop of 0.03 of class 7 was judged
    # beyond its tolerance, stricter than the base ever was
    gate = {**EARLIER_GATE, "tolerances": {"accuracy": 0.005, "per_class.[0-4].f1": 0.01, "per_class.*.f1": 0.05}}
    settings, notes = base_settings(committed_base(tmp_path, gate), base="HEAD", target="workspace")
    assert settings.tolerances == {"accuracy": 0.005, "per_class.[0-4].recall": 0.01, "per_class.*.recall": 0.05}
    assert (settings.tolerance("per_class.3.recall"), settings.tolerance("per_class.7.recall")) == (0.01, 0.05)
    assert notes[:2] == [
        "gate settings: HEAD's gate.tolerances.per_class.[0-4].f1 0.01 is an earlier release's per-class F1 entry; "
        "read as per_class.[0-4].recall 0.01 (the gate tests each class's recall)",
        "gate settings: HEAD's gate.tolerances.per_class.*.f1 0.05 is an earlier release's per-class F1 entry; read "
        "as per_class.*.recall 0.05 (the gate tests each class's recall)"]


@pytest.mark.hostile("gate")
def test_an_earlier_releases_entry_that_decided_nothing_is_left_out_not_refused(tmp_path, capsys):
    # per_class.[0-4].f1: 0.05 after per_class.*.f1: 0.02 never decided a class in the earlier gate (the first match
    # did), nor per_class.cat.f1 on a test set without a class cat. Before: "error: params.yaml at HEAD:
    # gate.tolerances: per_class.[0-4].recall: 0.02 decide no metric: ...; correct them there", and no change could
    # pass. The change loses 20 of class 1's 100 images (-0.20): beyond 0.02, within 0.05, so it regresses
    gate = {**EARLIER_GATE, "tolerances": {"accuracy": 0.005, "per_class.*.f1": 0.02, "per_class.[0-4].f1": 0.05,
                                           "per_class.cat.f1": 0.1}}
    project = committed_base(tmp_path, gate)
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2, *range(100, 120)]))
    code, out = gated(project, capsys, "--variants", "baseline")
    assert code == 1
    assert notes_of(out)[-2:] == [
        "- gate settings: HEAD's gate.tolerances.per_class.[0-4].f1, read as per_class.[0-4].recall, decides no "
        "class's recall here; left out",
        "- gate settings: HEAD's gate.tolerances.per_class.cat.f1, read as per_class.cat.recall, decides no class's "
        "recall here; left out"]
    recall = [line.split(" | ")[1:7] + line.split(" | ")[10:12] for line in out.splitlines()
              if line.startswith("| baseline | 1 |")]
    assert recall == [["1", "100", "20", "1.0000", "0.8000", "-0.2000", "0.02", "**REGRESSED** |"]]
    assert out.splitlines()[-1] == (
        "gate: FAIL — 3 regression(s): baseline all (accuracy) -0.0200 (p adj < 0.0001); baseline 1 -0.2000 (p adj "
        "< 0.0001); baseline 2 (false positives) +0.2000 (p adj < 0.0001)")


@pytest.mark.hostile("gate")
def test_a_shallow_clones_last_commit_reading_a_folder_dvc_tracks_is_gated(tmp_path, capsys):
    # main reproduced with data/raw added to DVC (git holds data/raw.dvc, never the folder); the branch edits a note.
    # Before, in a clone one commit deep: "error: HEAD: this clone's history ends at ... (a shallow clone), so the
    # gate cannot tell whether data/raw changed since the run its dvc.lock records; fetch the history first", though
    # git's diff sees nothing of a folder DVC tracks, with the history too (dvc status judges it)
    project = make_project(tmp_path / "project")
    (project / "dvc.yaml").write_text(FOLDER_DVC_YAML.replace("recipes", "data/raw"))
    labels = labels_of()
    write_variant(project / "made", "baseline", labels, wrong_on(labels, [1, 2]))
    (project / "data" / "raw").mkdir(parents=True)
    (project / "data" / "raw" / "wrong.txt").write_text("2")
    git(project, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-c", "import sys; from dvc.cli import main; main(['init', '-q']); "
                    "main(['add', '-q', 'data/raw']); sys.exit(main(['repro', '-q']))"], cwd=project, check=True,
                   capture_output=True)
    commit(project, "base")
    git(project, "checkout", "-qb", "feature")
    (project / "notes.txt").write_text("a note")
    commit(project, "a note")
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{project}", str(clone)],
                   check=True, capture_output=True)
    git(clone, "fetch", "-q", "origin", "main:refs/remotes/origin/main")
    assert "data/raw.dvc" in git(clone, "ls-files").splitlines()
    before = files_under(clone)
    code = winnow(["gate", "--base", "origin/main", "--target", "HEAD", "--repo", str(clone)])
    out, err = capsys.readouterr()
    assert (code, err, out.splitlines()[-1]) == (
        0, "", "gate: PASS — 1 variant(s), 21 paired tests, no significant drop beyond its tolerance")
    assert_nothing_left(clone, before)
