"""Hostile use of the ``winnow`` command (probe 74). Each case calls the command in-process (:func:`winnow.cli.main`)
and asserts the one line a user sees, and that nothing was left behind.

- ``compare --out reports/new/`` (or ``reports/new/.``) or ``gate --markdown reports/new/`` (a folder meant, not there
  yet): Path() dropped the slash, and compare wrote a file named reports/new and reports/new.json beside it, exit 0;
- a git repository without a commit yet (``git init``, nothing committed), or a branch made with ``git checkout
  --orphan`` before its first commit: ``gate --base HEAD`` (or ``main``) was an "unknown revision" to fetch in CI,
  ``study collect`` sent the user to ``study queue``, and ``study queue`` ran ``dvc exp run --queue``, which failed on
  DVC's "unexpected error - Empty git repo";
- ``gate`` over revisions none of which holds evaluate's metrics (the pipeline never run, or its metrics never
  committed), under the default ``gate.files: [metrics/evaluate/*.json]``: "correct the pattern (..., e.g.
  metrics/evaluate/*.json)", the very pattern the params hold;
- ``compare --out labels.md`` beside the user's own labels.json: the runs' JSON written beside the markdown replaced
  it, a file the user never named, exit 0;
- ``compare`` (or ``study collect``) over a commit on which the pipeline never ran (its metrics files not there): "left
  out 1 experiment(s) whose metrics DVC could not read (... No such file or directory ...); check those files at
  their commits", where there is no file to check.
"""

from __future__ import annotations

import json

import pytest

from gate_repo import git, init
from hostile_harness import assert_nothing_left, files_under, make_project
from test_hostile_compare_more import TWO_CLASSES, record, shifted
from winnow import cli


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("args", "line"), [
    (["compare", "--out", "newdir/"],
     "error: winnow compare: argument --out: 'newdir/' names a folder; give the path of a file to write, e.g. "
     "reports/compare-seeds.md (see winnow compare --help)"),
    (["compare", "--out", "newdir/."],
     "error: winnow compare: argument --out: 'newdir/.' names a folder; give the path of a file to write, e.g. "
     "reports/compare-seeds.md (see winnow compare --help)"),
    (["gate", "--base", "HEAD", "--markdown", "newdir/"],
     "error: winnow gate: argument --markdown: 'newdir/' names a folder; give the path of a file to write, e.g. "
     "reports/gate.md (see winnow gate --help)"),
], ids=["compare-out", "compare-out-dot", "gate-markdown"])
def test_an_output_file_given_as_a_folder_with_a_slash_is_refused(tmp_path, monkeypatch, capsys, args, line):
    # before: compare --out newdir/ wrote the markdown to a file named newdir and its JSON to newdir.json, exit 0 (the
    # gate its report to a file named newdir): the slash, which says a folder is meant, was dropped by Path()
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    assert (stopped.value.code, capsys.readouterr().err) == (2, line + "\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("args", "line"), [
    (["gate", "--base", "HEAD"], "error: --base HEAD: . is a git repository without a commit yet, so it holds no "
                                 "revision to gate against; commit the project first (git add -A && git commit)"),
    (["gate", "--base", "main"], "error: --base main: . is a git repository without a commit yet, so it holds no "
                                 "revision to gate against; commit the project first (git add -A && git commit)"),
    (["compare", "--variants", "baseline", "pruned"],
     "error: compare --repo .: . is a git repository without a commit yet, so it holds no experiment to read; commit "
     "the project first (git add -A && git commit)"),
    (["study", "collect"],
     "error: study collect --repo .: . is a git repository without a commit yet, so it holds no experiment to read; "
     "commit the project first (git add -A && git commit)"),
    (["study", "queue", "--sweeps", "strength"],
     "error: study queue: . is a git repository without a commit yet, so dvc exp run has no commit to queue the "
     "experiments on; commit the project first (git add -A && git commit)"),
], ids=["gate-head", "gate-main", "compare", "study-collect", "study-queue"])
def test_a_repository_without_a_commit_is_named_as_such(tmp_path, monkeypatch, capsys, args, line):
    # before: the gate said "--base HEAD: unknown revision; ... (in CI fetch it first ...)", study collect "no
    # experiment is a study run ...; queue some with `winnow study queue`", and study queue ran `dvc exp run --queue`,
    # which failed on DVC's "unexpected error - Empty git repo"
    project = make_project(tmp_path / "project")
    git(project, "init", "-q", "-b", "main")
    monkeypatch.chdir(project)
    before = files_under(project)
    assert cli.main(args) == 1
    assert capsys.readouterr().err == line + "\n"
    assert_nothing_left(project, before)


ORPHAN = (".'s branch other has no commit yet (made with git checkout --orphan?), so {}; commit the project first (git "
          "add -A && git commit), or check out a branch that has one")


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("args", "line"), [
    (["gate", "--base", "HEAD~1"], "error: --base HEAD~1: " + ORPHAN.format("it holds no revision to gate against")),
    (["compare", "--variants", "baseline", "pruned"],
     "error: compare --repo .: " + ORPHAN.format("it holds no experiment to read")),
    (["study", "queue", "--sweeps", "strength"],
     "error: study queue: " + ORPHAN.format("dvc exp run has no commit to queue the experiments on")),
], ids=["gate", "compare", "study-queue"])
def test_a_branch_without_a_commit_is_named_as_such(tmp_path, monkeypatch, capsys, args, line):
    # a branch made with `git checkout --orphan` before its first commit, main holding one. Before: as in a repository
    # without a commit (above): "--base HEAD~1: unknown revision; ... fetch it first", and study queue's `dvc exp run`
    # failed on "Empty git repo"
    project = init(make_project(tmp_path / "project"))
    git(project, "checkout", "-q", "--orphan", "other")
    monkeypatch.chdir(project)
    before = files_under(project)
    assert cli.main(args) == 1
    assert capsys.readouterr().err == line + "\n"
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_gate_over_revisions_without_evaluates_metrics_says_so_not_to_correct_the_pattern(tmp_path, capsys):
    # a project committed before its pipeline ran: no revision holds metrics/evaluate/<variant>.json. Before:
    # "params.yaml at HEAD: gate.files: metrics/evaluate/*.json matches no file at HEAD or workspace; correct the
    # pattern (gated files are metrics JSON, e.g. metrics/evaluate/*.json)": the pattern the params hold already
    project = init(make_project(tmp_path / "project"))
    before = files_under(project)
    assert cli.main(["gate", "--base", "HEAD", "--repo", str(project)]) == 1
    assert capsys.readouterr().err == (
        "error: gate.files: metrics/evaluate/*.json matches no file at HEAD or workspace: no revision gated holds "
        "evaluate's metrics (metrics/evaluate/oracle.json, ...), which it gates; run the pipeline (dvc repro) and "
        "commit its metrics at the base, then gate\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_out_beside_a_json_of_the_users_own_is_refused(tmp_path, monkeypatch, capsys):
    # before: the JSON compare writes beside --out (labels.json for --out labels.md) replaced the user's file of that
    # name, exit 0; the JSON an earlier comparison wrote there is still replaced
    project = make_project(tmp_path / "project")
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("a", "c0ffee", 0, TWO_CLASSES),
                                 record("b", "exp-1", 1, shifted(TWO_CLASSES, 0.02))]))
    monkeypatch.chdir(project)
    args = ["compare", "--from-json", str(saved), "--variants", "baseline", "pruned"]
    (project / "labels.json").write_text('{"cat": 0, "dog": 1}\n')
    before = files_under(project)
    assert cli.main([*args, "--out", "labels.md"]) == 1
    assert capsys.readouterr().err == (
        "error: --out labels.md: labels.json, the JSON written beside it, is a file other than the list of runs "
        "compare writes there, which this would overwrite; give another path, e.g. --out reports/compare-seeds.md\n")
    assert (project / "labels.json").read_text() == '{"cat": 0, "dog": 1}\n'
    assert_nothing_left(project, before)
    for _ in range(2):  # the second comparison replaces the first one's JSON
        assert cli.main([*args, "--out", "seeds.md"]) == 0
        assert json.loads((project / "seeds.json").read_text()) == {"runs": ["c0ffee", "exp-1"],
                                                                    "variants": ["baseline", "pruned"]}


@pytest.mark.hostile("compare")
def test_a_commit_whose_pipeline_never_ran_is_named_as_such_not_as_unreadable(tmp_path, monkeypatch, capsys):
    # the commit the experiments were run on holds no metrics (`dvc exp show` records FileNotFoundError for them).
    # Before: "left out 1 experiment(s) whose metrics DVC could not read (c0ffee: metrics/evaluate/baseline.json, [Errno
    # 2] No such file or directory: ...); check those files at their commits": no file there to check
    commit = record("a", "c0ffee", 0, TWO_CLASSES)
    commit["data"]["metrics"] = {path: {"error": {"type": "FileNotFoundError", "msg": f"[Errno 2] No such file or "
                                                  f"directory: '{path}'"}} for path in commit["data"]["metrics"]}
    commit["experiments"] = [{"revs": [run], "name": run["name"], "executor": None} for run in (
        record("b", "exp-1", 1, TWO_CLASSES), record("c", "exp-2", 2, shifted(TWO_CLASSES, 0.02)))]
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([commit]))
    monkeypatch.chdir(make_project(tmp_path / "project"))
    assert cli.main(["compare", "--from-json", str(saved), "--variants", "baseline", "pruned"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "# Variants over 2 run(s) (seeds 1, 2)", "",
        "_left out 1 commit(s) or experiment(s) that hold no metrics file this reads (c0ffee: "
        "metrics/evaluate/baseline.json): the pipeline has not run there, or its metrics were not committed; run it "
        "(dvc exp run), or commit what dvc repro wrote_"]
