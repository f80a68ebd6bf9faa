"""Hostile inputs to the merge gate found at stop 64: outputs it took as current though no pipeline made them, and a
run pooled against itself."""

import hashlib
import logging

import pytest
import yaml
from dvc.repo import Repo
from gate_repo import commit, git, labels_of, write_variant, wrong_on
from hostile_harness import default_params, make_project

from winnow.errors import WinnowError
from winnow.gate import gate
from winnow.gate_table import GateSettings
from winnow.staleness import check_commit_current, check_workspace_current

# a pipeline whose train stage is frozen (`dvc freeze`, or frozen: true by hand for a matrix stage)
FROZEN_DVC_YAML = """stages:
  train:
    foreach: [baseline]
    do:
      frozen: true
      cmd: cp recipe.txt model.txt
      deps: [recipe.txt]
      outs:
        - model.txt:
            cache: false
  evaluate:
    foreach: [baseline]
    do:
      cmd: python evaluate.py
      deps: [evaluate.py, model.txt, labels.txt]
      outs:
        - metrics/evaluate/${item}/predictions.csv:
            cache: false
      metrics:
        - metrics/evaluate/${item}.json:
            cache: false
"""
FROZEN_HINT = ("dvc.yaml freezes it, so dvc status and dvc repro skip it: take its frozen: true out (dvc unfreeze) "
               "first")


def _locked(project, *paths: str) -> list[dict]:
    """dvc.lock's entries of ``paths`` as `dvc repro` records them (DVC 3: the md5 of the file's bytes)."""
    return [{"path": path, "hash": "md5", "md5": hashlib.md5((project / path).read_bytes()).hexdigest(),
             "size": (project / path).stat().st_size} for path in paths]


def _frozen_project(tmp_path):
    """A DVC project, committed, whose frozen train@baseline copied recipe 2 and whose evaluate@baseline got 2 of 100
    test images wrong, reading labels.txt, which `dvc import-url` brought from outside; with the dvc.lock `dvc repro`
    writes (made here without DVC's run: seconds saved)."""
    project = make_project(tmp_path / "project", default_params())
    git(project, "init", "-q", "-b", "main")
    (tmp_path / "outside.txt").write_text("labels")
    with Repo.init(str(project)) as dvc_repo:
        dvc_repo.imp_url(str(tmp_path / "outside.txt"), out=str(project / "labels.txt"))
    (project / "dvc.yaml").write_text(FROZEN_DVC_YAML)
    (project / "recipe.txt").write_text("2")
    (project / "model.txt").write_text("2")
    (project / "evaluate.py").write_text("raise SystemExit('not run here')\n")
    labels = labels_of(per_class=10)
    write_variant(project, "baseline", labels, wrong_on(labels, [1, 2]))
    lock = {"schema": "2.0", "stages": {
        "train@baseline": {"cmd": "cp recipe.txt model.txt", "deps": _locked(project, "recipe.txt"),
                           "outs": _locked(project, "model.txt")},
        "evaluate@baseline": {"cmd": "python evaluate.py",
                              "deps": _locked(project, "evaluate.py", "model.txt", "labels.txt"),
                              "outs": _locked(project, "metrics/evaluate/baseline/predictions.csv",
                                              "metrics/evaluate/baseline.json")}}}
    (project / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    commit(project, "base")
    return project


@pytest.mark.hostile("gate")
def test_a_frozen_stage_whose_inputs_changed_leaves_the_predictions_after_it_stale(tmp_path, caplog):
    # before: dvc status and dvc repro skip a frozen stage's inputs, so with train frozen and its recipe edited (2 ->
    # 400) `dvc repro` changed nothing, and the gate passed the old predictions as the head's, in the workspace (CI's
    # target) and committed alike
    project = _frozen_project(tmp_path)
    settings = GateSettings.from_params(default_params()["gate"])
    # a frozen stage run on what it reads now is current; so is an import whose source moved on (as for dvc status)
    (tmp_path / "outside.txt").write_text("labels, updated")
    check_workspace_current(project, ["evaluate@baseline"])
    (project / "recipe.txt").write_text("400")
    with pytest.raises(WinnowError) as refused:
        gate(project, base="HEAD", target="workspace", settings=settings)
    assert str(refused.value) == (
        "the workspace's outputs of evaluate@baseline are stale: dvc status lists 1 stage(s) up to them, first "
        f"train@baseline (changed deps: recipe.txt modified; {FROZEN_HINT}); run `dvc repro` (or `dvc pull`), then "
        "again, or name a commit whose outputs count (e.g. --target HEAD)")
    # nor dvc status's "stage: 'train@baseline' is frozen. Its dependencies are not going to be shown" before it, a line
    # per frozen stage or import that was untrue and broke the one error line
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []
    commit(project, "recipe 400, train frozen")
    with pytest.raises(WinnowError) as refused:
        gate(project, base="HEAD~1", target="HEAD", settings=settings)
    assert str(refused.value) == (
        "HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), first: "
        f"recipe.txt changed since dvc.lock's train@baseline ran; {FROZEN_HINT}); rerun `dvc repro` there and "
        "commit dvc.lock and metrics/ together")


@pytest.mark.hostile("gate")
def test_a_target_that_deleted_the_bases_dvc_yaml_is_refused(tmp_path):
    # before: a folder without dvc.yaml is read as it is (dvc status there is clean too), so a change that deleted
    # dvc.yaml and wrote its predictions by hand (here every one right) was gated on them and passed, in the workspace
    # and committed, CI's remote path included
    project = make_project(tmp_path / "project", default_params())
    (project / "dvc.yaml").write_text(FROZEN_DVC_YAML)
    labels = labels_of(per_class=10)
    write_variant(project, "baseline", labels, wrong_on(labels, [1, 2]))
    git(project, "init", "-q", "-b", "main")
    commit(project, "base")
    git(project, "rm", "-q", "dvc.yaml")
    write_variant(project, "baseline", labels, labels)
    settings = GateSettings.from_params(default_params()["gate"])
    refusal = ("--target {target}: no dvc.yaml there, where {base} has one, so nothing shows that its predictions are "
               "what the pipeline makes (dvc status and the commit check read dvc.yaml); restore dvc.yaml and dvc.lock, "
               "run dvc repro, then again")
    with pytest.raises(WinnowError) as refused:
        gate(project, base="HEAD", target="workspace", settings=settings)
    assert str(refused.value) == refusal.format(target="workspace", base="HEAD")
    commit(project, "no pipeline, predictions by hand")
    with pytest.raises(WinnowError) as refused:
        gate(project, base="HEAD~1", target="HEAD", settings=settings)
    assert str(refused.value) == refusal.format(target="HEAD", base="HEAD~1")


@pytest.mark.hostile("gate")
def test_a_run_given_on_both_sides_of_a_pooled_gate_is_refused(tmp_path):
    # before: `--base a0 a1 --target a0 b1` pooled a0 against itself. b1 sent 30 of class 3's 1,000 test images to
    # class 4: alone, recall -0.0300 and class 4's false positives +0.0300, both REGRESSED; pooled with a0, -0.0150
    # and +0.0150, "drop within tolerance" (0.02) and "gate: PASS"
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of(per_class=1000)
    git(project, "init", "-q", "-b", "main")
    for seed, name, wrong in ((0, "a0", [1]), (1, "a1", [2]), (1, "b1", range(3000, 3030))):
        (project / "params.yaml").write_text(yaml.safe_dump(default_params() | {"seed": seed}, sort_keys=False))
        write_variant(project, "baseline", labels, wrong_on(labels, list(wrong)))
        commit(project, name)
        git(project, "tag", name)
    settings = GateSettings.from_params(default_params()["gate"])
    table, _ = gate(project, base=["a0", "a1"], target=["b1"], settings=settings)  # b1 alone: both rows regress
    assert set(table.loc[table["verdict"] == "REGRESSED", "class"]) == {"3", "4"}
    with pytest.raises(WinnowError) as refused:
        gate(project, base=["a0", "a1"], target=["a0", "b1"], settings=settings)
    assert str(refused.value) == (
        "--target a0: is a --base run too (a0, the same run), and pooled, a run tested against itself hides part of "
        "every change the others make; give each side its own runs (dvc exp run -S seed=N on each revision)")


@pytest.mark.hostile("gate")
def test_a_dvc_2_lock_is_hashed_as_dvc_2_hashed(tmp_path):
    # before: an entry without `hash: md5` (DVC 2 wrote none, and DVC 3 keeps such entries until the stage reruns) was
    # never compared with its file, so predictions written by hand under a DVC 2 lock passed as the run's
    project = _frozen_project(tmp_path)
    (project / "evaluate.py").write_bytes(b"raise SystemExit(\r\n    'not run here')\r\n")  # DVC 2 hashed it as LF
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    for entry in lock["stages"].values():
        for file in entry["deps"] + entry["outs"]:
            del file["hash"]
    lock["stages"]["evaluate@baseline"]["deps"][0]["md5"] = hashlib.md5(
        b"raise SystemExit(\n    'not run here')\n").hexdigest()
    (project / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    commit(project, "the lock DVC 2 wrote")
    check_commit_current(project, "HEAD", name="HEAD", targets=["evaluate@baseline"])  # as DVC 2 wrote it: current
    labels = labels_of(per_class=10)
    write_variant(project, "baseline", labels, labels)
    commit(project, "every prediction right, by hand")
    with pytest.raises(WinnowError) as refused:
        gate(project, base="HEAD~1", target="HEAD", settings=GateSettings.from_params(default_params()["gate"]))
    assert str(refused.value) == (
        "HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (2 problem(s), first: "
        "metrics/evaluate/baseline/predictions.csv is not the file dvc.lock says evaluate@baseline wrote); rerun `dvc "
        "repro` there and commit dvc.lock and metrics/ together")


@pytest.mark.hostile("gate")
def test_a_dvc_import_whose_source_repository_moved_on_is_not_stale(tmp_path):
    # before: dvc status asks an import's source for updates, so with data.txt brought by `dvc import` from another
    # repository, and that repository's data.txt changed since, the gate refused the workspace ("data.txt.dvc (changed
    # deps: data.txt (...) update available); run `dvc repro`"), which dvc repro never changes: only `dvc update` does
    source = tmp_path / "source"
    source.mkdir()
    git(source, "init", "-q", "-b", "main")
    with Repo.init(str(source)) as dvc_repo:
        (source / "data.txt").write_text("v1")
        dvc_repo.add(str(source / "data.txt"))
    commit(source, "v1")
    project = _frozen_project(tmp_path)
    with Repo(str(project)) as dvc_repo:
        dvc_repo.imp(str(source), "data.txt", out=str(project / "data.txt"))
    (project / "dvc.yaml").write_text(FROZEN_DVC_YAML.replace("labels.txt]", "labels.txt, data.txt]"))
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    lock["stages"]["evaluate@baseline"]["deps"] += _locked(project, "data.txt")
    (project / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    commit(project, "evaluate reads data.txt, imported")
    (source / "data.txt").write_text("v2")
    with Repo(str(source)) as dvc_repo:
        dvc_repo.add(str(source / "data.txt"))
    commit(source, "v2")
    check_workspace_current(project, ["evaluate@baseline"])  # what the import holds is what evaluate read


@pytest.mark.hostile("gate")
def test_an_input_moved_from_git_to_dvc_as_it_was_is_current(tmp_path):
    # before: git's diff since the lock saw evaluate.py deleted once `dvc add` tracked it instead of git, so the commit
    # was refused with "rerun `dvc repro` there", where dvc status and dvc repro see no change (the same md5)
    project = _frozen_project(tmp_path)
    git(project, "rm", "-q", "--cached", "evaluate.py")
    with Repo(str(project)) as dvc_repo:
        dvc_repo.add(str(project / "evaluate.py"))
    commit(project, "evaluate.py tracked by DVC")
    check_commit_current(project, "HEAD", name="HEAD", targets=["evaluate@baseline"])
    (project / "evaluate.py").write_text("raise SystemExit('edited')\n")  # moved and edited: stale, as dvc status says
    with Repo(str(project)) as dvc_repo:
        dvc_repo.add(str(project / "evaluate.py"))
    commit(project, "evaluate.py edited")
    with pytest.raises(WinnowError) as refused:
        check_commit_current(project, "HEAD", name="HEAD", targets=["evaluate@baseline"])
    assert str(refused.value) == (
        "HEAD: its outputs of evaluate@baseline are not what its dvc.lock and params.yaml say (1 problem(s), first: "
        "evaluate.py changed since dvc.lock's evaluate@baseline ran); rerun `dvc repro` there and commit dvc.lock and "
        "metrics/ together")
