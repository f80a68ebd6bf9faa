"""Hostile inputs to the merge gate, stop 67: a test class renamed between the revisions gated, an experiment
named that dvc's queue holds."""

import json

import numpy as np
import pytest
from gate_repo import CLASSES, git, init, labels_of, write_both_variants, wrong_on
from hostile_harness import assert_error_line, assert_nothing_left, default_params, make_project
from test_hostile_gate import REPORT, gate, gate_project, gate_refused

from winnow.metrics import metrics_path


def renamed(values: np.ndarray, names: dict[str, str]) -> np.ndarray:
    return np.array([names.get(v, v) for v in values], dtype=object)


@pytest.mark.hostile("gate")
def test_a_class_renamed_at_head_is_gated_under_the_bases_name(tmp_path):
    # before: "error: baseline: 100 test images carry other labels at head, e.g. 'test-0000': '0' at base, 'zero'
    # at head; the test split must not change between the revisions gated": a change that renamed a class (an .npz's
    # classes) could never pass, whatever its model did. Now the same images are paired under the base's name, so the
    # class is still gated: here the head loses 30 more of its 100 images (recall 0.98 -> 0.68) and fails on it
    project = gate_project(tmp_path)
    labels = labels_of()
    names = dict(zip(CLASSES, ["zero", *CLASSES[1:]]))
    classes = [names[c] for c in CLASSES]
    write_both_variants(project, renamed(labels, names), renamed(wrong_on(labels, [1, 2, *range(10, 40)]), names),
                        classes=classes)
    done, _ = gate(project)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| baseline | 0 |")]
    assert [row.split(" | ")[4:7] + [row.split(" | ")[-1]] for row in rows] == [
        ["0.9800", "0.6800", "-0.3000", "**REGRESSED** |"]]
    assert "- baseline: class '0' at HEAD is 'zero' at workspace (every one of its test images): gated under HEAD's " \
           "name" in done.stdout.splitlines()


@pytest.mark.hostile("gate")
def test_two_classes_swapping_names_are_refused_not_gated_as_renamed(tmp_path):
    # a swap reads alike on both sides (every image of 0 is 1, every image of 1 is 0), but it gives a name the base
    # uses to other pictures: more often a mistake than a rename, so it stays refused, not gated under the base's names
    project = gate_project(tmp_path)
    labels = labels_of()
    names = {"0": "1", "1": "0"}
    write_both_variants(project, renamed(labels, names), renamed(wrong_on(labels, [1, 2]), names))
    done, before = gate(project)
    assert assert_error_line(done) == (
        "error: baseline: 200 test images carry other labels at head, e.g. 'test-0000': '0' at base, '1' at head; the "
        "test split must not change between the revisions gated")
    assert_nothing_left(project, before)
    assert not (project / REPORT).exists()


@pytest.mark.hostile("gate")
def test_an_experiment_queued_or_failed_here_is_named_so_not_told_to_be_pulled(tmp_path):
    # before: "error: --target seed1: unknown revision; name a branch, tag, commit or dvc experiment that exists here
    # (... an experiment: dvc exp pull origin <name>)" of an experiment `dvc exp run --queue` had queued here.
    # dvc keeps a queued run as a stash entry of refs/exps/celery/stash and moves it to refs/exps/celery/failed when
    # the run fails, its message "commit: dvc-exp:<rev>:<baseline rev>:<name>" (ExpStash.MESSAGE_FORMAT; `dvc exp run
    # --queue -n seed1` wrote exactly that when probed; running dvc here would take 3 s)
    project = gate_project(tmp_path)
    head = git(project, "rev-parse", "HEAD").strip()
    for ref, name in (("refs/exps/celery/stash", "seed1"), ("refs/exps/celery/failed", "seed2")):
        git(project, "update-ref", "--create-reflog", "-m", f"commit: dvc-exp:{head}:{head}:{name}", ref, head)
    # a run the queue started drops its stash entry; dvc tracks it by its executor's info file until it is collected
    # (ExecutorInfo, status 2: RUNNING), and it was told to be pulled too
    info = project / ".dvc/tmp/exps/run" / head / f"{head}.run"
    info.parent.mkdir(parents=True)
    info.write_text(json.dumps({"git_url": "file:///x", "baseline_rev": head, "location": "dvc-task", "root_dir": "/x",
                                "dvc_dir": ".dvc", "name": "seed3", "status": 2}))
    lines = []
    for name in ("seed1", "seed2", "seed3"):
        done, before = gate(project, "--target", name)
        lines.append(assert_error_line(done))
        assert_nothing_left(project, before)
    assert lines == [
        "error: --target seed1: a dvc experiment queued here but not run yet, so it has no results to gate; run the "
        "queue (dvc exp run --run-all), then again",
        "error: --target seed2: a dvc experiment whose run failed here, so it has no results to gate; `dvc queue logs "
        "seed2` says why; run it again, then again",
        "error: --target seed3: a dvc experiment running here, not finished, so it has no results to gate; wait for it "
        "(dvc queue status), then again"]


@pytest.mark.hostile("gate")
def test_a_class_added_at_head_leaves_its_images_ungated_and_gates_the_rest(tmp_path):
    # before: "error: baseline: base and head were tested on different test sets (0 ids at base only, 100 at head
    # only, e.g. 'test-1000'); ... gate runs of the same data and ingest.split_seed ...": a change that added a class
    # could never pass. Now the base's 1,000 images are paired as before and the new class's 100 are noted, not gated;
    # a head that sends 20 of class 3's images into the new class fails on them (3's recall 1.00 -> 0.80). Its
    # false-positive row was also told "the test split holds no image of 10 ...; give the test split images of every
    # class", untrue at the head: now it says the class is new there
    project = gate_project(tmp_path)
    classes = [*CLASSES, "10"]
    labels = np.concatenate([labels_of(), np.full(100, "10", dtype=object)])
    predicted = wrong_on(labels, [1, 2], classes=classes)
    predicted[300:320] = "10"
    write_both_variants(project, labels, predicted, classes=classes)
    done, _ = gate(project, "--variants", "baseline")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" | ")[1:7] for line in lines if "**REGRESSED**" in line] == [
        ["all (accuracy)", "1000", "20", "0.9980", "0.9780", "-0.0200"], ["3", "100", "20", "1.0000", "0.8000", "-0.2000"],
        ["10 (false positives)", "1000", "20", "0.0000", "20.0000", "+20.0000"]]
    assert [line for line in lines if line.startswith("- ")] == [
        "- baseline: class '10' is new at workspace: its 100 test images have nothing at HEAD to compare with (not "
        "gated); the others are, and those it takes count as its false positives",
        "- baseline 10 (false positives): class 10 has no test image at base, so its own at workspace are not gated "
        "(new there, or known without test images); the row counts the gated images the model predicts as it, 0 at "
        "base and 20 at head, each one wrong, so any significant rise regresses"]


@pytest.mark.hostile("gate")
def test_a_gated_metrics_file_holding_a_list_is_named_so_not_shown_under_an_empty_key(tmp_path):
    # before: "... metrics/evaluate/baseline.json at workspace:  = [{'accuracy': 0.9}] ...": a key left blank
    project = gate_project(tmp_path)
    (project / metrics_path("baseline")).write_text(json.dumps([{"accuracy": 0.9}]))
    assert gate_refused(project) == (
        "error: gated metrics are not all finite numbers: metrics/evaluate/baseline.json at workspace: holds a list, "
        "not a table of metrics (a JSON object of numbers) (rerun the stage that writes them and commit its outputs)")


@pytest.mark.hostile("gate")
def test_a_class_renamed_beside_a_class_added_is_gated_as_each_alone_is(tmp_path):
    # before: "error: baseline: base and head were tested on different test sets (0 ids at base only, 100 at head
    # only ...); ... gate runs of the same data and ingest.split_seed ...", though a rename alone and a class added
    # alone are gated. Now both are noted, and a head sending 20 of class 3's images into the new class fails on them
    project = gate_project(tmp_path)
    names = {"0": "zero"}
    labels = np.concatenate([labels_of(), np.full(100, "10", dtype=object)])
    predicted = wrong_on(labels, [1, 2], classes=[*CLASSES, "10"])
    predicted[300:320] = "10"
    write_both_variants(project, renamed(labels, names), renamed(predicted, names), classes=["zero", *CLASSES[1:], "10"])
    done, _ = gate(project, "--variants", "baseline")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" | ")[1] for line in lines if "**REGRESSED**" in line] == [
        "all (accuracy)", "3", "10 (false positives)"]
    assert [line for line in lines if line.startswith("- baseline: class")] == [
        "- baseline: class '0' at HEAD is 'zero' at workspace (every one of its test images): gated under HEAD's name",
        "- baseline: class '10' is new at workspace: its 100 test images have nothing at HEAD to compare with (not "
        "gated); the others are, and those it takes count as its false positives"]


@pytest.mark.hostile("gate")
def test_a_class_renamed_to_a_class_the_base_predicted_without_test_images_is_refused(tmp_path):
    # the base knew class z without test images and predicted it for 3 of class 5's; the head renames 0 to z. Before:
    # gated as a rename under '0' (its z row paired with other pictures), "gate: PASS". A name the base gave other
    # pictures is taken, as in a swap: refused as before the renames were read
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of()
    base = labels.copy()
    base[500:503] = "z"
    write_both_variants(project, labels, base, classes=[*CLASSES, "z"])
    init(project)
    names = {"0": "z"}
    write_both_variants(project, renamed(labels, names), renamed(labels, names), classes=["z", *CLASSES[1:]])
    assert gate_refused(project, "--variants", "baseline") == (
        "error: baseline: 100 test images carry other labels at head, e.g. 'test-0000': '0' at base, 'z' at head; the "
        "test split must not change between the revisions gated")


@pytest.mark.hostile("gate")
def test_a_name_of_both_a_branch_and_a_dvc_experiment_is_refused_not_read_as_the_branch(tmp_path):
    # `dvc exp run -n seed1` on the base and a branch seed1 at another commit: before, --target seed1 gated the
    # branch without a word, as git reads refs/heads/ and never refs/exps/ (a stray local origin/main is refused alike)
    project = gate_project(tmp_path)
    base = git(project, "rev-parse", "HEAD").strip()
    git(project, "commit", "-q", "--allow-empty", "-m", "the experiment")
    experiment = git(project, "rev-parse", "HEAD").strip()
    git(project, "update-ref", f"refs/exps/{base[:2]}/{base[2:]}/seed1", experiment)
    git(project, "reset", "-q", "--hard", base)
    git(project, "branch", "seed1")
    assert gate_refused(project, "--target", "seed1") == (
        f"error: --target seed1: names git's refs/heads/seed1 (commit {base[:12]}) and a dvc experiment (commit "
        f"{experiment[:12]}), and git reads the first; name the one you mean: --target refs/heads/seed1, or the "
        "experiment by its commit")
