"""Hostile inputs to the merge gate, probe 72. The gate runs in-process (:func:`winnow.cli.main`) and its lines are
asserted whole.

- a base whose gate.tolerances are an earlier release's (accuracy, macro.f1, per_class.*.f1: the tolerance-only gate's
  default, before it paired test images): refused with "no pattern matches per_class.0.recall ...; correct them
  there", which no change can do, the one correcting them being judged by the base's settings; the per-class F1 entry
  is read as the per-class recall entry it became, macro.f1 left out, each with a note, and a class's drop regresses;
- the same form with a looser per-class F1 entry after per_class.*.f1: the earlier gate took the first matching
  pattern, so it never decided; read as today's own-key entry it would have passed a class's drop beyond 0.02, so it
  is read at the tolerance of the entry before it (and a pattern after a specific entry keeps its own for the others);
- --base origin/main in a clone made with --depth 1 (single-branch: it fetches its own branch alone): "unknown
  revision; ... git fetch origin <branch>", and that fetch writes FETCH_HEAD, no origin/main: the same line came back;
  the line now gives a fetch that writes the ref, and after it the gate runs; and --base main (the README's example)
  once origin/main is fetched, still "fetch it first", names origin/main;
- a change that edits a folder its pipeline reads from git (a recipe folder, images kept in git) without `dvc repro`,
  gated in a clone one commit deep: refused in a full clone, it passed there, as git shows the clone's first commit
  writing every file, dvc.lock too; the gate now says it cannot tell and how to fetch the history, after which the
  stale folder is refused as in a full clone.
"""

import subprocess
import sys

import pytest
from gate_repo import commit, git, gated, init, labels_of, notes_of, write_both_variants, write_variant, wrong_on
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from winnow.cli import main as winnow
from winnow.gate_settings import base_settings

# params.yaml's gate section before the paired gate (cc524fa9^): fnmatch patterns over DVC's keys of the metrics files
EARLIER_GATE = {"files": ["metrics/evaluate/*.json"],
                "tolerances": {"accuracy": 0.005, "macro.f1": 0.005, "per_class.*.f1": 0.02}}


def committed_base(tmp_path, gate: dict):
    """A committed base of baseline and pruned evaluated on 1,000 test images (wrong on 2 of class 0), its
    params.yaml's gate ``gate``; the workspace's params.yaml is today's default."""
    project = make_project(tmp_path / "project", default_params() | {"gate": gate})
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    init(project)
    make_project(project, default_params())
    return project


@pytest.mark.hostile("gate")
def test_a_base_with_an_earlier_releases_per_class_f1_tolerance_is_read_as_recall(tmp_path, capsys):
    # the base's gate section is the one params.yaml held before the gate paired test images; the change loses 40 of
    # class 1's 100 images to class 2. Before: "error: params.yaml at HEAD: gate.tolerances: no pattern matches
    # per_class.0.recall (...); add e.g. 'per_class.*.recall: 0.02'; the gate takes its settings from HEAD: correct
    # them there", and no change could pass: the one correcting them is judged by HEAD's settings too
    project = committed_base(tmp_path, EARLIER_GATE)
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2, *range(100, 140)]))
    code, out = gated(project, capsys, "--variants", "baseline")
    assert code == 1
    assert notes_of(out)[:2] == [
        "- gate settings: HEAD's gate.tolerances.macro.f1 is an earlier release's entry of an average over the "
        "classes, which the gate tests no more; left out",
        "- gate settings: HEAD's gate.tolerances.per_class.*.f1 0.02 is an earlier release's per-class F1 entry; read "
        "as per_class.*.recall 0.02 (the gate tests each class's recall)"]
    recall = [line.split(" | ")[1:7] + line.split(" | ")[10:11] for line in out.splitlines()
              if line.startswith("| baseline | 1 |")]
    assert recall == [["1", "100", "40", "1.0000", "0.6000", "-0.4000", "0.02"]]
    assert out.splitlines()[-1].startswith("gate: FAIL — 3 regression(s): baseline all (accuracy) -0.0400 (p adj ")


@pytest.mark.hostile("gate")
def test_a_looser_f1_entry_after_the_pattern_is_read_at_the_patterns_tolerance(tmp_path, capsys):
    # the earlier gate took the first pattern matching a key, so per_class.1.f1: 0.25 after per_class.*.f1: 0.02 never
    # decided class 1 there (0.02 did); today's gate takes a key's own entry. The change loses 20 of class 1's 100
    # images (-0.20, beyond 0.02, within 0.25): read as per_class.1.recall 0.25 it would pass
    gate = {**EARLIER_GATE, "tolerances": {**EARLIER_GATE["tolerances"], "per_class.1.f1": 0.25}}
    project = committed_base(tmp_path, gate)
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2, *range(100, 120)]))
    code, out = gated(project, capsys, "--variants", "baseline")
    assert code == 1
    assert ("- gate settings: HEAD's gate.tolerances.per_class.1.f1 0.25 is an earlier release's per-class F1 entry; "
            "read as per_class.1.recall 0.02 (the gate tests each class's recall)") in notes_of(out)
    assert "; baseline 1 -0.2000 (p adj " in out.splitlines()[-1]


@pytest.mark.hostile("gate")
def test_an_earlier_releases_specific_f1_entry_before_the_pattern_keeps_the_pattern_for_the_others(tmp_path):
    # per_class.1.f1: 0.01 before per_class.*.f1: 0.02: the earlier gate's first match gave class 1 0.01 and every
    # other class 0.02. Before (0bf5c8f8, which first read the form): each entry took the strictest of those before
    # it, and every other class was gated at 0.01, stricter than the base ever was
    gate = {**EARLIER_GATE, "tolerances": {"accuracy": 0.005, "per_class.1.f1": 0.01, "per_class.*.f1": 0.02}}
    settings, _ = base_settings(committed_base(tmp_path, gate), base="HEAD", target="workspace")
    assert settings.tolerances == {"accuracy": 0.005, "per_class.1.recall": 0.01, "per_class.*.recall": 0.02}


@pytest.mark.hostile("gate")
def test_a_base_branch_a_shallow_clone_lacks_is_told_a_fetch_that_brings_it(tmp_path, capsys):
    # CI's checkout of a pull request: a clone of its branch alone, one commit deep; the gate's --base origin/main is
    # not there. Before: "... (in CI fetch it first: actions/checkout with fetch-depth: 0, or git fetch origin
    # <branch>; ...)", and `git fetch origin main` in such a clone (its refspec names its own branch alone) wrote
    # FETCH_HEAD, not origin/main: the same line came back
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    init(project)
    git(project, "checkout", "-qb", "feature")
    write_both_variants(project, labels, wrong_on(labels, [1, 2, 3]))
    commit(project, "feature")
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{project}", str(clone)],
                   check=True, capture_output=True)
    before = files_under(clone)
    code = winnow(["gate", "--base", "origin/main", "--repo", str(clone)])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: --base origin/main: unknown revision: origin's branch main is not fetched here (a shallow or "
        "single-branch clone, as CI checks out, holds its own branch alone); fetch it first: git fetch origin "
        "main:refs/remotes/origin/main (in CI actions/checkout with fetch-depth: 0 fetches every branch)"])
    assert_nothing_left(clone, before)
    git(clone, "fetch", "-q", "origin", "main:refs/remotes/origin/main")  # as the line says
    before = files_under(clone)
    # --base main, as the README's example: git resolves main in refs/heads, not refs/remotes/origin. Before: the same
    # "fetch it first ... git fetch origin <branch>" line, fetched already
    code = winnow(["gate", "--base", "main", "--repo", str(clone)])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: --base main: unknown revision: no branch main here, but origin/main is its copy fetched from origin; "
        "give --base origin/main"])
    assert_nothing_left(clone, before)
    code = winnow(["gate", "--base", "origin/main", "--repo", str(clone)])
    out, err = capsys.readouterr()
    assert (code, err, out.splitlines()[-1]) == (
        0, "", "gate: PASS — 2 variant(s), 42 paired tests, no significant drop beyond its tolerance")


# a pipeline whose train reads a folder git holds (dvc.lock records it as a .dir md5, which no file's bytes check);
# evaluate copies the predictions and metrics gate_repo wrote under made/ (no model: the gate reads what it writes)
FOLDER_DVC_YAML = """stages:
  train:
    foreach: [baseline]
    do:
      cmd: mkdir -p models && cat recipes/wrong.txt > models/${item}.txt
      deps: [recipes]
      outs:
        - models/${item}.txt
  evaluate:
    foreach: [baseline]
    do:
      cmd: >-
        mkdir -p metrics/evaluate/${item} && cp made/metrics/evaluate/${item}.json metrics/evaluate/ &&
        cp made/metrics/evaluate/${item}/predictions.csv metrics/evaluate/${item}/
      deps:
        - models/${item}.txt
        - made/metrics/evaluate/${item}.json
        - made/metrics/evaluate/${item}/predictions.csv
      outs:
        - metrics/evaluate/${item}/predictions.csv:
            cache: false
      metrics:
        - metrics/evaluate/${item}.json:
            cache: false
"""


@pytest.mark.hostile("gate")
def test_a_folder_input_edited_without_repro_is_not_passed_by_a_shallow_clone(tmp_path, capsys):
    # main reproduced with recipes/wrong.txt 2; the branch edits it to 40 and commits without dvc repro (its
    # predictions are main's, made from the recipe of 2). A full clone refuses the branch ("recipes changed since
    # dvc.lock's train@baseline ran"). Before: in a clone one commit deep `git log -- dvc.lock` named the branch's
    # commit itself, git's diff since it saw nothing, and the gate passed
    project = make_project(tmp_path / "project")
    (project / "dvc.yaml").write_text(FOLDER_DVC_YAML)
    labels = labels_of()
    write_variant(project / "made", "baseline", labels, wrong_on(labels, [1, 2]))
    (project / "recipes").mkdir()
    (project / "recipes" / "wrong.txt").write_text("2")
    git(project, "init", "-q", "-b", "main")
    # dvc init and dvc repro in one process of their own (two dvc commands started cost 2.5 s each)
    subprocess.run([sys.executable, "-c", "import sys; from dvc.cli import main; main(['init', '-q']); "
                    "sys.exit(main(['repro', '-q']))"], cwd=project, check=True, capture_output=True)
    commit(project, "base")
    git(project, "checkout", "-qb", "feature")
    (project / "recipes" / "wrong.txt").write_text("40")
    commit(project, "recipe edited, no dvc repro")
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{project}", str(clone)],
                   check=True, capture_output=True)
    git(clone, "fetch", "-q", "origin", "main:refs/remotes/origin/main")
    head = git(clone, "rev-parse", "HEAD").strip()
    before = files_under(clone)
    code = winnow(["gate", "--base", "origin/main", "--target", "HEAD", "--repo", str(clone)])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        f"error: HEAD: this clone's history ends at {head[:12]} (a shallow clone), so the gate cannot tell whether "
        "recipes changed since the run its dvc.lock records; fetch the history first: git fetch --unshallow (in CI, "
        "actions/checkout with fetch-depth: 0)"])
    assert_nothing_left(clone, before)
    git(clone, "fetch", "-q", "--unshallow")  # as the line says: the stale folder is seen, as in a full clone
    code = winnow(["gate", "--base", "origin/main", "--target", "HEAD", "--repo", str(clone)])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), "
        "first: recipes changed since dvc.lock's train@baseline ran); rerun `dvc repro` there and commit dvc.lock and "
        "metrics/ together"])
