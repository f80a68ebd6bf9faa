"""Hostile inputs to the merge gate and to compare: each ends in one line naming what is wrong (or, for
compare, in the right table), and the gate never passes a broken metric."""

import json
import os
import resource
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from gate_repo import (
    CLASSES, commit, git, init, labels_of, write_both_variants, write_metrics, write_variant, wrong_on,
)
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project, refused_line,
    run_stage, run_winnow,
)

from winnow.errors import WinnowError
from winnow.metrics import metrics_path, predictions_path, summary_path

REPORT = "reports/gate.md"


def gate_project(tmp_path, gate=None):
    """A committed base where baseline and pruned were evaluated on 1,000 test images."""
    project = make_project(tmp_path / "project", default_params() | {"gate": gate or default_params()["gate"]})
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    return init(project)


def gate(project, *args, base="HEAD"):
    """The gate as CI runs it, markdown included; returns the run and the files before it."""
    before = files_under(project)
    return run_winnow(project, "gate", "--base", base, "--markdown", REPORT, *args), before


def gate_refused(project, *args, base="HEAD") -> str:
    """The gate as :func:`gate` runs it must end in one ``error:`` line (returned) and leave nothing behind."""
    done, before = gate(project, *args, base=base)
    line = assert_error_line(done)
    assert_nothing_left(project, before)
    return line


def headline_of(project, variant="baseline"):
    return json.loads((project / metrics_path(variant)).read_text())


@pytest.mark.hostile("gate")
@pytest.mark.parametrize(("value", "shown"), [(float("nan"), "nan"), (float("inf"), "inf"),
                                              (float("-inf"), "-inf"), ("0.97", "'0.97'"), (None, "None")])
def test_a_broken_metric_at_head_fails_with_its_key(tmp_path, value, shown):
    project = gate_project(tmp_path)
    metrics = headline_of(project)
    metrics["per_class"]["3"]["f1"] = value
    write_metrics(project, "baseline", metrics)
    done, before = gate(project)
    assert_error_line(done, "metrics/evaluate/baseline.json at workspace", f"per_class.3.f1 = {shown}", "finite")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_nan_at_base_fails_with_its_key(tmp_path):
    project = gate_project(tmp_path)
    metrics = headline_of(project, "pruned")
    metrics["accuracy"] = float("nan")
    write_metrics(project, "pruned", metrics)
    commit(project, "a NaN committed")
    write_variant(project, "pruned", labels_of(), wrong_on(labels_of(), [1, 2]))  # the workspace is fine again
    done, before = gate(project)
    assert_error_line(done, "metrics/evaluate/pruned.json at HEAD", "accuracy = nan")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_gated_metrics_file_that_is_not_json_fails(tmp_path):
    project = gate_project(tmp_path)
    (project / metrics_path("pruned")).write_text('{"accuracy": 0.9')
    done, before = gate(project)
    assert_error_line(done, "metrics/evaluate/pruned.json at workspace", "not valid JSON")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_an_unknown_base_revision_fails_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    done, before = gate(project, base="origin/nosuch")
    assert_error_line(done, "--base origin/nosuch", "unknown revision", "git fetch")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_branch_named_workspace_is_refused_as_ambiguous(tmp_path):
    # before: --base workspace read the working tree, not the branch, without a word
    project = gate_project(tmp_path)
    git(project, "branch", "workspace")
    assert gate_refused(project, "--target", "HEAD", base="workspace") == (
        "error: --base workspace: names both the working tree and git's refs/heads/workspace; name that commit as "
        "refs/heads/workspace, or rename that branch or tag to gate the working tree")
    done, _ = gate(project, "--target", "HEAD", base="refs/heads/workspace")
    assert done.returncode == 0, done.stderr
    # 2 variants of 10 classes: accuracy, 10 recalls and 10 classes' false positives each
    assert done.stdout.splitlines()[-1] == ("gate: PASS — 2 variant(s), 42 paired tests, no significant drop beyond "
                                            "its tolerance"), done.stdout


@pytest.mark.hostile("gate")
def test_a_branch_named_workspace_leaves_the_default_target_the_working_tree(tmp_path):
    # before: `winnow gate --base HEAD` was refused as "--target workspace: names both the working tree and git's
    # refs/heads/workspace", a --target never typed, and no name was left to gate the working tree by
    project = gate_project(tmp_path)
    git(project, "branch", "workspace")
    write_variant(project, "pruned", labels_of(), wrong_on(labels_of(), range(1, 41)))  # the working tree's drop
    done, _ = gate(project)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[-1].startswith("gate: FAIL — "), done.stdout  # the working tree, not the branch
    assert gate_refused(project, "--target", "workspace") == (
        "error: --target workspace: names both the working tree and git's refs/heads/workspace; name that commit as "
        "refs/heads/workspace, or leave --target out: the working tree is its default")


def stray_origin_main(tmp_path):
    """A project whose fetched refs/remotes/origin/main is its first commit, and a stray local branch origin/main the
    commit after it, where pruned lost 40 images of class 0."""
    project = gate_project(tmp_path)
    git(project, "update-ref", "refs/remotes/origin/main", "HEAD")
    write_variant(project, "pruned", labels_of(), wrong_on(labels_of(), range(1, 41)))
    commit(project, "pruned loses 40 images of class 0")
    git(project, "branch", "origin/main")
    return project


@pytest.mark.hostile("gate")
def test_a_name_two_refs_share_at_other_commits_is_refused(tmp_path):
    # before: git's "refname 'origin/main' is ambiguous" went unread: a stray local branch called origin/main, left
    # at a worse commit, stood in for the fetched refs/remotes/origin/main, and the gate passed a 40-image drop
    project = stray_origin_main(tmp_path)
    assert gate_refused(project, base="origin/main") == (
        "error: --base origin/main: origin/main names refs/heads/origin/main and refs/remotes/origin/main, at other "
        "commits (git reads the first); name the one you mean in full, e.g. --base refs/remotes/origin/main")
    done, _ = gate(project, base="refs/remotes/origin/main")
    assert done.returncode == 1, done.stderr
    # the 38 images class 0 lost went to class 1: its false positives regress too
    assert done.stdout.splitlines()[-1].startswith("gate: FAIL — 3 regression(s): pruned all (accuracy) -0.0380"), \
        done.stdout
    git(project, "branch", "-f", "origin/main", "refs/remotes/origin/main")  # one commit by both names: no doubt
    done, _ = gate(project, base="origin/main")
    assert done.stdout.splitlines()[-1].startswith("gate: FAIL — 3 regression(s)"), done.stdout + done.stderr


@pytest.mark.hostile("gate")
def test_a_shared_name_whose_first_ref_lacks_the_commit_asked_for_is_named_so(tmp_path):
    # before: "--base origin/main~1: several commits or tags here have ids that begin with it; give more of the
    # commit's digits": git's "refname 'origin/main' is ambiguous" was read as a short id's, though the stray local
    # branch origin/main (the root commit, no ~1) stood in for the fetched refs/remotes/origin/main, which has one
    project = gate_project(tmp_path)
    git(project, "branch", "origin/main")
    commit(project, "a second commit")
    git(project, "update-ref", "refs/remotes/origin/main", "HEAD")
    assert gate_refused(project, base="origin/main~1") == (
        "error: --base origin/main~1: origin/main names refs/heads/origin/main and refs/remotes/origin/main, at other "
        "commits (git reads the first); name the one you mean in full, e.g. --base refs/remotes/origin/main~1")


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("unsaid", ["locale", "config"])
def test_a_name_two_refs_share_is_refused_in_any_locale_and_git_config(tmp_path, monkeypatch, unsaid):
    # before: git's warning was read as English and only when git gave it: in German ("Warnung: refname 'origin/main'
    # is ambiguous.") or with core.warnAmbiguousRefs=false it went unrecognised or unsaid, and the gate passed the
    # 40-image drop against the stray local branch origin/main ("gate: PASS")
    project = stray_origin_main(tmp_path)
    if unsaid == "locale":  # glibc's C.UTF-8 with LANGUAGE: git's translations, no locale to install
        monkeypatch.setenv("LC_ALL", "C.UTF-8")
        monkeypatch.setenv("LANGUAGE", "de")
    else:
        git(project, "config", "core.warnAmbiguousRefs", "false")
    assert gate_refused(project, base="origin/main") == (
        "error: --base origin/main: origin/main names refs/heads/origin/main and refs/remotes/origin/main, at other "
        "commits (git reads the first); name the one you mean in full, e.g. --base refs/remotes/origin/main")


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("pattern", ["metrics/**/*.json", "metrics/evaluate/*/*.jso**"])
def test_gate_files_read_alike_at_a_commit_and_in_the_workspace(tmp_path, pattern):
    # before: pathlib's glob read the workspace, where "**" is any depth and "*.jso**" a traceback ("'**' can only be
    # an entire path component"), and fnmatch a commit, where "**" was one folder: a NaN committed in a summary below
    # metrics/**/ passed the gate ("new at workspace"), though the same file failed it in the workspace
    project = gate_project(tmp_path, default_params()["gate"] | {"files": [pattern]})
    (project / summary_path("pruned")).write_text('{"accuracy": NaN}')
    commit(project, "a NaN committed in a summary")
    (project / summary_path("pruned")).write_text('{"accuracy": 0.998}')
    assert gate_refused(project) == (
        "error: gated metrics are not all finite numbers: metrics/evaluate/pruned/summary.json at HEAD: accuracy = nan "
        "(rerun the stage that writes them and commit its outputs)")


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("folder", ["metrics/qualité", 'metrics/"quoted"'])
def test_a_gated_file_whose_name_git_quotes_is_read_at_a_commit(tmp_path, folder):
    # before: git ls-tree quoted the name ("metrics/qualit\303\251/score.json"), no pattern matched it at the commit,
    # and the NaN committed there passed the gate: only the workspace's finite copy was checked
    gate_settings = default_params()["gate"] | {"files": ["metrics/evaluate/*.json", f"{folder}/*.json"]}
    project = gate_project(tmp_path, gate_settings)
    (project / folder).mkdir()
    (project / folder / "score.json").write_text('{"accuracy": NaN}')
    commit(project, "a NaN committed in a file whose name git quotes")
    (project / folder / "score.json").write_text('{"accuracy": 0.998}')
    assert gate_refused(project) == (
        f"error: gated metrics are not all finite numbers: {folder}/score.json at HEAD: accuracy = nan (rerun the "
        "stage that writes them and commit its outputs)")


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("language", ["", "de"])
def test_a_short_id_several_objects_begin_with_is_named_so(tmp_path, monkeypatch, language):
    # before: "--base f8a8: unknown revision; name a branch, tag, commit or dvc experiment that exists here", though
    # git knew it, as the start of several ids; and in German (git's "Fehler: kurze Objekt-ID f8a8 ist mehrdeutig",
    # read as English) still "unknown revision" after that mend
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # glibc's C.UTF-8 with LANGUAGE: git's translations, no locale to install
    monkeypatch.setenv("LANGUAGE", language)
    project = gate_project(tmp_path)
    made, shared = 0, []
    while not shared:  # annotated tags until two of them (or one and the commit) share their first 4 digits
        for _ in range(100):
            git(project, "tag", "-a", "-m", str(made), f"t{made}")
            made += 1
        starts = [ref[:4] for ref in git(project, "for-each-ref", "--format=%(objectname)").split()]
        shared = sorted({start for start in starts if starts.count(start) > 1})
    assert gate_refused(project, base=shared[0]) == (
        f"error: --base {shared[0]}: several commits or tags here have ids that begin with it; give more of the "
        "commit's digits")


@pytest.mark.hostile("gate")
def test_a_revision_name_with_a_newline_stays_one_line(tmp_path):
    project = gate_project(tmp_path)
    done, before = gate(project, base="HEAD\nfoo")  # before: the error split over two lines
    assert_error_line(done, "--base 'HEAD\\nfoo': unknown revision")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_project_outside_git_fails_with_one_line(tmp_path):
    project = make_project(tmp_path / "loose")
    done, before = gate(project)
    assert_error_line(done, "--base HEAD", "not a git repository")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
@pytest.mark.parametrize(("section", "names", "fix"), [
    ({"tolerances": {"accuracy": "0.005", "per_class.*.recall": 0.02}}, "gate.tolerances.accuracy",
     "is a string, not a number in [0, 0.25] (write numbers without quotes)"),
    ({"tolerances": {"accuracy": -0.1, "per_class.*.recall": 0.02}}, "gate.tolerances.accuracy", "-0.1 is below 0"),
    ({"alpha": 5}, "gate.alpha", "5 is not below 1"),
    ({"alpha": "0.05"}, "gate.alpha", "is a string, not a number in [0.0001, 1)"),
    # before: allowed, and a class that lost 20 of its 100 test images passed
    ({"alpha": 1e-300}, "gate.alpha", "1e-300 is below 0.0001"),
    ({"correction": "sidak"}, "gate.correction", "holm, bonferroni, none"),
    ({"treshold": 0.1}, "gate.treshold", "unknown parameter"),
    ({"files": []}, "gate.files", "[] has 0 item(s)"),
    # before: a typo checked nothing, so a NaN metric passed
    ({"files": ["metrics/evaluate/*.jsn"]}, "gate.files: metrics/evaluate/*.jsn matches no file at HEAD or "
                                            "workspace", "correct the pattern"),
    # before: NotImplementedError from pathlib; ../ read files outside the project
    ({"files": ["/etc/*.conf"]}, 'gate.files[0]: "/etc/*.conf" is not inside the project', "relative to"),
    # before: an IndexError traceback from pathlib's glob of the workspace
    ({"files": ["."]}, "gate.files: . matches no file at HEAD or workspace", "correct the pattern"),
    ({"files": ["../*.json"]}, 'gate.files[0]: "../*.json" is not inside the project', "relative to"),
    # before: no upper bound; at 157 a class that lost every image was "drop not significant"
    ({"overdispersion": 157}, "gate.overdispersion", "157 is above 4"),
    # before (at most 10 until stop 65): at 10, a class of 100 test images that lost 45 and gained none passed
    ({"accuracy_overdispersion": 10}, "gate.accuracy_overdispersion", "10 is above 4"),
])
def test_bad_gate_params_fail_with_one_line(tmp_path, section, names, fix):
    project = gate_project(tmp_path, {**default_params()["gate"], **section})
    done, before = gate(project)
    assert_error_line(done, names, fix)
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_tolerance_the_gate_never_tests_fails(tmp_path):
    """The old per-class F1 tolerance would read as gated while nothing tests it."""
    project = gate_project(tmp_path, {**default_params()["gate"],
                                      "tolerances": {"accuracy": 0.005, "per_class.*.recall": 0.02,
                                                     "per_class.*.f1": 0.02}})
    done, before = gate(project)
    assert_error_line(done, "gate.tolerances: per_class.*.f1", "match no metric")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
@pytest.mark.parametrize(("extra", "line"), [
    ({"per_class.nosuch.false_positives": 0.0}, "per_class.nosuch.false_positives match no metric the gate tests "
                                                 "(accuracy, per_class.<class>.recall, per_class.<class>.false_positives)"),
    ({"per_class.?.false_positives": 0.25}, "per_class.?.false_positives: 0.25 decide no metric"),
])
def test_a_false_positive_tolerance_that_decides_nothing_fails(tmp_path, extra, line):
    # the new key is read as the others are: an entry that matches no class, or is overridden everywhere, is refused
    tolerances = {"accuracy": 0.005, "per_class.*.recall": 0.02, "per_class.*.false_positives": 0.02, **extra}
    project = gate_project(tmp_path, {**default_params()["gate"], "tolerances": tolerances})
    done, before = gate(project)
    assert_error_line(done, "params.yaml at HEAD: gate.tolerances: " + line)
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_negative_false_positive_tolerance_is_refused(tmp_path):
    tolerances = {"accuracy": 0.005, "per_class.*.recall": 0.02, "per_class.*.false_positives": -0.01}
    project = gate_project(tmp_path, {**default_params()["gate"], "tolerances": tolerances})
    done, before = gate(project)
    assert_error_line(done, "gate.tolerances.per_class.*.false_positives", "-0.01 is below 0")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_base_from_before_the_false_positive_test_gates_with_the_default_and_says_so(tmp_path):
    # a base's settings judge the change; a base written before per_class.<class>.false_positives existed names no
    # tolerance for it, and a metric no pattern matches is refused: every such project's gate would have stopped
    project = gate_project(tmp_path, {**default_params()["gate"],
                                      "tolerances": {"accuracy": 0.005, "per_class.*.recall": 0.02}})
    note = ("- gate settings: HEAD's gate.tolerances match no per_class.<class>.false_positives; 0.02 used (add e.g. "
            "'per_class.*.false_positives: 0.02' there)")
    done, _ = gate(project, "--all")
    assert done.returncode == 0 and done.stderr == "", done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert note in lines and lines[-1].startswith("gate: PASS — 2 variant(s), 42 paired tests")
    assert "- gate settings: HEAD's; workspace's differ in" not in done.stdout  # the workspace's params are HEAD's
    assert all(line.split(" | ")[-2] == "0.02" for line in lines if "(false positives)" in line and line[0] == "|")
    planted_drop(project)  # class 3's 40 lost go to class 4
    done, _ = gate(project)
    assert done.returncode == 1 and note in done.stdout.splitlines()
    assert done.stdout.splitlines()[-1].endswith("; baseline 4 (false positives) +0.4000 (p adj < 0.0001)")


@pytest.mark.hostile("gate")
def test_a_base_pattern_over_recall_that_now_decides_false_positives_says_so(tmp_path):
    # before: a base's per_class.*: 0.1, written when it matched recall alone, set the false positives' tolerance
    # to 0.1 with no word, where a base matching none of them was told 0.02 was used
    project = gate_project(tmp_path, {**default_params()["gate"],
                                      "tolerances": {"accuracy": 0.005, "per_class.*": 0.1}})
    done, _ = gate(project, "--all")
    assert done.returncode == 0 and done.stderr == "", done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert ("- gate settings: HEAD's gate.tolerances.per_class.* 0.1 decides per_class.<class>.false_positives too, "
            "as it matches them; to set them apart, replace it there by entries naming the metrics (e.g. "
            "'per_class.*.recall', 'per_class.*.false_positives')") in lines
    assert not any("match no per_class.<class>.false_positives" in line for line in lines)
    shown = [line.split(" | ")[-2] for line in lines if "(false positives)" in line and line[0] == "|"]
    assert shown == ["0.1"] * 20  # 2 variants of 10 classes


@pytest.mark.hostile("gate")
def test_a_strict_entry_after_a_loose_pattern_still_gates_its_class(tmp_path):
    # before: the first matching pattern won, so per_class.1.recall: 0 after per_class.*.recall: 0.95 was never
    # read, and class 1 losing 90 of its 100 images passed as "drop within tolerance"
    tolerances = {"accuracy": 0.25, "per_class.*.recall": 0.25, "per_class.1.recall": 0.0}
    project = gate_project(tmp_path, {**default_params()["gate"], "tolerances": tolerances})
    labels = labels_of()
    lost = [i for i in np.flatnonzero(labels == "1")[:90] if i not in (1, 2)]
    write_variant(project, "baseline", labels, wrong_on(labels, [1, 2, *lost]))
    done, _ = gate(project)
    assert done.returncode == 1, done.stdout + done.stderr
    # class 2 took those 90 images: its false positives (the default tolerance 0.02, the base naming none) regress
    assert ("gate: FAIL — 2 regression(s): baseline 1 -0.9000 (p adj < 0.0001); baseline 2 (false positives) +0.9000 "
            "(p adj < 0.0001)") in done.stdout


@pytest.mark.hostile("gate")
def test_the_entry_of_a_class_whose_name_holds_glob_characters_gates_that_class(tmp_path):
    # before: "gate.tolerances: per_class.a[1].recall match no metric the gate tests": the entry was read only as an
    # fnmatch pattern, whose [1] matches "1", never the class a[1] it names
    classes = ["a[1]", "b"]
    tolerances = {"accuracy": 0.25, "per_class.*.recall": 0.25, "per_class.a[1].recall": 0.0}
    project = make_project(tmp_path / "project", default_params() | {
        "gate": {**default_params()["gate"], "tolerances": tolerances}})
    labels = labels_of(100, classes)
    write_variant(project, "baseline", labels, labels, classes=classes)
    init(project)
    write_variant(project, "baseline", labels, wrong_on(labels, range(20), classes=classes), classes=classes)
    done, _ = gate(project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ""
    # b took those 20 images: 20 per 100 of b's own, its false positives regress too
    assert done.stdout.splitlines()[-1].startswith("gate: FAIL — 2 regression(s): baseline a\\[1\\] -0.2000 (p adj ")
    assert "; baseline b (false positives) +0.2000 (p adj " in done.stdout.splitlines()[-1]


@pytest.mark.hostile("gate")
def test_tolerances_the_base_lacks_are_refused_as_the_bases(tmp_path):
    # before (found by a probe): the base's tolerances without a per-class pattern were refused with "gate.tolerances:
    # no pattern matches per_class.0.recall ...; add e.g. 'per_class.*.recall: 0.02'", though the workspace's
    # params.yaml held that entry: the change mending the base's settings is judged by them, and nothing said so
    project = gate_project(tmp_path, {**default_params()["gate"], "tolerances": {"accuracy": 0.005}})
    make_project(project, default_params())  # the workspace's params.yaml mended
    assert gate_refused(project) == (
        "error: params.yaml at HEAD: gate.tolerances: no pattern matches per_class.0.recall (the gate tests accuracy "
        "and per_class.<class>.recall); add e.g. 'per_class.*.recall: 0.02'; the gate takes its settings from HEAD: "
        "correct them there")


@pytest.mark.hostile("gate")
def test_a_gate_files_typo_at_the_base_is_refused_as_the_bases(tmp_path):
    # before: "params.yaml gate.files: metrics/evaluate/*.jsn matches no file at HEAD or workspace; correct the
    # pattern", though the workspace's params.yaml held the right pattern: the base's files are gated, and the line
    # sent the user to a file already mended
    project = gate_project(tmp_path, {**default_params()["gate"], "files": ["metrics/evaluate/*.jsn"]})
    make_project(project, default_params())  # the workspace's params.yaml mended
    assert gate_refused(project) == (
        "error: params.yaml at HEAD: gate.files: metrics/evaluate/*.jsn matches no file at HEAD or workspace; correct "
        "the pattern (gated files are metrics JSON, e.g. metrics/evaluate/*.json); the gate takes its settings from "
        "HEAD: correct them there")


@pytest.mark.hostile("gate")
def test_a_tolerance_overridden_everywhere_it_matches_fails(tmp_path):
    # before: a looser pattern after per_class.*.recall was never read, and nothing said so
    tolerances = {"accuracy": 0.005, "per_class.*.recall": 0.02, "per_class.?.recall": 0.25}
    project = gate_project(tmp_path, {**default_params()["gate"], "tolerances": tolerances})
    assert gate_refused(project) == (
        "error: params.yaml at HEAD: gate.tolerances: per_class.?.recall: 0.25 decide no metric: each metric a "
        "pattern matches takes its own key's entry, else the strictest pattern that matches it, whatever the order; "
        "remove them or make them stricter than what overrides them; the gate takes its settings from HEAD: correct "
        "them there")


@pytest.mark.hostile("gate")
def test_no_gate_section_fails_with_one_line(tmp_path):
    project = init(make_project(tmp_path / "project", {k: v for k, v in default_params().items() if k != "gate"}))
    done, before = gate(project)
    assert_error_line(done, "params.yaml at HEAD and at workspace: no gate section, so no tolerances to judge by; add "
                            "one (files, tolerances, alpha, correction) to the working tree's params.yaml")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_predictions_missing_at_head_fail_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    (project / predictions_path("pruned")).unlink()
    done, before = gate(project)
    assert_error_line(done, "metrics/evaluate/pruned/predictions.csv missing at workspace", "dvc repro evaluate")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_base_that_predates_predictions_fails_with_one_line(tmp_path):
    project = make_project(tmp_path / "project")
    write_metrics(project, "baseline", {"accuracy": 0.96, "macro": {"f1": 0.96}, "per_class": {"0": {"f1": 0.9}}})
    init(project)
    labels = labels_of()
    write_variant(project, "baseline", labels, labels.copy())
    done, before = gate(project)
    assert_error_line(done, "metrics/evaluate/baseline/predictions.csv missing at HEAD", "commit metrics/evaluate/")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_variant_gone_at_head_fails_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    (project / predictions_path("pruned")).unlink()
    (project / metrics_path("pruned")).unlink()
    # still in params.yaml's variants: its files are missing, not the variant (before: the advice to pass
    # --variants, which would leave a failed evaluate out of the gate)
    done, before = gate(project)
    line = assert_error_line(done, "pruned/predictions.csv missing at workspace", "run `dvc repro evaluate`")
    assert "pass --variants" not in line
    assert_nothing_left(project, before)
    params = default_params()
    params["variants"], params["contracts"]["enforce_variants"] = ["oracle", "baseline", "balanced"], ["baseline"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    done, _ = gate(project)
    assert_error_line(done, "pruned/predictions.csv missing at workspace (the variant is gone there: pass --variants")


@pytest.mark.hostile("gate")
def test_an_unknown_variant_fails_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    done, before = gate(project, "--variants", "baseline", "prunned")
    assert_error_line(done, "--variants prunned", "evaluated: baseline, pruned")
    assert_nothing_left(project, before)
    # before: baseline's rows were tested twice and every regression of it counted twice
    assert gate_refused(project, "--variants", "baseline", "baseline") == (
        "error: gate --variants: baseline given twice; name each variant once")


@pytest.mark.hostile("gate")
def test_another_test_set_fails_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    labels = labels_of()
    write_variant(project, "baseline", labels, labels.copy(), ids=[f"other-{i}" for i in range(len(labels))])
    done, before = gate(project)
    assert_error_line(done, "baseline: base and head were tested on different test sets",
                      "1000 ids at base only, 1000 at head only")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("failed", ["HEAD", "workspace"])
def test_a_model_that_never_learnt_at_either_side_fails_with_one_line(tmp_path, failed):
    # before: a base whose baseline named one class for all 1,000 test images passed any head (nothing regresses
    # below it), and a head that named one class passed beside such a base: "gate: PASS"
    project = gate_project(tmp_path)
    labels = labels_of()
    write_variant(project, "baseline", labels, np.full(len(labels), "0", dtype=object))  # right on the 100 of "0"
    if failed == "HEAD":
        commit(project)
        write_variant(project, "baseline", labels, wrong_on(labels, [1, 2]))
    assert gate_refused(project) == (
        f"error: metrics/evaluate/baseline/predictions.csv at {failed}: the model's recalls of the 10 test classes add "
        "up to 1.0000 (right on 100 of 1000 test images), no more than naming one class for every image scores (1): "
        "it did not learn, so the gate cannot judge baseline by it; rerun train@baseline and evaluate@baseline there "
        "(check train.lr, train.weight_decay and train.epochs), or pass revisions whose models learnt")


@pytest.mark.hostile("gate")
def test_a_model_below_the_largest_class_share_of_a_skewed_test_split_is_gated(tmp_path):
    # before: refused as "did not learn": right on 890 of 1,000 test images, 910 of them class 0, though it found
    # every image of the nine other classes (recall 0.88 on 0, 1.0 on each other): accuracy alone was weighed
    project = make_project(tmp_path / "project")
    labels = np.concatenate([np.full(910, "0", dtype=object), labels_of(10, classes=CLASSES[1:])])
    write_variant(project, "baseline", labels, wrong_on(labels, range(110)))
    init(project)
    done, _ = gate(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == ("gate: PASS — 1 variant(s), 21 paired tests, no significant drop beyond "
                                           "its tolerance")


@pytest.mark.hostile("gate")
def test_relabelled_test_images_fail_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    labels = labels_of()
    relabelled = labels.copy()
    relabelled[:3] = "9"
    write_variant(project, "baseline", relabelled, relabelled.copy())
    done, before = gate(project)
    assert_error_line(done, "baseline: 3 test images carry other labels at head", "'test-0000': '0' at base, '9'")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
@pytest.mark.parametrize(("text", "fix"), [("id,label\nx,0\n", "no column predicted"),
                                           ("id,label,predicted\n", "no rows"),
                                           ("id,label,predicted\nx,0,0\nx,1,1\n", "1 repeated ids, first 'x'"),
                                           # before: both passed, the image counted wrong at head
                                           ("id,label,predicted\nx,0,zebra\ny,1,1\n",
                                            "predicted 'zebra' (id 'x', 1 row(s)) is no class of the test labels"),
                                           ("id,label,predicted\nx,0,\ny,1,1\n",
                                            "1 row(s) without a predicted, first id 'x'")])
def test_broken_predictions_fail_with_one_line(tmp_path, text, fix):
    project = gate_project(tmp_path)
    (project / predictions_path("baseline")).write_text(text)
    done, before = gate(project)
    assert_error_line(done, "metrics/evaluate/baseline/predictions.csv at workspace", fix)
    assert_nothing_left(project, before)


# --- compare -----------------------------------------------------------------------------------------------

def exp_show(tmp_path, runs):
    """A saved `dvc exp show --json`: one commit whose experiments are ``runs`` (name, seed, per_class, params)."""
    def record(name, seed, per_class, params=None):
        metrics = {metrics_path(v): {"data": {"accuracy": 0.9, "macro": {"f1": 0.8},
                                              "per_class": {c: {"f1": f} for c, f in f1.items()}}}
                   for v, f1 in per_class.items()}
        return {"rev": f"{name:0<40}"[:40], "name": name,
                "data": {"params": {"params.yaml": {"data": {"seed": seed, **(params or {})}}}, "metrics": metrics}}

    head, *experiments = [record(*run) for run in runs]
    path = tmp_path / "exp.json"
    path.write_text(json.dumps([{**head, "experiments": [{"revs": [e]} for e in experiments]}]))
    return path


def two_seeds(classes):
    return [("c0ffee", 0, {"baseline": dict(zip(classes, [0.9, 0.8])), "pruned": dict(zip(classes, [0.95, 0.7]))}),
            ("exp-1", 1, {"baseline": dict(zip(classes, [0.8, 0.8])), "pruned": dict(zip(classes, [0.9, 0.8]))})]


@pytest.mark.hostile("compare")
def test_compare_an_unknown_variant_fails_with_one_line(tmp_path):
    project = make_project(tmp_path / "project")
    saved = exp_show(tmp_path, two_seeds(["a", "b"]))
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "prunned")
    assert_error_line(done, "compare --variants", "no run has metrics for prunned", "runs hold baseline, pruned")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_a_params_variant_nobody_evaluated_fails_with_one_line(tmp_path):
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "balanced"],
                                                                      "contracts": {"enforce_variants": []}})
    saved = exp_show(tmp_path, two_seeds(["a", "b"]))
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved))
    assert_error_line(done, "params.yaml variants", "balanced (metrics/evaluate/balanced.json)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("name", "average_row"), [("average", "(average)"), ("std", "average")])
def test_compare_a_class_named_like_a_summary_row(tmp_path, name, average_row):
    project = make_project(tmp_path / "project")
    saved = exp_show(tmp_path, two_seeds([name, "b"]))
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line for line in done.stdout.split("## f1: paired")[0].splitlines()
            if line.startswith("| ")}
    assert f"| {name} | 0.8500 ± 0.0707 | 0.9250 ± 0.0354 |" in rows[name]  # the class's own mean over seeds
    assert f"| {average_row} | 0.8250 ± 0.0354 | 0.8375 ± 0.0177 |" in rows[average_row]


@pytest.mark.hostile("compare")
def test_compare_leaves_out_a_commit_holding_another_data_set(tmp_path):
    """A fresh clone holds MNIST metrics at HEAD; the user's seeds ran on their own data: no crash, no mixing."""
    project = make_project(tmp_path / "project")
    own = {"source": "imagefolder"}
    saved = exp_show(tmp_path, [
        ("c0ffee", 0, {"baseline": {"0": 0.99, "1": 0.98}, "pruned": {"0": 0.99, "1": 0.97}}, {"ingest": {"source": "mnist5k"}}),
        ("own-0", 0, {"baseline": {"cat": 0.7, "dog": 0.6}, "pruned": {"cat": 0.8, "dog": 0.6}}, {"ingest": own}),
        ("own-1", 1, {"baseline": {"cat": 0.6, "dog": 0.6}, "pruned": {"cat": 0.7, "dog": 0.7}}, {"ingest": own}),
    ])
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    assert "# Variants over 2 run(s) (seeds 0, 1)" in done.stdout
    assert "left out 1 run(s) with other settings (ingest.source): c0ffee" in done.stdout
    assert "| cat | 0.6500 ± 0.0707 | 0.7500 ± 0.0707 |" in done.stdout and "| 0 |" not in done.stdout


@pytest.mark.hostile("compare")
def test_compare_a_metric_that_is_not_a_number_fails_with_one_line(tmp_path):
    project = make_project(tmp_path / "project")
    runs = two_seeds(["a", "b"])
    runs[1][2]["pruned"]["b"] = "None"
    saved = exp_show(tmp_path, runs)
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned")
    assert_error_line(done, "pruned: per_class.b.f1 is 'None', not a number", "rerun evaluate@pruned")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_a_seed_that_is_not_an_integer_fails_with_one_line(tmp_path):
    # before: "0" and 0 counted as two seeds of one setting
    project = make_project(tmp_path / "project")
    runs = two_seeds(["a", "b"])
    runs[1] = (runs[1][0], "0", runs[1][2])
    saved = exp_show(tmp_path, runs)
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned")
    line = assert_error_line(done)
    assert line == ("error: experiment exp-1: params seed '0' is not an integer; compare reads the runs' params as "
                    "`dvc exp show --json` writes them")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("value", "shown"), [(float("nan"), "nan"), (7.0, "7.0"), (-3.0, "-3.0")])
def test_compare_a_metric_outside_0_1_fails_with_one_line(tmp_path, value, shown):
    # before: exit 0, "nan ± nan" cells, and an F1 of 7 raised the average to 2.2; then a line that did not say
    # which of the runs held it
    project = make_project(tmp_path / "project")
    runs = two_seeds(["a", "b"])
    runs[1][2]["pruned"]["b"] = value
    saved = exp_show(tmp_path, runs)
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned")
    line = assert_error_line(done)
    assert line == (f"error: experiment exp-1: pruned: per_class.b.f1 is {shown}, not a number in [0, 1]; rerun "
                    "evaluate@pruned")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_stage_on_variants_with_other_classes_fails_with_one_line(tmp_path):
    # before: pandas sorted the union of rows (a, average, b, c, std), so class c was shown as the average
    # and the average entered the paired test as a class; exit 0
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    for variant, classes in (("baseline", "abc"), ("pruned", "abd")):
        write_metrics(project, variant, {"accuracy": 0.9})
        (project / summary_path(variant)).parent.mkdir(parents=True)
        (project / summary_path(variant)).write_text(json.dumps({"per_class": {
            c: {**{m: 0.5 for m in ("precision", "recall", "f1", "accuracy")}, "support": 5} for c in classes}}))
    assert refused_line(project, "compare") == ("error: pruned: its classes differ from baseline's (lacks c; has d "
                                                "too); variants are compared on one test set: rerun evaluate@pruned")


@pytest.mark.hostile("compare")
def test_compare_stage_without_a_summary_fails_with_one_line(tmp_path):
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    write_metrics(project, "baseline", {"accuracy": 0.9})
    (project / summary_path("baseline")).parent.mkdir(parents=True)
    (project / summary_path("baseline")).write_text(json.dumps({"per_class": {"a": {
        **{m: 0.5 for m in ("precision", "recall", "f1", "accuracy")}, "support": 5}}}))
    before = files_under(project)
    done = run_stage(project, "compare")
    assert_error_line(done, "metrics/evaluate/pruned/summary.json: not found", "dvc repro evaluate@pruned")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_stage_with_a_class_named_average(tmp_path):
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    for variant, score in (("baseline", 0.2), ("pruned", 0.4)):
        values = {"average": score, "b": 0.6}
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(json.dumps(
            {"per_class": {c: {**{m: v for m in ("precision", "recall", "f1", "accuracy")}, "support": 5}
                           for c, v in values.items()}}))
    done = run_stage(project, "compare")
    assert done.returncode == 0, done.stderr
    f1 = (project / "reports/compare.md").read_text().split("## f1")[1]
    assert "| average | 0.2000 | 0.4000 |" in f1 and "| (average) | 0.4000 | 0.5000 |" in f1
    assert "compare: macro F1 baseline 0.4000, pruned 0.5000" in done.stdout


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("text", "fix"), [('[{"rev": ', "is not JSON"), ('{"rev": "x"}', "list of revisions")])
def test_compare_a_broken_saved_exp_show_fails_with_one_line(tmp_path, text, fix):
    project = make_project(tmp_path / "project")
    (tmp_path / "exp.json").write_text(text)
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(tmp_path / "exp.json"), "--variants", "baseline")
    assert_error_line(done, "--from-json", fix)
    assert_nothing_left(project, before)


def _run_commit(project, tag: str, **params) -> None:
    """A committed run of ``project`` with these top-level params (the test split and predictions as
    gate_project wrote them), tagged ``tag``."""
    import subprocess

    import yaml

    values = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump({**values, **params}, sort_keys=False))
    commit(project, tag)
    subprocess.run(["git", "tag", tag], cwd=project, check=True)


@pytest.mark.hostile("gate")
def test_pooled_runs_that_differ_in_more_than_the_seed_fail_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    _run_commit(project, "a", seed=1)
    _run_commit(project, "b", seed=2, train={**default_params()["train"], "epochs": 3})
    done, before = gate(project, "--target", "a", "b", base="HEAD~2")  # b is HEAD: not a base run too
    assert_error_line(done, "--target a b: the runs differ in train.epochs, not only in seed",
                      "dvc exp run -S seed=N")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_pooled_runs_of_one_seed_fail_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    _run_commit(project, "a", seed=4)
    _run_commit(project, "b", seed=4)
    done, before = gate(project, "--target", "a", "b", base="HEAD~2")  # b is HEAD: not a base run too
    assert_error_line(done, "--target a b: both ran seed 4", "its own seed")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_pooled_run_on_another_test_set_fails_with_one_line(tmp_path):
    project = gate_project(tmp_path)
    _run_commit(project, "a", seed=1)
    labels = labels_of()
    write_variant(project, "baseline", labels, labels.copy(), ids=[f"other-{i}" for i in range(len(labels))])
    _run_commit(project, "b", seed=2)
    done, before = gate(project, "--target", "a", "b", base="HEAD~2")  # b is HEAD: not a base run too
    assert_error_line(done, "baseline: the runs (a head run and the first base run) were tested on different test "
                      "sets", "1000 ids in the first base run only, 1000 in that head run only",
                      "gate runs of the same data and ingest.split_seed")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("committed", [False, True], ids=["workspace", "base"])
def test_a_gated_file_that_is_not_utf8_fails_with_one_line(tmp_path, committed):
    # before: a UnicodeDecodeError traceback
    project = gate_project(tmp_path)
    path = project / metrics_path("pruned")
    data = path.read_bytes().replace(b'"accuracy"', b'"caf\xe9": 1, "accuracy"', 1)
    path.write_bytes(data)
    if committed:
        commit(project, "a Latin-1 byte committed")
        write_variant(project, "pruned", labels_of(), wrong_on(labels_of(), [1, 2]))  # the workspace is fine again
    done, before = gate(project)
    where = "at " + git(project, "rev-parse", "HEAD").strip()[:12] if committed else "at the workspace"
    line, offset = assert_error_line(done), data.index(b"\xe9")
    assert line == (f"error: metrics/evaluate/pruned.json {where}: not UTF-8 text (byte {offset}); "
                    "rerun the stage that writes it and commit its outputs")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_project_in_a_folder_of_its_git_repository_is_gated(tmp_path):
    """dvc init --subdir: git lists the project's files relative to it, but git show read them from the
    repository's root, so every gated file read as invalid JSON. A regression must be found there too."""
    project = make_project(tmp_path / "mono" / "project")
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    init(tmp_path / "mono")
    write_variant(project, "pruned", labels, wrong_on(labels, range(100)))  # class 0 lost every image
    done, before = gate(project)
    assert done.returncode == 1 and "REGRESSED" in done.stdout, done.stdout + done.stderr
    assert "error:" not in done.stderr


def planted_drop(project):
    """Class 3 of baseline loses 40 of its 100 test images at the workspace (recall 0.98 -> 0.58)."""
    labels = labels_of()
    class3 = np.flatnonzero(labels == "3")
    write_variant(project, "baseline", labels, wrong_on(labels, [1, 2, *class3[:40]]))


@pytest.mark.hostile("gate")
@pytest.mark.parametrize(("loosened", "named"), [
    ({"tolerances": {"accuracy": 0.25, "per_class.*.recall": 0.25, "per_class.*.false_positives": 0.25}},
     "gate.tolerances.accuracy, gate.tolerances.per_class.*.false_positives, gate.tolerances.per_class.*.recall"),
    ({"alpha": 1e-4}, "gate.alpha"),
])
def test_a_change_cannot_loosen_the_gate_that_judges_it(tmp_path, loosened, named):
    # before: the gate read gate.* from the workspace it gated, so this change passed its own regression
    project = gate_project(tmp_path)
    planted_drop(project)
    make_project(project, default_params() | {"gate": default_params()["gate"] | loosened})
    done, _ = gate(project)
    assert done.returncode == 1 and "gate: FAIL" in done.stdout
    assert (f"- gate settings: HEAD's; workspace's differ in {named} and judge the changes after it is merged "
            "(a change cannot loosen its own gate)") in done.stdout.splitlines()


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("accuracy", [0.3, 1.0])
def test_a_base_tolerance_above_the_cap_is_held_to_it_not_refused(tmp_path, accuracy):
    # found by review: tolerances were capped at 0.25, and a base that allowed 0.3 then stopped every gate for good,
    # the change that lowers it too (a change is judged by its base's settings)
    loose = {"accuracy": accuracy, "per_class.*.recall": 0.02}
    project = gate_project(tmp_path, {**default_params()["gate"], "tolerances": loose})  # committed as HEAD ...
    make_project(project)  # ... and lowered in the workspace
    planted_drop(project)
    done, _ = gate(project)
    assert done.returncode == 1 and "gate: FAIL" in done.stdout, done.stdout + done.stderr
    assert f"- gate settings: HEAD's gate.tolerances.accuracy {accuracy:g} is above 0.25; 0.25 used" in \
        done.stdout.splitlines()


@pytest.mark.hostile("gate")
def test_a_base_overdispersion_above_the_cap_is_held_to_it_not_refused(tmp_path):
    # found by probing: phi went up to 10, and there a class that lost 45 of 100 test images passed (p adj 0.44); a
    # base holding such a phi, legal before, is held to the cap, as tolerances are, rather than stopping every gate
    project = gate_project(tmp_path, {**default_params()["gate"], "overdispersion": 10})  # committed as HEAD ...
    make_project(project)  # ... and lowered in the workspace
    planted_drop(project)
    done, _ = gate(project)
    assert done.returncode == 1 and "gate: FAIL" in done.stdout, done.stdout + done.stderr
    assert "- gate settings: HEAD's gate.overdispersion 10 is above 4; 4 used" in done.stdout.splitlines()


@pytest.mark.hostile("gate")
def test_malformed_gate_settings_at_the_base_fail_with_one_line(tmp_path):
    project = gate_project(tmp_path, {**default_params()["gate"], "alpha": 5})  # committed as HEAD ...
    make_project(project)  # ... and corrected in the workspace only
    done, before = gate(project)
    assert_error_line(done, "params.yaml at HEAD: gate.alpha: 5 is not below 1",
                      "the gate takes its settings from HEAD: correct them there")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_base_tolerance_past_floats_range_fails_with_one_line(tmp_path):
    # before: a traceback (OverflowError: int too large to convert to float) from the cap's check of the base's
    # tolerances, which ran math.isfinite on it before params.yaml's own rules could refuse it
    project = gate_project(tmp_path, {**default_params()["gate"], "tolerances": {"accuracy": 10**400}})
    make_project(project)  # ... and corrected in the workspace only
    assert gate_refused(project) == (
        f"error: params.yaml at HEAD: gate.tolerances.accuracy: {str(10**400)[:57]}... is past the largest number a "
        "float holds (about 1.8e308); allowed: a number in [0, 0.25]; the gate takes its settings from HEAD: correct "
        "them there")


def test_a_base_from_before_the_gate_lends_the_targets_settings_and_says_so(tmp_path):
    project = make_project(tmp_path / "project", {k: v for k, v in default_params().items() if k != "gate"})
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, [1, 2]))
    init(project)
    planted_drop(project)
    make_project(project)
    done, _ = gate(project)
    assert done.returncode == 1 and "gate: FAIL" in done.stdout
    assert "- gate settings: workspace's (params.yaml at HEAD has no gate section)" in done.stdout.splitlines()


@pytest.mark.hostile("gate")
@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda m: m | {"accuracy": 7}, "accuracy is 7 but its predictions give 0.998000"),
    (lambda m: m | {"per_class": {**m["per_class"], "4": {"f1": -0.5}}}, "per_class.4.f1 is -0.5 but its predictions "
                                                                          "give 1.000000"),
    (lambda m: m | {"per_class": {k: v for k, v in m["per_class"].items() if k != "4"}},
     "per_class.4.f1 is None but its predictions give 1.000000"),
])
def test_metrics_that_disagree_with_their_predictions_fail_with_one_line(tmp_path, edit, fragment):
    # before: the gate passed, and dvc exp show went on showing the edited numbers
    project = gate_project(tmp_path)
    write_metrics(project, "baseline", edit(headline_of(project)))
    done, before = gate(project)
    assert_error_line(done, "metrics/evaluate/baseline.json at workspace", fragment, "rerun evaluate")
    assert_nothing_left(project, before)


def test_a_prediction_of_a_class_without_test_images_is_gated(tmp_path):
    # before: refused as "no class of the test labels", though evaluate knew the class (F1 0 in its metrics)
    project = make_project(tmp_path / "project")
    labels = labels_of(classes=CLASSES[:9])  # class 9 has no test image
    predicted = labels.copy()
    predicted[[5, 6]] = "9"
    write_variant(project, "baseline", labels, predicted)
    init(project)
    done, _ = gate(project)
    assert done.returncode == 0 and "gate: PASS" in done.stdout, done.stdout + done.stderr


@pytest.mark.hostile("gate")
def test_a_target_with_malformed_gate_settings_is_judged_by_the_bases(tmp_path):
    # before: refused, telling the user to correct the base's settings, which were fine
    project = gate_project(tmp_path)
    make_project(project, default_params() | {"gate": default_params()["gate"] | {"alpha": 5}})
    commit(project, "a change that breaks gate.alpha")
    make_project(project)  # the workspace's own params.yaml is valid (every command checks it whole)
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, [1, 2]))
    done = run_winnow(project, "gate", "--base", "HEAD~1", "--target", "HEAD")
    assert done.returncode == 0 and "gate: PASS" in done.stdout, done.stdout + done.stderr
    assert ("- gate settings: HEAD~1's; HEAD's differ in gate.alpha and judge the changes after it is merged (a "
            "change cannot loosen its own gate)") in done.stdout.splitlines()


def _with_digests(project, variant, digests) -> None:
    path = project / predictions_path(variant)
    frame = pd.read_csv(path, dtype=str)
    frame["digest"] = digests
    frame.to_csv(path, index=False)


def digested_repo(root, *, head: int | None = None):
    """A gate repository whose baseline predictions hold pixel digests at the base commit and in the work tree, the
    work tree's test image ``head`` (None: none) under other pixels."""
    project = make_project(root)
    labels = labels_of()
    digests = [f"{i:016x}" for i in range(len(labels))]
    write_variant(project, "baseline", labels, labels.copy())
    _with_digests(project, "baseline", digests)
    init(project)
    write_variant(project, "baseline", labels, labels.copy())
    _with_digests(project, "baseline", digests if head is None else digests[:head] + ["f" * 16] + digests[head + 1:])
    return project


@pytest.mark.hostile("gate")
def test_test_images_with_other_pixels_under_the_same_ids_are_refused(tmp_path):
    # before: ids are file paths, so a test set re-exported with the same names and other pixels (or hard test
    # images swapped for easy ones) was paired image by image and the gate passed
    project = digested_repo(tmp_path / "project", head=7)
    assert gate_refused(project) == (
        "error: baseline: 1 test images have other pixels at head under the same id, e.g. 'test-0007'; the gate "
        "pairs the same images: the test split must not change between the revisions gated")


@pytest.mark.hostile("gate")
def test_files_a_variant_left_behind_when_dropped_from_variants_are_not_gated(tmp_path):
    # before: DVC never deletes a dropped variant's evaluate outputs, so the gate tested pruned's files from the run
    # before it was dropped (and any variant's left from another data set) and passed
    project = gate_project(tmp_path)
    params = default_params()
    params["variants"], params["contracts"]["enforce_variants"] = ["oracle", "baseline", "balanced"], ["baseline"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    done, before = gate(project)
    assert assert_error_line(done) == (
        "error: pruned is not in params.yaml's variants at workspace, so its evaluate files there are left over from "
        "a run before it was dropped (pass --variants to gate the others); the gate pairs every variant's test "
        "predictions at both revisions: run `dvc repro evaluate` and commit metrics/evaluate/ at each")
    assert files_under(project) == before
    done, _ = gate(project, "--variants", "baseline")
    assert done.returncode == 0 and "gate: PASS — 1 variant(s)" in done.stdout, done.stderr


def test_a_gate_key_renamed_since_the_base_is_left_out_and_said(tmp_path):
    # before: "unknown parameter" at the base, so the change that renamed the key could never pass
    project = gate_project(tmp_path, default_params()["gate"] | {"phi": 1.5})
    make_project(project)
    done, _ = gate(project)
    assert done.returncode == 0 and "gate: PASS" in done.stdout, done.stdout + done.stderr
    assert "- gate settings: HEAD's gate.phi is no parameter now; left out" in done.stdout.splitlines()


@pytest.mark.hostile("gate")
def test_a_class_named_as_another_classs_false_positive_row_is_named_in_a_warning(tmp_path):
    # before: class 'x (false positives)''s recall row and class x's false-positive row showed the same class cell,
    # and nothing said that one name stood for two rows
    names = ["x", "x (false positives)", "y"]
    project = make_project(tmp_path / "project")
    labels = labels_of(classes=names)
    write_variant(project, "baseline", labels, labels, classes=names)
    init(project)
    done, _ = gate(project, "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split(" | ")[1] for line in done.stdout.splitlines() if line.startswith("| baseline |")]
    assert rows == ["all (accuracy)", "x", "x (false positives)", "x (false positives)",
                    "x (false positives) (false positives)", "y", "y (false positives)"]
    warning = ("- warning: baseline: the recall row of class x (false positives) reads as class x's false-positive "
               "row (that one comes first, after x's own row); rename the class to tell them apart")
    assert warning in done.stdout.splitlines()
    assert (project / REPORT).read_text() == done.stdout


# names a class folder can hold: a cell break, a line break, a tag, a right-to-left override, emphasis, a mention, an
# issue link, a Hebrew name (isolated: it showed its row's numbers swapped in a bidi-aware plain-text view)
HOSTILE_NAMES = ["a|b", "line\nbreak", "<img src=x onerror=alert(1)>", "\u202eevil", "*cat*", "@team", "#1",
                 "\u05d7\u05ea\u05d5\u05dc", "plain"]
HOSTILE_SHOWN = ["a\\|b", "line\\u000abreak", "&lt;img src=x onerror=alert(1)&gt;", "\\u202eevil", "\\*cat\\*",
                 "\\@team", "\\#1", "\u2068\u05d7\u05ea\u05d5\u05dc\u2069", "plain"]


def _cells(line: str) -> int:
    """The cells of a markdown table row: its unescaped ``|`` less one."""
    return line.replace("\\|", "").count("|") - 1


@pytest.mark.hostile("gate")
def test_class_names_from_the_data_cannot_break_or_mark_up_the_gate_report(tmp_path):
    # before: the line break split the table, the tag was written raw into the pull-request comment, and the
    # override showed the rest of its row (numbers and verdict) reversed
    project = make_project(tmp_path / "project")
    labels = labels_of(classes=HOSTILE_NAMES)
    write_variant(project, "baseline", labels, labels, classes=HOSTILE_NAMES)
    init(project)
    # 60 of each class's 100 wrong but plain's: every class but plain regresses, and the head still learnt (a head
    # right on plain alone is no better than naming it, refused before any table)
    every = np.flatnonzero((labels != "plain") & (np.arange(len(labels)) % 100 < 60))
    write_variant(project, "baseline", labels, wrong_on(labels, every, classes=HOSTILE_NAMES), classes=HOSTILE_NAMES)
    done, _ = gate(project, "--all")
    assert done.returncode == 1, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| baseline |")]
    assert sorted(row.split(" | ")[1] for row in rows) == sorted(
        ["all (accuracy)", *HOSTILE_SHOWN, *(f"{shown} (false positives)" for shown in HOSTILE_SHOWN)])
    assert {_cells(row) for row in rows} == {12}
    fail = done.stdout.splitlines()[-1]
    # accuracy, the 8 classes that lost 60, and the 8 that took them (each the next class; plain lost nothing)
    assert fail.startswith("gate: FAIL — 17 regression(s): ")
    assert all(f"baseline {shown} -0.6000" in fail for shown in HOSTILE_SHOWN[:-1])
    assert all(f"baseline {shown} (false positives) +0.6000" in fail for shown in HOSTILE_SHOWN[1:])
    assert (project / REPORT).read_text() == done.stdout


@pytest.mark.hostile("compare")
def test_class_names_from_the_data_cannot_break_the_compare_tables(tmp_path):
    # before: a|b added a cell, so baseline's F1 stood in pruned's column; the line break ended the table
    metrics = {metrics_path(v): {"data": {"accuracy": 0.9, "macro": {"f1": 0.8},
                                          "per_class": {c: {"f1": f} for c in HOSTILE_NAMES}}}
               for v, f in (("baseline", 0.5), ("pruned", 0.75))}
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([{"rev": "c" * 40, "name": "c0ffee",
                                  "data": {"params": {"params.yaml": {"data": {"seed": 0}}}, "metrics": metrics}}]))
    done = run_winnow(make_project(tmp_path / "project"), "compare", "--from-json", str(saved),
                      "--variants", "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    means = done.stdout.split("## f1 (one run: its values, no std over runs)\n")[1].strip().split("\n\n")[0].splitlines()
    assert [row.split(" | ")[0][2:] for row in means[2:]] == [*HOSTILE_SHOWN, "average", "std"]
    assert {_cells(row) for row in means} == {3}


# A DVC pipeline in the shape of the project's: train@baseline writes a "model" (how many test images it gets
# wrong), evaluate@baseline its predictions and metrics
STALE_DVC_YAML = """stages:
  train:
    foreach: [baseline]
    do:
      cmd: mkdir -p models && cp recipe.txt models/${item}.txt
      deps: [recipe.txt]
      outs:
        - models/${item}.txt
  evaluate:
    foreach: [baseline]
    do:
      cmd: python evaluate.py
      deps:
        - evaluate.py
        - models/${item}.txt
      outs:
        - metrics/evaluate/${item}/predictions.csv:
            cache: false
      metrics:
        - metrics/evaluate/${item}.json:
            cache: false
"""
STALE_EVALUATE = """import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from gate_repo import labels_of, write_variant, wrong_on
labels = labels_of()
write_variant(Path("."), "baseline", labels, wrong_on(labels, list(range(int(Path("models/baseline.txt").read_text())))))
"""


def _dvc(project, *args):
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "DVC_NO_ANALYTICS": "1",
                                            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stdout + done.stderr


def _edit_code(project, message: str) -> None:
    """The stage's code edited and committed without dvc repro."""
    with open(project / "evaluate.py", "a") as code:
        code.write("# changed, not reproduced\n")
    commit(project, message)


_DVC_PROJECTS: dict[tuple[Path, str], Path] = {}


def _dvc_project(tmp_path, dvc_yaml: str = STALE_DVC_YAML):
    """The stale-pipeline project (``dvc_yaml``) reproduced at recipe 2 and committed as ``base``, as
    ``tmp_path / "project"``: built once a session for each ``dvc_yaml`` (two dvc runs and the evaluate they start),
    then copied, so each case edits a project of its own."""
    key = (tmp_path.parent, dvc_yaml)  # the session's base folder: a build lives as long as the session's files
    if key not in _DVC_PROJECTS or not _DVC_PROJECTS[key].is_dir():
        built = tmp_path.parent / "_dvc_projects" / str(len(_DVC_PROJECTS))
        shutil.rmtree(built, ignore_errors=True)
        _build_dvc_project(built.parent / f"{built.name}.building", dvc_yaml).rename(built)
        _DVC_PROJECTS[key] = built
    return Path(shutil.copytree(_DVC_PROJECTS[key], tmp_path / "project", symlinks=True))


def _build_dvc_project(root: Path, dvc_yaml: str) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    project = make_project(root)
    (project / "dvc.yaml").write_text(dvc_yaml)
    (project / "evaluate.py").write_text(STALE_EVALUATE.format(tests=str(ROOT / "tests")))
    (project / "recipe.txt").write_text("2")
    git(project, "init", "-q", "-b", "main")
    _dvc(project, "init", "-q")
    _dvc(project, "repro")
    commit(project, "base")
    return project


@pytest.mark.hostile("gate")
def test_the_gate_refuses_stale_workspace_predictions(tmp_path):
    # before: after `dvc repro -s train@baseline` (or a changed param, or a run killed between train and evaluate)
    # the old predictions and metrics still agreed with each other, and the gate passed a model that got 400 of
    # 1,000 test images wrong
    project = _dvc_project(tmp_path)
    (project / "recipe.txt").write_text("400")
    _dvc(project, "repro", "-s", "train@baseline")
    assert gate_refused(project) == (
        "error: the workspace's outputs of evaluate@baseline are stale: dvc status lists 1 stage(s) up to them, "
        "first evaluate@baseline (changed deps: models/baseline.txt modified; dvc.lock: models/baseline.txt not what "
        "the stage writing them made); run `dvc repro` (or `dvc pull`), then again, or name a commit whose outputs "
        "count (e.g. --target HEAD)")
    # committed as it was, then cloned without the data: dvc status says only "not in cache" there, and the lock
    # shows that evaluate's model is not the one train made
    commit(project, "train only")
    git(tmp_path, "clone", "-q", str(project), str(tmp_path / "train-only"))
    done, _ = gate(tmp_path / "train-only", base="HEAD~1")
    assert assert_error_line(done) == (
        "error: the workspace's outputs of evaluate@baseline are stale: dvc status lists 1 stage(s) up to them, "
        "first evaluate@baseline (dvc.lock: models/baseline.txt not what the stage writing them made); run `dvc "
        "repro` (or `dvc pull`), then again, or name a commit whose outputs count (e.g. --target HEAD)")
    _dvc(project, "repro")
    done, _ = gate(project)  # the base is that train-only commit: its lock contradicts its evaluate outputs
    assert assert_error_line(done) == (
        "error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), "
        "first: evaluate@baseline: dvc.lock: models/baseline.txt not what the stage writing them made); rerun `dvc "
        "repro` there and commit dvc.lock and metrics/ together")
    done, _ = gate(project, base="HEAD~1")
    assert done.returncode == 1 and "gate: FAIL — " in done.stdout
    # a fresh clone holds the committed predictions but not the cached model: data not pulled is not stale
    commit(project, "head")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    done, _ = gate(clone, base="HEAD~2")
    assert done.returncode == 1 and "gate: FAIL — " in done.stdout, done.stderr


@pytest.mark.hostile("gate")
def test_a_reproduced_commit_is_read_whatever_shape_its_lock_has(tmp_path):
    # before: refused as stale, though dvc status called it up to date: a param named by list index
    # (degrade.perturbations.1.fraction read as absent), and the lock entry a stage renamed and back left behind
    # (DVC never removes one; its old md5 stood for the output)
    project = _dvc_project(tmp_path, STALE_DVC_YAML.replace(
        "deps: [recipe.txt]", "deps: [recipe.txt]\n      params: [degrade.perturbations.1.fraction]"))
    (project / "dvc.yaml").write_text((project / "dvc.yaml").read_text().replace("  train:", "  fit:"))
    _dvc(project, "repro")
    commit(project, "renamed")
    (project / "dvc.yaml").write_text((project / "dvc.yaml").read_text().replace("  fit:", "  train:"))
    (project / "recipe.txt").write_text("400")
    _dvc(project, "repro")
    commit(project, "renamed back, retrained")
    assert "fit@baseline" in (project / "dvc.lock").read_text()
    done, _ = gate(project, "--target", "HEAD", base="HEAD~2")
    assert done.returncode == 1 and "gate: FAIL — " in done.stdout, done.stderr  # read, and the drop found


@pytest.mark.hostile("gate")
def test_a_stale_param_inside_a_list_is_named_by_its_index(tmp_path):
    # before: the line quoted both whole degrade.perturbations lists (1,231 characters on the real params), not
    # the one value that changed
    project = _dvc_project(tmp_path, STALE_DVC_YAML.replace("deps: [recipe.txt]",
                                                            "deps: [recipe.txt]\n      params: [degrade]"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["degrade"]["perturbations"] = [{"kind": "symmetric_noise", "fraction": 0.15}]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _dvc(project, "repro")
    commit(project, "one perturbation")
    params["degrade"]["perturbations"][0]["fraction"] = 0.3
    params["degrade"]["perturbations"].append({"kind": "symmetric_noise", "fraction": 0.1})
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit(project, "fraction 0.3, not reproduced")
    assert gate_refused(project, "--target", "HEAD", base="HEAD~1") == (
        "error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), "
        "first: params.yaml's degrade.perturbations.0.fraction is 0.3 where dvc.lock's train@baseline ran with 0.15); "
        "rerun `dvc repro` there and commit dvc.lock and metrics/ together")
    params["degrade"]["perturbations"][0]["fraction"] = 0.15  # only an item added
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit(project, "a perturbation added, not reproduced")
    done, _ = gate(project, "--target", "HEAD", base="HEAD~2")
    assert assert_error_line(done) == (
        "error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), "
        "first: params.yaml's degrade.perturbations.1 is {\"kind\": \"symmetric_noise\", \"fraction\": 0.1} where "
        "dvc.lock's train@baseline ran with absent); rerun `dvc repro` there and commit dvc.lock and metrics/ together")


@pytest.mark.hostile("gate")
def test_a_broken_lock_file_is_named_with_advice_that_fits_it(tmp_path):
    # before: "dvc.lock ... corrupted" came with the advice to name the variants the pipeline evaluates
    project = _dvc_project(tmp_path)
    (project / "dvc.lock").write_text("stages: [unclosed\n")
    done, before = gate(project)
    line = assert_error_line(done, "error: cannot tell whether the workspace's evaluate@baseline are up to date "
                                   "(dvc status: ")
    assert line.endswith("; fix that file (git diff shows what changed), or name a commit as --target"), line
    assert "dvc.lock" in line and "--variants" not in line
    assert files_under(project) == before


@pytest.mark.hostile("gate")
def test_the_gate_refuses_commits_whose_lock_or_params_contradict_their_predictions(tmp_path):
    # before: `--target HEAD` read whatever predictions the commit held: the base's copied over the head's (the
    # class that collapsed at head then passed), or a params change committed without dvc repro
    # represent: a section holding 1e-06, which DVC writes to dvc.lock as 1e-06 and PyYAML reads back as text
    project = _dvc_project(tmp_path, STALE_DVC_YAML.replace("deps: [recipe.txt]",
                                                            "deps: [recipe.txt]\n      params: [seed, represent]"))
    good = (project / predictions_path("baseline")).read_bytes()
    (project / "recipe.txt").write_text("400")
    _dvc(project, "repro")
    (project / predictions_path("baseline")).write_bytes(good)  # the base's predictions, and its metrics, copied over
    (project / metrics_path("baseline")).write_text(git(project, "show", f"HEAD:{metrics_path('baseline')}"))
    commit(project, "head")
    assert gate_refused(project, "--target", "HEAD", base="HEAD~1") == (
        "error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (2 problem(s), "
        "first: metrics/evaluate/baseline.json is not the file dvc.lock says evaluate@baseline wrote); "
        "rerun `dvc repro` there and commit dvc.lock and metrics/ together")
    _dvc(project, "repro", "--force")
    commit(project, "head, reproduced")
    done, _ = gate(project, "--target", "HEAD", base="HEAD~2")  # a reproduced commit is read (floats included)
    assert done.returncode == 1 and "gate: FAIL — " in done.stdout, done.stderr
    params = default_params() | {"seed": 7}  # a params change committed without dvc repro
    params["represent"]["selfsup"]["weight_decay"] = 2e-06
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit(project, "seed 7, not reproduced")
    done, _ = gate(project, "--target", "HEAD", base="HEAD~3")
    assert assert_error_line(done) == (
        "error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (2 problem(s), "
        "first: params.yaml's represent.selfsup.weight_decay is 2e-06 where dvc.lock's train@baseline ran with "
        "1e-06); rerun `dvc repro` there and commit dvc.lock and metrics/ together")
    git(project, "checkout", "-q", "HEAD~1", "--", "params.yaml")
    with open(project / "evaluate.py", "a") as code:  # the stage's code edited, committed without dvc repro
        code.write("# changed\n")
    commit(project, "evaluate.py edited, not reproduced")
    done, _ = gate(project, "--target", "HEAD", base="HEAD~4")
    assert assert_error_line(done) == (
        "error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), "
        "first: evaluate.py changed since dvc.lock's evaluate@baseline ran); rerun `dvc repro` there and commit "
        "dvc.lock and metrics/ together")


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("kind", ["symbolic link", "FIFO"])
def test_a_markdown_path_that_is_a_link_or_a_fifo_is_refused(tmp_path, kind):
    # before: exit 0 and the link (or FIFO) replaced by a regular file, its target still holding the old text;
    # as root, --markdown /dev/full replaced the device node
    project = gate_project(tmp_path)
    report = project / "reports/gate.md"
    report.parent.mkdir(exist_ok=True)
    if kind == "FIFO":
        os.mkfifo(report)
    else:
        (project / "target.md").write_text("old")
        report.symlink_to(project / "target.md")
    done, before = gate(project)
    shown = "a symbolic link" if kind == "symbolic link" else "a FIFO, socket or device"
    assert assert_error_line(done) == (f"error: --markdown {REPORT}: is {shown}, which the write would replace with "
                                       "a regular file; give the path of a regular file, e.g. --markdown "
                                       "reports/gate.md")
    assert_nothing_left(project, before)
    assert report.is_symlink() if kind == "symbolic link" else stat.S_ISFIFO(report.lstat().st_mode)


@pytest.mark.hostile("gate")
def test_a_metrics_file_deleted_beside_its_predictions_fails(tmp_path):
    # before: the headline check was skipped and the gate passed on predictions DVC no longer showed metrics for
    project = gate_project(tmp_path)
    (project / metrics_path("baseline")).unlink()
    assert gate_refused(project) == ("error: metrics/evaluate/baseline.json at workspace: missing beside its "
                                     "predictions; evaluate writes both, so one alone is a deletion or a stale "
                                     "file: rerun evaluate@baseline there")


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("deleted_at", ["workspace", "HEAD"])
def test_a_gated_file_deleted_at_one_revision_fails(tmp_path, deleted_at):
    # before: each revision was checked against the gated files it held, so metrics/variants.json (named in
    # gate.files without a wildcard) deleted at either revision passed: "gate: PASS"
    project = gate_project(tmp_path, default_params()["gate"] | {"files": ["metrics/evaluate/*.json",
                                                                           "metrics/variants.json"]})
    (project / "metrics" / "variants.json").write_text('{"baseline": {"rows": 10}}')
    if deleted_at == "HEAD":
        commit(project, "without variants.json")
        git(project, "rm", "-q", "metrics/variants.json")
        commit(project, "variants.json deleted")
        git(project, "checkout", "-q", "HEAD~1", "--", "metrics/variants.json")  # back in the workspace
    else:
        commit(project, "with variants.json")
        (project / "metrics" / "variants.json").unlink()
    done, before = gate(project)
    holder = {"HEAD": "workspace", "workspace": "HEAD"}[deleted_at]
    assert assert_error_line(done) == (
        f"error: metrics/variants.json missing at {deleted_at} ({holder} holds it): params.yaml gate.files gates it at "
        f"every revision; rerun the stage that writes it and commit it at {deleted_at}, or take it out of gate.files at "
        "HEAD (the gate takes its settings from HEAD)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_new_metrics_file_a_wildcard_gates_is_checked_at_the_target_alone(tmp_path):
    # before: metrics/budget.json, written by a stage the change adds, was refused as "missing at HEAD (workspace
    # holds it) ... commit it at HEAD": no change adding a metrics file under a gated wildcard could pass
    project = gate_project(tmp_path, default_params()["gate"] | {"files": ["metrics/evaluate/*.json",
                                                                           "metrics/*.json"]})
    (project / "metrics" / "ingest.json").write_text('{"rows": 10}')
    commit(project, "ingest metrics")
    (project / "metrics" / "budget.json").write_text('{"spent": 3}')
    done, _ = gate(project)
    assert done.returncode == 0, done.stderr
    assert "metrics/budget.json: new at workspace, nothing at HEAD (checked at workspace only)" in done.stdout, \
        done.stdout
    (project / "metrics" / "budget.json").write_text('{"spent": NaN}')  # still held to finite numbers there
    done, _ = gate(project)
    assert_error_line(done, "metrics/budget.json at workspace", "spent = nan")
    (project / "metrics" / "budget.json").unlink()
    (project / "metrics" / "ingest.json").unlink()  # one the base holds, gone at the target: still refused
    assert gate_refused(project) == (
        "error: metrics/ingest.json missing at workspace (HEAD holds it): params.yaml gate.files gates it at every "
        "revision; rerun the stage that writes it and commit it at workspace, or take it out of gate.files at HEAD (the "
        "gate takes its settings from HEAD)")


@pytest.mark.hostile("gate")
def test_a_gated_summary_deleted_for_a_variant_both_sides_gate_fails(tmp_path):
    # before: metrics/evaluate/pruned/summary.json gone at the target passed, as the target was checked only
    # against the files it held; a variant new at the target still needs nothing at the base
    project = gate_project(tmp_path, default_params()["gate"] | {"files": ["metrics/evaluate/*.json",
                                                                           "metrics/evaluate/*/summary.json"]})
    for variant in ("baseline", "pruned"):
        (project / summary_path(variant)).write_text('{"accuracy": 0.998}')
    params = (project / "params.yaml").read_text()  # balanced is new: the change adds it to params.yaml's variants
    (project / "params.yaml").write_text(yaml.safe_dump(yaml.safe_load(params) | {"variants": ["baseline", "pruned"]},
                                                        sort_keys=False))
    commit(project, "summaries")
    (project / "params.yaml").write_text(params)
    (project / summary_path("pruned")).unlink()
    labels = labels_of()
    write_variant(project, "balanced", labels, wrong_on(labels, [1, 2]))  # new at the workspace
    (project / summary_path("balanced")).write_text('{"accuracy": 0.998}')
    assert gate_refused(project) == (
        "error: metrics/evaluate/pruned/summary.json missing at workspace (HEAD holds it): params.yaml gate.files "
        "gates it at every revision; rerun the stage that writes it and commit it at workspace, or take it out of "
        "gate.files at HEAD (the gate takes its settings from HEAD)")
    (project / summary_path("pruned")).write_text('{"accuracy": 0.998}')
    done, _ = gate(project)
    assert done.returncode == 0, done.stderr
    assert "balanced: new at workspace, nothing at HEAD to compare with (not gated)" in done.stdout, done.stdout


@pytest.mark.hostile("gate")
def test_code_edited_before_a_later_lock_rewrite_is_still_refused(tmp_path):
    # before: evaluate.py edited and committed without dvc repro was refused alone, but a later commit that
    # rewrote dvc.lock for another reason (here a second evaluate entry's hash) hid it: git's diff ran from that
    # commit, and the gate passed outputs the edited code never made
    project = _dvc_project(tmp_path)
    _edit_code(project, "code")
    lock = (project / "dvc.lock").read_text()
    (project / "dvc.lock").write_text(lock + "  unrelated:\n    cmd: 'true'\n")
    commit(project, "the lock rewritten")
    done, before = gate(project, "--target", "HEAD", base="HEAD~2")
    assert assert_error_line(done) == (
        "error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), "
        "first: evaluate.py changed since dvc.lock's evaluate@baseline ran); rerun `dvc repro` there and commit "
        "dvc.lock and metrics/ together")
    assert files_under(project) == before


@pytest.mark.hostile("gate")
def test_pooled_runs_of_other_code_are_refused(tmp_path):
    # before: a seed run made by the code before the change under test pooled with the change's own run, and the
    # old code's good results hid the new code's drop
    project = _dvc_project(tmp_path, STALE_DVC_YAML.replace("deps: [recipe.txt]",
                                                            "deps: [recipe.txt]\n      params: [seed]"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump(params | {"seed": 1}, sort_keys=False))
    _dvc(project, "repro")
    commit(project, "old code, seed 1")
    with open(project / "evaluate.py", "a") as code:
        code.write("# new code\n")
    (project / "params.yaml").write_text(yaml.safe_dump(params | {"seed": 2}, sort_keys=False))
    _dvc(project, "repro")
    commit(project, "new code, seed 2")
    done, before = gate(project, "--target", "HEAD", "HEAD~1", base="HEAD~2")
    assert assert_error_line(done) == (
        "error: --target HEAD HEAD~1: the runs ran other code or inputs (evaluate.py differ in their dvc.lock), not "
        "only another seed; pool only seeds of one commit (dvc exp run -S seed=N)")
    assert files_under(project) == before


# the real pipeline's shape: a seeded model, and a stage after evaluate (compare, report) that reads the whole
# metrics/evaluate folder, whose files change with the seed
SEEDED_DVC_YAML = STALE_DVC_YAML.replace(
    "cmd: mkdir -p models && cp recipe.txt models/${item}.txt\n      deps: [recipe.txt]",
    "cmd: mkdir -p models && echo $(( $(cat recipe.txt) + ${seed} )) > models/${item}.txt\n      deps: [recipe.txt]\n"
    "      params: [seed]") + """  report:
    cmd: cat metrics/evaluate/baseline.json > report.json
    deps: [metrics/evaluate]
    outs:
      - report.json:
          cache: false
"""


@pytest.mark.hostile("gate")
def test_pooled_seeds_of_one_commit_pass_the_gate(tmp_path):
    # before: a dependency counted as an input unless its path was an output's, so report's metrics/evaluate (a
    # folder holding outputs) differed between any two seeds, and the README's pooled gate was always refused: "the
    # runs ran other code or inputs (metrics/evaluate differ in their dvc.lock)"
    project = _dvc_project(tmp_path, SEEDED_DVC_YAML)
    params = yaml.safe_load((project / "params.yaml").read_text())
    for seed in (1, 2):  # 3 and 4 test images wrong, against 2 at base
        (project / "params.yaml").write_text(yaml.safe_dump(params | {"seed": seed}, sort_keys=False))
        _dvc(project, "repro")
        commit(project, f"seed {seed}")
    assert git(project, "diff", "HEAD~1", "HEAD", "--name-only").split() == [
        "dvc.lock", "metrics/evaluate/baseline.json", "metrics/evaluate/baseline/predictions.csv", "params.yaml",
        "report.json"]
    done, _ = gate(project, "--target", "HEAD", "HEAD~1", base="HEAD~2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == ("gate: PASS — 1 variant(s), 21 paired tests, no significant drop beyond "
                                            "its tolerance"), done.stdout


@pytest.mark.hostile("gate")
def test_locked_inputs_leave_out_folders_of_outputs_and_keep_the_raw_listing(tmp_path):
    # before: metrics/evaluate and plots/evaluate (folders holding evaluate's outputs) counted as inputs, and
    # data/source.json (the raw images' listing, an output of no seed) did not, so runs on other images pooled
    from winnow.lock_entries import locked_inputs

    project = make_project(tmp_path / "project")
    (project / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "source": {"cmd": "python stages/source.py", "outs": [{"path": "data/source.json", "md5": "1" * 32}]},
        "evaluate@baseline": {"cmd": "python stages/evaluate.py",
                              "deps": [{"path": "data/source.json", "md5": "1" * 32},
                                       {"path": "stages/evaluate.py", "md5": "2" * 32}],
                              "outs": [{"path": "metrics/evaluate/baseline.json", "md5": "3" * 32},
                                       {"path": "plots/evaluate/baseline/per_class.csv", "md5": "4" * 32}]},
        "report": {"cmd": "python stages/report.py",
                   "deps": [{"path": "metrics/evaluate", "md5": "5" * 32 + ".dir", "nfiles": 4},
                            {"path": "plots/evaluate", "md5": "6" * 32 + ".dir", "nfiles": 2},
                            {"path": "metrics/evaluate/baseline.json", "md5": "3" * 32},
                            {"path": "contracts", "md5": "7" * 32 + ".dir", "nfiles": 3}],
                   "outs": [{"path": "reports/index.html", "md5": "8" * 32}]}}}))
    init(project)
    assert locked_inputs(project, "HEAD") == {"data/source.json": "1" * 32, "stages/evaluate.py": "2" * 32,
                                              "contracts": "7" * 32 + ".dir"}


@pytest.mark.hostile("compare")
def test_compare_leaves_out_runs_of_other_code(tmp_path):
    # before: two seed runs of the old code and one of the new were averaged as three seeds of one setting
    def record(rev: str, name: str, seed: int, f1: float, code: str) -> dict:
        metrics = {metrics_path("baseline"): {"data": {"accuracy": f1, "macro": {"f1": f1},
                                                       "per_class": {c: {"f1": f1} for c in ("a", "b")}}}}
        return {"rev": rev * 40, "name": name, "data": {"params": {"params.yaml": {"data": {"seed": seed}}},
                                                        "metrics": metrics,
                                                        "deps": {"ev.py": {"hash": code, "size": 1}}}}
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("a", "new", 3, 0.5, "n" * 32), record("b", "old-1", 1, 0.95, "o" * 32),
                                 record("c", "old-2", 2, 0.95, "o" * 32)]))
    done = run_winnow(make_project(tmp_path / "project"), "compare", "--from-json", str(saved),
                      "--variants", "baseline")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Variants over 2 run(s) (seeds 1, 2)\n\n_left out 1 run(s) of other code or "
                                  "inputs (ev.py): new_\n"), done.stdout


@pytest.mark.hostile("compare")
def test_compare_leaves_out_a_commit_whose_lock_contradicts_its_metrics(tmp_path):
    # before: a commit that changed the code without dvc repro counted with the last run's metrics as its own
    project = _dvc_project(tmp_path)
    _edit_code(project, "code, not reproduced")
    done = run_winnow(project, "compare", "--num", "2", "--variants", "baseline")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Variants over 1 run(s) (seeds 0)\n\n_left out 1 run(s) whose metrics their own "
                                  "dvc.lock contradicts (evaluate.py changed since dvc.lock's evaluate@baseline ran; "
                                  "rerun `dvc repro` there): "), done.stdout


@pytest.mark.hostile("compare")
def test_compare_pools_seeds_whose_stage_outputs_differ(tmp_path):
    # before: exp show lists every dependency, stage outputs (data/degrade, a metrics file, plots) too, which
    # change with the seed, so two real seeds of one commit were told apart as "other code" and one was dropped
    def record(rev: str, name: str, seed: int, f1: float) -> dict:
        metrics = {metrics_path("baseline"): {"data": {"accuracy": f1, "macro": {"f1": f1},
                                                       "per_class": {c: {"f1": f1} for c in ("a", "b")}}},
                   "metrics/budget.json": {"data": {"seed": seed}}}
        deps = {"src/winnow/ev.py": {"hash": "c" * 32, "size": 1, "nfiles": None},
                "data/degrade": {"hash": f"{seed}" * 32 + ".dir", "size": 9, "nfiles": 3},
                "metrics/budget.json": {"hash": f"{seed}" * 32, "size": 1, "nfiles": None},
                "plots/evaluate": {"hash": f"{seed}" * 32 + ".dir", "size": 9, "nfiles": 2}}
        return {"rev": rev * 40, "name": name, "data": {"params": {"params.yaml": {"data": {"seed": seed}}},
                                                        "metrics": metrics, "deps": deps,
                                                        "outs": {"data/degrade": {"hash": "x"}}}}
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("a", "s0", 0, 0.9), record("b", "s1", 1, 0.8)]))
    done = run_winnow(make_project(tmp_path / "project"), "compare", "--from-json", str(saved),
                      "--variants", "baseline")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Variants over 2 run(s) (seeds 0, 1)\n\n## f1"), done.stdout


@pytest.mark.hostile("compare")
def test_compare_leaves_out_runs_of_other_raw_data(tmp_path):
    # before: data/source.json (the listing of the raw images) is a stage output, so it never counted as an
    # input, and a run made after images were added to ingest.path was averaged in as another seed
    def record(rev: str, name: str, seed: int, f1: float, listing: str) -> dict:
        metrics = {metrics_path("baseline"): {"data": {"accuracy": f1, "macro": {"f1": f1},
                                                       "per_class": {c: {"f1": f1} for c in ("a", "b")}}}}
        deps = {"src/winnow/ev.py": {"hash": "c" * 32, "size": 1, "nfiles": None},
                "data/source.json": {"hash": listing * 32, "size": 1, "nfiles": None},
                "data/ingest": {"hash": listing * 32 + ".dir", "size": 9, "nfiles": 3}}
        return {"rev": rev * 40, "name": name, "data": {"params": {"params.yaml": {"data": {"seed": seed}}},
                                                        "metrics": metrics, "deps": deps,
                                                        "outs": {"data/source.json": {"hash": listing * 32},
                                                                 "data/ingest": {"hash": listing * 32 + ".dir"}}}}
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("a", "s0", 0, 0.9, "1"), record("b", "s1", 1, 0.8, "1"),
                                 record("c", "more-images", 2, 0.5, "2")]))
    done = run_winnow(make_project(tmp_path / "project"), "compare", "--from-json", str(saved),
                      "--variants", "baseline")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Variants over 2 run(s) (seeds 0, 1)"), done.stdout
    assert "left out 1 run(s) of other code or inputs (data/source.json): more-images" in done.stdout, done.stdout


@pytest.mark.hostile("study")
def test_study_collect_leaves_out_a_commit_whose_lock_contradicts_its_metrics(tmp_path):
    # before: a commit that changed the damage (or the code) without dvc repro became a curve point with the
    # last run's metrics, plotted at the new damage level
    project = _dvc_project(tmp_path)
    _edit_code(project, "code, not reproduced")
    done = run_winnow(project, "study", "collect", "--num", "2", "--out", str(tmp_path / "study"))
    assert ("study: left out 1 run(s) whose metrics their own dvc.lock contradicts (evaluate.py changed since "
            "dvc.lock's evaluate@baseline ran; rerun `dvc repro` there): ") in done.stdout, done.stdout + done.stderr


def gate_process(project, *args: str, env: dict | None = None, **how) -> subprocess.CompletedProcess:
    """``winnow gate --base HEAD *args`` as a process of its own (a forked run's streams and limits are the
    server's): ``how`` as subprocess.run takes it, output captured unless it says otherwise."""
    how = how if "stdout" in how else {"capture_output": True, **how}
    return subprocess.run([sys.executable, "-m", "winnow.cli", "gate", "--base", "HEAD", *args], cwd=project,
                          env=env or _env(), text=True, timeout=300, **how)


@pytest.mark.hostile("gate")
def test_a_failing_gate_whose_reader_left_still_fails_and_writes_its_report(tmp_path):
    # before: `winnow gate ... | true` (the reader gone before the first line): exit 0 and no reports/gate.md, so a
    # pipeline step that read the gate's status through the pipe saw a pass
    project = gate_project(tmp_path)
    labels = labels_of()
    write_variant(project, "pruned", labels, wrong_on(labels, range(100)))  # class 0 lost every image
    read_end, write_end = os.pipe()
    os.close(read_end)
    done = gate_process(project, "--markdown", REPORT, stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")
    assert "**REGRESSED**" in (project / REPORT).read_text()


@pytest.mark.hostile("gate")
def test_a_gate_whose_stdout_is_closed_still_gates(tmp_path):
    # before: a traceback from the watching parent's flush of a stdout that Python had set to None (`>&-`)
    project = gate_project(tmp_path)
    labels = labels_of()
    write_variant(project, "pruned", labels, wrong_on(labels, range(100)))
    done = gate_process(project, "--markdown", REPORT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                        preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (1, "")
    assert "**REGRESSED**" in (project / REPORT).read_text()


@pytest.mark.hostile("gate")
def test_the_gate_of_a_project_named_by_repo_from_another_folder_gates_it(tmp_path):
    # before: "cannot tell whether the workspace's evaluate@baseline are up to date (dvc status: 'evaluate@baseline'
    # does not exist as an output or a stage name in 'dvc.yaml'); name the variants ...": DVC resolved the stage
    # name against the working directory, not --repo
    project = _dvc_project(tmp_path)
    (project / "recipe.txt").write_text("400")
    _dvc(project, "repro")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_winnow(elsewhere, "gate", "--repo", str(project), "--base", "HEAD", "--variants", "baseline")
    assert done.returncode == 1 and "**REGRESSED**" in done.stdout, done.stdout + done.stderr
    assert "error:" not in done.stderr


@pytest.mark.hostile("gate")
def test_a_gate_whose_dvc_state_cannot_be_written_is_one_line(tmp_path):
    # before: sqlite3.OperationalError traceback from dvc status (DVC's site cache on a read-only or full disk)
    project = _dvc_project(tmp_path)
    _dvc(project, "config", "--local", "core.site_cache_dir", str(tmp_path / "site-cache"))
    before = files_under(project)
    done = gate_process(project, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64)))  # ulimit -f
    assert assert_error_line(done) == (
        "error: gate: DVC's state database could not be opened or written (disk I/O error); it is in DVC's site "
        "cache (`dvc config core.site_cache_dir`; by default under /var/tmp/dvc): make that folder writable, free "
        "space there, or point core.site_cache_dir elsewhere, then rerun")
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_checkout_git_refuses_as_another_users_is_named_so(tmp_path):
    # before: "--base HEAD: . is not a git repository", where git refused a checkout owned by another user (a CI
    # container's), whose fix is git's safe.directory
    project = gate_project(tmp_path)
    done = gate_process(project, env={**_env(), "GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"})
    assert assert_error_line(done) == (
        f"error: --base HEAD: git refuses {project.resolve()}: it is owned by another user (git's \"dubious "
        f"ownership\"); if you trust it, run `git config --global --add safe.directory {project.resolve()}`, then "
        "again")


@pytest.mark.hostile("gate")
def test_a_project_in_a_folder_of_a_checkout_git_refuses_names_the_checkout(tmp_path):
    # found in review: safe.directory must name the repository's top folder, not the project's folder inside it
    project = make_project(tmp_path / "mono" / "project")
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, [1, 2]))
    init(tmp_path / "mono")
    done = gate_process(project, env={**_env(), "GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"})
    top = (tmp_path / "mono").resolve()
    assert assert_error_line(done) == (
        f"error: --base HEAD: git refuses {top}: it is owned by another user (git's \"dubious ownership\"); if you "
        f"trust it, run `git config --global --add safe.directory {top}`, then again")


def test_experiments_of_a_checkout_libgit2_refuses_as_another_users_are_one_line(tmp_path, monkeypatch):
    # before: pygit2's GitError traceback from compare and study collect (DVC lists experiments through libgit2,
    # which refuses a repository owned by another user with this message)
    import dvc.repo
    import pygit2

    from winnow.experiments import load_experiments

    def refused(*args, **kwargs):
        raise pygit2.GitError(f"{tmp_path}/.git/: repository path '{tmp_path}' is not owned by current user")

    monkeypatch.setattr(dvc.repo.Repo, "__init__", refused)
    with pytest.raises(WinnowError) as refusal:
        load_experiments(repo=str(tmp_path), revs=None, num=1, from_json=None, where="compare")
    assert str(refusal.value) == (
        f"compare --repo {tmp_path}: git refuses {tmp_path.resolve()}: it is owned by another user (git's \"dubious "
        f"ownership\"); if you trust it, run `git config --global --add safe.directory {tmp_path.resolve()}`, then again")


@pytest.mark.hostile("gate")
def test_a_gate_that_fails_leaves_no_earlier_pass_at_its_markdown_path(tmp_path):
    # found by probing: `winnow gate --markdown FILE` that stopped with an error left the previous run's
    # "gate: PASS" in FILE, which a local or custom CI step could read as this comparison's result
    project = gate_project(tmp_path)
    first, _ = gate(project)
    assert first.returncode == 0, first.stderr
    assert "gate: PASS" in (project / REPORT).read_text()
    done, _ = gate(project, base="origin/nosuch")
    assert_error_line(done, "--base origin/nosuch", "unknown revision")
    assert not (project / REPORT).exists()


@pytest.mark.hostile("gate")
def test_a_markdown_path_holding_another_file_is_refused_and_the_file_kept(tmp_path):
    # before (found by a probe): outside a DVC project, where no pipeline file is known, `--markdown params.yaml`
    # deleted params.yaml before the gate refused to run without it
    project = gate_project(tmp_path)
    params = (project / "params.yaml").read_bytes()
    before = files_under(project)
    done = run_winnow(project, "gate", "--base", "HEAD", "--markdown", "params.yaml")
    assert assert_error_line(done) == (
        "error: --markdown params.yaml: holds a file that is no gate report, which this would overwrite; give another "
        "path, e.g. --markdown reports/gate.md")
    assert (project / "params.yaml").read_bytes() == params
    assert_nothing_left(project, before)
