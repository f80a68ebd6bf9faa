"""Hostile DVC experiment workflows, found at probe 79 (exp):

- ``winnow compare`` (and ``study collect``) while a plain ``dvc exp run`` runs in the workspace: told to "run this
  again when `dvc queue status` shows them done", though the queue never lists a run in the workspace, and the
  workspace's half-written outputs named as "a commit ... that holds no metrics file: the pipeline has not run there";
- ``winnow gate --target <that experiment>`` meanwhile: "wait for it (dvc queue status)", which never shows it.

Both probed with real DVC 3.67 (``dvc exp run -n slow -S seed=26`` of a stage that sleeps): its executor is named
``workspace`` in ``dvc exp show --json`` and its info file ``.dvc/tmp/exps/run/workspace/workspace.run`` says location
``workspace``; ``dvc queue status`` meanwhile listed only the queue's tasks.
"""

import json

import pytest
from gate_repo import git, init
from hostile_harness import default_params, make_project

from winnow import revisions
from winnow.cli import main as winnow
from winnow.errors import WinnowError
from winnow.metrics import metrics_path

F1 = {"baseline": {"a": 0.5, "z": 0.7}, "pruned": {"a": 0.6, "z": 0.8}}


def _shown(rev: str, name: str | None, seed: int, f1: dict) -> dict:
    """One commit or experiment as `dvc exp show --json` writes it: params.yaml's ``seed`` and each variant's per-class
    F1 (variant -> class -> F1); a variant of ``None`` is a metrics file missing there (as DVC records one)."""
    return {"rev": rev, "name": name, "error": None, "data": {
        "params": {"params.yaml": {"data": {"seed": seed}}},
        "metrics": {metrics_path(v): {"data": {"per_class": {c: {"f1": x} for c, x in per_class.items()}}}
                    if per_class is not None else
                    {"error": {"type": "FileNotFoundError", "msg": f"{metrics_path(v)} not found"}}
                    for v, per_class in f1.items()}}}


@pytest.mark.hostile("exp")
def test_compare_during_a_dvc_exp_run_in_the_workspace_says_to_wait_for_that_run(tmp_path, capsys):
    # `dvc exp run -n seed2 -S seed=2` runs in the workspace: evaluate@baseline has written its metrics, pruned's are
    # gone (DVC removes a stage's outputs before running it). Before: "left out 1 experiment(s) still running or queued
    # (seed2); run this again when `dvc queue status` shows them done ...; left out 1 commit(s) or experiment(s) that
    # hold no metrics file this reads (workspace: metrics/evaluate/pruned.json): the pipeline has not run there, or its
    # metrics were not committed; run it (dvc exp run), or commit what dvc repro wrote"
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    workspace = _shown("workspace", None, 2, {"baseline": F1["baseline"], "pruned": None})
    commit = _shown("a" * 40, "main", 0, F1)
    commit["experiments"] = [
        {"revs": [_shown("b" * 40, "seed1", 1, F1)], "name": "seed1", "executor": None},
        {"revs": [_shown("c" * 40, "seed2", 2, F1)], "name": "seed2",
         "executor": {"state": "running", "name": "workspace",
                      "local": {"root": str(project), "log": None, "pid": 1, "returncode": None, "task_id": None}}}]
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([workspace, commit]))
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Variants over 2 run(s) (seeds 0, 1)\n\n"
                          "_left out 1 experiment(s) that a `dvc exp run` in the workspace is still running (seed2); "
                          "run this again once that dvc exp run ends_\n")


@pytest.mark.hostile("exp")
def test_compare_still_sends_a_queued_run_to_the_queue(tmp_path, capsys):
    # the queue's own runs (executor dvc-task) are still told to wait for `dvc queue status`, and the workspace, no
    # run in it, is read as before
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    commit = _shown("a" * 40, "main", 0, F1)
    commit["experiments"] = [
        {"revs": [_shown("b" * 40, "seed1", 1, F1)], "name": "seed1", "executor": None},
        {"revs": [_shown("c" * 40, "seed2", 2, F1)], "name": "seed2",
         "executor": {"state": "running", "name": "dvc-task", "local": None}}]
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([_shown("workspace", None, 0, F1), commit]))
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Variants over 2 run(s) (seeds 0, 1)\n\n"
                          "_left out 1 experiment(s) still running or queued (seed2); run this again when `dvc queue "
                          "status` shows them done (queued ones run once `dvc exp run --run-all` starts them)_\n")


@pytest.mark.hostile("exp")
def test_gate_of_an_experiment_a_dvc_exp_run_in_the_workspace_runs_says_to_wait_for_that_run(tmp_path):
    # before: "error: --target slow: a dvc experiment running here, not finished, so it has no results to gate; wait
    # for it (dvc queue status), then again", and the queue never lists it
    project = init(make_project(tmp_path / "project"))
    head = git(project, "rev-parse", "HEAD").strip()
    info = project / ".dvc/tmp/exps/run/workspace/workspace.run"
    info.parent.mkdir(parents=True)
    info.write_text(json.dumps({"git_url": f"file://{project}", "baseline_rev": head, "location": "workspace",
                                "root_dir": str(project), "dvc_dir": ".dvc", "name": "slow", "wdir": ".",
                                "result_hash": None, "result_ref": None, "result_force": False, "status": 2}))
    # the gate resolves each --base and --target first, before it reads or writes anything (test_hostile_gate_67
    # runs the whole gate on the queue's running experiment)
    with pytest.raises(WinnowError) as refused:
        revisions.resolve(project, "slow", option="--target")
    assert str(refused.value) == (
        "--target slow: a dvc experiment that a `dvc exp run` in the workspace is still running, so it has no "
        "results to gate; wait for that dvc exp run to end, then again")
