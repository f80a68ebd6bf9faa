"""A team gating merges in CI: a branch committed with or without `dvc repro`, seeds pooled by experiment name,
and the pull-request comment. Each way a revision can be stale ends in one line naming it, never a pass."""

from pathlib import Path

import pytest
import yaml
from gate_repo import commit, git, labels_of, write_variant, wrong_on
from hostile_harness import ROOT, assert_error_line, assert_nothing_left, files_under, make_project
from test_hostile_gate import STALE_DVC_YAML, STALE_EVALUATE, _dvc, _dvc_project, gate, gate_project

STALE = ("error: HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), "
         "first: {first}); rerun `dvc repro` there and commit dvc.lock and metrics/ together")


@pytest.mark.hostile("gate")
def test_a_dvc_yaml_edited_without_dvc_repro_is_refused_at_a_commit(tmp_path):
    # before: a branch that changed a stage's command, or gave it a new dependency or params key, and committed
    # dvc.yaml without `dvc repro` was gated on the predictions of the old definition: `--target HEAD` passed
    # (dvc status said "changed command" / "new" for the workspace, but nothing looked at a commit's dvc.yaml)
    project = _dvc_project(tmp_path)
    (project / "extra.txt").write_text("x")
    commit(project, "an input file")
    base = git(project, "rev-parse", "HEAD").strip()
    edits = [("cmd: python evaluate.py", "cmd: python evaluate.py --strict",
              "dvc.yaml's command of evaluate@baseline is not the one dvc.lock says it ran"),
             ("deps: [recipe.txt]", "deps: [recipe.txt, extra.txt]",
              "dvc.yaml's train@baseline reads extra.txt, which dvc.lock says its run did not"),
             ("deps: [recipe.txt]", "deps: [recipe.txt]\n      params: [seed]",
              "dvc.yaml's train@baseline reads params.yaml's seed, which dvc.lock says its run did not")]
    for old, new, first in edits:
        (project / "dvc.yaml").write_text(STALE_DVC_YAML.replace(old, new))
        commit(project, f"dvc.yaml: {new}, not reproduced")
        done, before = gate(project, "--target", "HEAD", base=base)
        assert assert_error_line(done) == STALE.format(first=first)
        assert_nothing_left(project, before)
        git(project, "reset", "-q", "--hard", base)
    (project / "dvc.yaml").write_text(STALE_DVC_YAML.replace("deps: [recipe.txt]", "deps: [recipe.txt, extra.txt]"))
    _dvc(project, "repro")  # reproduced: the same recipe, so the same predictions, and the gate passes the no-op
    commit(project, "reproduced")
    done, _ = gate(project, "--target", "HEAD", base=base)
    assert done.returncode == 0 and "gate: PASS — 1 variant(s)" in done.stdout, done.stdout + done.stderr


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("lock", ["removed", "without evaluate"])
def test_predictions_committed_without_the_lock_of_their_run_are_refused(tmp_path, lock):
    # before: a commit without dvc.lock (or whose lock had no evaluate entry) was read as it was, so predictions
    # written by hand passed as if DVC had made them
    project = _dvc_project(tmp_path)
    if lock == "removed":
        git(project, "rm", "-q", "dvc.lock")
    else:
        stages = yaml.safe_load((project / "dvc.lock").read_text())
        del stages["stages"]["evaluate@baseline"]
        (project / "dvc.lock").write_text(yaml.safe_dump(stages))
    _predictions_by_hand_refused(project, "predictions by hand", first=(
        "dvc.lock has no entry for evaluate@baseline, which dvc.yaml defines (its outputs were committed without the "
        "lock of the run that made them)"))


@pytest.mark.hostile("gate")
def test_predictions_of_a_renamed_evaluate_stage_are_refused_at_a_commit(tmp_path):
    # before: with evaluate renamed eval in dvc.yaml and dvc.lock, the commit check looked for evaluate@baseline,
    # found neither its entry nor its definition, checked nothing, and predictions written by hand passed
    project = _dvc_project(tmp_path)
    for name in ("dvc.yaml", "dvc.lock"):
        text = (project / name).read_text()
        (project / name).write_text(text.replace("evaluate:", "eval:").replace("evaluate@", "eval@"))
    _predictions_by_hand_refused(project, "evaluate renamed eval, predictions by hand", first=(
        "dvc.yaml defines no stage evaluate, so nothing shows that the outputs of evaluate@baseline read here are what "
        "the commit makes (a stage renamed: keep its name)"))


def _predictions_by_hand_refused(project: Path, message: str, *, first: str) -> None:
    """Committing (as ``message``) baseline predictions better than the model got, written by hand, the gate of that
    commit against the one before ends in the stale-outputs line whose first reason is ``first``; nothing left."""
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, [5]))
    commit(project, message)
    done, before = gate(project, "--target", "HEAD", base="HEAD~1")
    assert assert_error_line(done) == STALE.format(first=first)
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_project_in_a_folder_of_its_git_repository_is_checked_against_its_own_dvc_yaml(tmp_path):
    # the commit check reads dvc.yaml at the revision with DVC: in a `dvc init --subdir` project it must look in the
    # project's folder, not at the repository's root (which holds no DVC project)
    mono = tmp_path / "mono"
    project = make_project(mono / "project")
    (project / "dvc.yaml").write_text(STALE_DVC_YAML)
    (project / "evaluate.py").write_text(STALE_EVALUATE.format(tests=str(ROOT / "tests")))
    (project / "recipe.txt").write_text("2")
    git(mono, "init", "-q", "-b", "main")
    _dvc(project, "init", "-q", "--subdir")
    _dvc(project, "repro")
    commit(mono, "base")
    (project / "dvc.yaml").write_text(STALE_DVC_YAML.replace("cmd: python evaluate.py", "cmd: python evaluate.py -x"))
    commit(mono, "cmd, not reproduced")
    done, _ = gate(project, "--target", "HEAD", base="HEAD~1")
    assert assert_error_line(done) == STALE.format(
        first="dvc.yaml's command of evaluate@baseline is not the one dvc.lock says it ran")
    done, _ = gate(project, "--target", "HEAD~1", base="HEAD~1")
    assert done.returncode == 0 and "gate: PASS" in done.stdout, done.stdout + done.stderr


def _experiment(project: Path, name: str, *, seed: int, wrong: list[int]) -> str:
    """A `dvc exp run -n name -S seed=N` of the commit checked out, as DVC keeps it (a commit under
    refs/exps/<xx>/<baseline>/<name>, the workspace left as it was); returns its commit."""
    baseline = git(project, "rev-parse", "HEAD").strip()
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump(params | {"seed": seed}, sort_keys=False))
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, wrong))
    commit(project, name)
    run = git(project, "rev-parse", "HEAD").strip()
    git(project, "update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}", run)
    git(project, "reset", "-q", "--hard", baseline)
    return run


@pytest.mark.hostile("gate")
def test_an_experiment_name_reused_on_another_baseline_is_named_as_ambiguous(tmp_path):
    # before: `-n seed1` run on main and on the branch made `--base main seed1` say "unknown revision; name a
    # branch, tag or commit that exists here", though dvc exp show lists both
    project = gate_project(tmp_path)
    on_main = _experiment(project, "seed1", seed=1, wrong=[1, 2, 3])
    git(project, "checkout", "-q", "-b", "feature")
    write_variant(project, "baseline", labels_of(), wrong_on(labels_of(), [1, 2, 4]))
    commit(project, "feature")
    on_branch = _experiment(project, "seed1", seed=1, wrong=[1, 2, 5])
    done, before = gate(project, "--target", "HEAD", base="seed1")
    first, second = sorted([on_main, on_branch])
    assert assert_error_line(done) == (
        f"error: --base seed1: names 2 dvc experiments (commits {first[:12]}, {second[:12]}: `dvc exp run -n` reused "
        "on another baseline); name the one you mean by its commit")
    assert_nothing_left(project, before)
    done, _ = gate(project, "--target", "HEAD", base=on_main[:12])
    assert done.returncode == 0 and "gate: PASS" in done.stdout, done.stdout + done.stderr


@pytest.mark.hostile("gate")
def test_an_experiment_ci_has_not_fetched_is_told_how_to_fetch(tmp_path):
    # before: the advice named branches only; actions/checkout never fetches refs/exps
    project = gate_project(tmp_path)
    done, before = gate(project, base="exp-a1")
    assert assert_error_line(done) == (
        "error: --base exp-a1: unknown revision; name a branch, tag, commit or dvc experiment that exists here (in "
        "CI fetch it first: actions/checkout with fetch-depth: 0, or git fetch origin <branch>; an experiment: dvc "
        "exp pull origin <name>)")
    assert files_under(project) == before


@pytest.mark.hostile("gate")
def test_ci_never_comments_a_gate_report_this_run_did_not_write():
    # before: a reports/gate.md committed with the pull request (the README's gate command writes it there, and
    # `git add -A` takes it) was posted as the pull request's comment whenever the gate stopped with an error or
    # never ran: a "gate: PASS" from the contributor's machine on a run that failed
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    steps = workflow["jobs"]["test-repro-gate"]["steps"]
    runs = [step.get("run", "") for step in steps]
    gate_step = next(i for i, run in enumerate(runs) if "winnow gate" in run)
    comment = next(i for i, run in enumerate(runs) if "gh pr comment" in run and "reports/gate.md" in run)
    removed = [i for i, step in enumerate(steps) if step.get("run", "").strip() == "rm -f reports/gate.md"
               and "if" not in step and "continue-on-error" not in step]
    assert removed and removed[0] < gate_step < comment, runs
    assert "--markdown reports/gate.md" in runs[gate_step]



@pytest.mark.hostile("gate")
def test_a_lock_with_every_hash_stripped_is_refused_at_a_commit(tmp_path):
    # a hand-forged lock: every md5 of every stage deleted, so no file could be compared with what DVC recorded,
    # and predictions written by hand under it must still not pass as a run's
    project = _dvc_project(tmp_path)
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    for entry in lock["stages"].values():
        for file in entry.get("deps", []) + entry.get("outs", []):
            file.pop("md5")
    (project / "dvc.lock").write_text(yaml.safe_dump(lock))
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, [5]))  # better than the model got: by hand
    commit(project, "predictions by hand under a lock without hashes")
    done, before = gate(project, "--target", "HEAD", base="HEAD~1")
    # six entries: evaluate's two outputs and two inputs, train's input and output
    assert assert_error_line(done) == STALE.replace("(1 problem(s)", "(6 problem(s)").format(
        first="dvc.lock's evaluate@baseline records no md5 for metrics/evaluate/baseline.json (not a lock `dvc repro` "
              "wrote)")
    assert_nothing_left(project, before)
