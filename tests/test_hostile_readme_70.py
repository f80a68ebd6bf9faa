"""The README taken literally (probe 70): each command it tells a user to type does what it says.

- The pipeline section says a ``variants`` of one must be a list and tells the user to write
  ``-S 'variants=[baseline]'``; applied by DVC to the shipped params.yaml it was refused before any stage ran
  (``contracts.enforce_variants[0]: pruned is not in variants ["baseline"]``: the default enforces pruned), and the
  line named no way out. The README now gives the override that runs, and the line says what to do.
- The gate's refusal of stale workspace outputs (the README's "the workspace's predictions are stale") named as the
  "first" stale stage whichever dvc status gathered first in a set: the clone's one stale pipeline read "first
  source" and, asked again, "first threshold". It names the stage the pipeline runs first.
- ``winnow compare`` (and ``study collect``, whose README says it works from a subfolder) run from a folder inside
  the project (its reports/) read each commit's dvc.lock relative to that folder, found none, and compared a commit
  whose dvc.lock contradicts its metrics as current: the run the same command leaves out from the project's root.
  ``--repo`` in a project's subfolder now stands for the project."""

import hashlib
import shutil

import pytest
import yaml
from dvc.repo import Repo
from dvc.utils.hydra import apply_overrides

from hostile_harness import ROOT
from test_hostile_gate import _dvc_project, _edit_code
from winnow import cli
from winnow.errors import WinnowError
from winnow.params import load
from winnow.staleness import check_workspace_current

README = (ROOT / "README.md").read_text()


def overridden(tmp_path, overrides: list[str]):
    """The shipped params.yaml (dvc.yaml beside it) after ``dvc exp run -S`` of ``overrides``, as DVC applies them."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    apply_overrides(tmp_path / "params.yaml", overrides)
    return tmp_path / "params.yaml"


@pytest.mark.hostile("params")
def test_the_one_variant_override_the_readme_gives_validates_on_the_shipped_params(tmp_path):
    # before: the README said "write -S 'variants=[baseline]'", which the shipped params.yaml refused at the first stage
    told = README.split("is not iterable`; write it as a list", 1)[1].split("\n\n", 1)[0]
    command = told.split("for baseline alone\n`", 1)[1].split("`", 1)[0]
    overrides = [part.strip().strip("'") for part in command.split("-S ")[1:]]
    assert load(overridden(tmp_path, overrides))["variants"] == ["baseline"]


@pytest.mark.hostile("params")
def test_an_enforced_variant_left_out_of_variants_is_refused_with_what_to_do(tmp_path):
    # before: "contracts.enforce_variants[0]: pruned is not in variants ["baseline"]" and nothing more
    with pytest.raises(WinnowError) as refused:
        load(overridden(tmp_path, ["variants=[baseline]"]))
    assert str(refused.value) == ('params.yaml: contracts.enforce_variants[0]: pruned is not in variants ["baseline"], '
                                  'so it has no contract to enforce; add it to variants, or leave it out of '
                                  'contracts.enforce_variants')


# a chain whose names run against its order: each stage reads its own recipe and the output of the one before
CHAIN = ["zeta", "eta", "delta", "gamma", "beta", "alpha"]


@pytest.mark.hostile("params")
def test_the_stale_stage_named_first_is_the_one_the_pipeline_runs_first(tmp_path):
    # before: dvc status gathers the stages in a set, so "first" named any of the six (one in six runs zeta)
    project = tmp_path / "project"
    project.mkdir()
    Repo.init(str(project), no_scm=True).close()
    stages, lock, before = {}, {"schema": "2.0", "stages": {}}, None
    for name in [*CHAIN, "evaluate"]:
        (project / f"{name}.txt").write_text("1")
        reads = [f"{name}.txt", *([before] if before else [])]
        out = "metrics/evaluate/baseline.json" if name == "evaluate" else f"{name}.out"
        (project / out).parent.mkdir(parents=True, exist_ok=True)
        (project / out).write_text(name)
        stage = {"cmd": f"echo {name}", "deps": reads, "outs": [{out: {"cache": False}}]}
        stages[name] = {"foreach": ["baseline"], "do": stage} if name == "evaluate" else stage
        locked = [{"path": path, "hash": "md5", "md5": hashlib.md5((project / path).read_bytes()).hexdigest(),
                   "size": (project / path).stat().st_size} for path in (*reads, out)]
        lock["stages"]["evaluate@baseline" if name == "evaluate" else name] = {
            "cmd": f"echo {name}", "deps": locked[:-1], "outs": locked[-1:]}
        before = out
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    (project / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    check_workspace_current(project, ["evaluate@baseline"])  # as locked: current
    for name in CHAIN:
        (project / f"{name}.txt").write_text("2")
    with pytest.raises(WinnowError) as refused:
        check_workspace_current(project, ["evaluate@baseline"])
    assert str(refused.value) == (
        "the workspace's outputs of evaluate@baseline are stale: dvc status lists 6 stage(s) up to them, first zeta "
        "(changed deps: zeta.txt modified); run `dvc repro` (or `dvc pull`), then again, or name a commit whose "
        "outputs count (e.g. --target HEAD)")


@pytest.mark.hostile("params")
def test_compare_from_a_subfolder_leaves_out_a_commit_whose_lock_contradicts_its_metrics(tmp_path, monkeypatch,
                                                                                        capsys):
    # before: from reports/ it compared both commits, the one whose code changed without dvc repro as a seed, exit 0
    project = _dvc_project(tmp_path)
    _edit_code(project, "code, not reproduced")
    (project / "reports").mkdir(exist_ok=True)
    monkeypatch.chdir(project / "reports")
    assert cli.main(["compare", "--num", "2", "--variants", "baseline"]) == 0
    assert capsys.readouterr().out.startswith(
        "# Variants over 1 run(s) (seeds 0)\n\n_left out 1 run(s) whose metrics their own dvc.lock contradicts "
        "(evaluate.py changed since dvc.lock's evaluate@baseline ran; rerun `dvc repro` there): ")
