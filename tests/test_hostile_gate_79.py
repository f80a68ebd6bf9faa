"""Hostile inputs to the merge gate, probe 79: gate.files read alike at both sides. The gate runs in-process
(:func:`winnow.cli.main`) and its lines are asserted whole.

At a commit a gate.files pattern matches the files git holds there; in the workspace it was a glob of the working
tree, so ``**/*.json`` matched a virtual environment's package JSON, DVC's .dvc/tmp and git-ignored outputs that no
commit holds, and the gate refused (or passed) for a file of neither version. The workspace now reads the files git
tracks or would track (``git ls-files -co --exclude-standard``), and a pattern that matches only a git-ignored file
there is named as such; so is a file the gate reads by its path (a variant's predictions) that git ignores in the
workspace, which was read from disk and gated though no commit of the workspace holds it.
"""

import json

import pytest
from gate_repo import commit, gated, git, notes_of
from hostile_harness import default_params
from test_hostile_gate_73 import committed, refused
from winnow.metrics import metrics_path


def gating(*files: str) -> dict:
    """Today's params.yaml with gate.files ``files``."""
    params = default_params()
    params["gate"]["files"] = list(files)
    return params


@pytest.mark.hostile("gate")
def test_a_json_under_venv_or_dvc_tmp_is_not_gated_in_the_workspace(tmp_path, capsys):
    project = committed(tmp_path, gating("**/*.json"))
    (project / ".gitignore").write_text(".venv/\n")
    (project / ".dvc").mkdir()
    (project / ".dvc/.gitignore").write_text("/tmp\n")
    commit(project, "ignore")
    (project / ".venv/lib").mkdir(parents=True)
    (project / ".venv/lib/pkg.json").write_text('{"name": "pkg"}')
    (project / ".dvc/tmp").mkdir()
    (project / ".dvc/tmp/rwlock.json").write_text('{"read": NaN}')
    # before: "error: params.yaml at HEAD: gate.files: .venv/lib/pkg.json holds name = 'pkg' at every revision gated:
    # its stage writes text ..., so it is no metrics file to gate; narrow the pattern ...", a file of neither version
    code, out = gated(project, capsys)
    assert code == 0 and out.splitlines()[-1].startswith("gate: PASS — 2 variant(s)")
    assert ".venv" not in out and ".dvc" not in out


@pytest.mark.hostile("gate")
def test_a_file_git_would_track_new_in_the_workspace_is_named_as_new_there(tmp_path, capsys):
    project = committed(tmp_path, gating("metrics/**/*.json"))
    (project / "metrics/dedup.json").write_text('{"detection": {"f1": 0.9}}')  # untracked, not ignored: a new output
    code, out = gated(project, capsys)
    assert code == 0
    assert "- metrics/dedup.json: new at workspace, nothing at HEAD (checked at workspace only)" in notes_of(out)


@pytest.mark.hostile("gate")
def test_a_pattern_matching_only_a_git_ignored_workspace_file_is_named_so(tmp_path, capsys):
    project = committed(tmp_path, gating("metrics/evaluate/*.json", "metrics/scratch/*.json"))
    (project / ".gitignore").write_text("/metrics/scratch/\n")
    commit(project, "ignore")
    (project / "metrics/scratch").mkdir()
    (project / "metrics/scratch/x.json").write_text('{"f1": NaN}')
    # before: "error: gated metrics are not all finite numbers: metrics/scratch/x.json at workspace: f1 = nan ...
    # (rerun the stage that writes them and commit its outputs)": a file no commit can hold without git add -f
    assert refused(project, capsys) == [
        "error: gate.files: metrics/scratch/*.json matches no file git holds at HEAD or workspace: the workspace's "
        "metrics/scratch/x.json is ignored by git (.gitignore:1:/metrics/scratch/), so no commit holds it; commit it "
        "(git add -f metrics/scratch/x.json; a DVC output: `cache: false` in dvc.yaml, as evaluate's metrics), or "
        "correct the pattern (the gate takes its settings from HEAD)"]


@pytest.mark.hostile("gate")
def test_a_tracked_file_an_ignore_rule_matches_is_still_gated_in_the_workspace(tmp_path, capsys):
    # git tracks a committed file whatever .gitignore says (git add -f), and a commit holds it: so must the workspace
    project = committed(tmp_path, gating("metrics/evaluate/*.json"))
    (project / ".gitignore").write_text("metrics/\n")
    commit(project, "ignore")
    path = project / metrics_path("pruned")
    path.write_text(json.dumps(json.loads(path.read_text()) | {"accuracy": float("nan")}))
    assert refused(project, capsys) == [
        "error: gated metrics are not all finite numbers: metrics/evaluate/pruned.json at workspace: accuracy = nan "
        "(rerun the stage that writes them and commit its outputs)"]


@pytest.mark.hostile("gate")
def test_a_variants_predictions_git_ignored_in_the_workspace_are_refused_not_gated(tmp_path, capsys):
    # the change moves pruned's evaluate outputs out of git (a cached DVC output is git-ignored): a commit of the
    # workspace holds no predictions of it. Before: "gate: PASS", the workspace's file read from disk, and the same
    # change refused once committed
    project = committed(tmp_path)
    (project / ".gitignore").write_text("/metrics/evaluate/pruned/\n")
    git(project, "rm", "-rq", "--cached", "metrics/evaluate/pruned")
    assert refused(project, capsys) == [
        "error: metrics/evaluate/pruned/predictions.csv at workspace: ignored by git "
        "(.gitignore:1:/metrics/evaluate/pruned/) and not tracked, so no commit of the workspace holds it and the gate "
        "would judge a file it cannot merge; track it (git add -f metrics/evaluate/pruned/predictions.csv; a DVC "
        "output: `cache: false` in dvc.yaml, as evaluate's), then gate"]
