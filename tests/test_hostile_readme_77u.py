"""The README taken literally (probe 77u, its first half: install, first run, the default pipeline).

- The README's first section sets up ``.venv`` with ``make repro`` and says to activate it "to use ``dvc`` and
  ``winnow`` directly". A stage run by another Python (a dvc installed elsewhere, pipx's or the system's, runs
  dvc.yaml's ``python`` from a PATH without .venv; ``python stages/<name>.py`` outside the environment), or
  ``python -m winnow`` there, ended in a traceback ending ``ModuleNotFoundError: No module named 'numpy'``. It is one
  line now that names the Python and the environment to run it in.
- ``make repro`` first runs ``python -c 'from winnow.stage import drop_broken_dvc_lock; ...'``, which imported winnow
  from the environment's editable install: in a git worktree or second checkout sharing .venv, another checkout's code,
  and one without that function stopped ``make repro`` with an ImportError traceback before ``dvc repro`` ran. It runs
  this checkout's ``src/``, as dvc.yaml's ``PYTHONPATH=src`` gives the stages.
- params.yaml's comment on ``budget.check`` said pruned applies the winner only when its model gets more judge images
  right than none's, "a tie or a loss: none": the rule before the filters' own check. The README (The cleaning budget)
  and the code ship the filters on a tie, and check them alone when a label cleaning is held back.
"""

import os
import subprocess
import sys

import pytest

from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project

# python -S: no site-packages, so none of winnow's dependencies; the Python a stage runs by outside .venv
MISSING = (f"this Python ({sys.executable}) has no module named 'numpy', which winnow imports: it is not the project's "
           "environment; run it there (make repro sets up .venv; activate it with . .venv/bin/activate before dvc "
           "repro), then rerun")


def _without_packages(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-S", *args], cwd=project, capture_output=True, text=True,
                          env={**_env(), "PYTHONNOUSERSITE": "1"}, timeout=300)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("stage", ["source", "score", "train"])
def test_a_stage_run_by_a_python_without_winnows_packages_is_one_line_naming_that_python(tmp_path, stage):
    # before: Traceback ... File "src/winnow/imageset.py" ... ModuleNotFoundError: No module named 'numpy'
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = _without_packages(project, os.fspath(ROOT / "stages" / f"{stage}.py"), "baseline")
    assert assert_error_line(done) == f"error: stages/{stage}.py: {MISSING}"
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_the_winnow_command_run_by_a_python_without_its_packages_is_one_line(tmp_path):
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = _without_packages(project, "-m", "winnow", "compare")
    assert assert_error_line(done) == f"error: compare: {MISSING}"
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_make_repro_runs_this_checkouts_code_not_the_environments_editable_install(tmp_path):
    # before: the Makefile's `python -c 'from winnow.stage import drop_broken_dvc_lock; ...'` imported winnow from
    # the environment (its editable install: the checkout `make setup` ran in), so in a git worktree or a second
    # checkout sharing .venv it ran that checkout's code, and one without drop_broken_dvc_lock stopped `make repro`
    # with an ImportError traceback before dvc repro ran. The stages import src/ (dvc.yaml's PYTHONPATH=src); so does it
    shadow = tmp_path / "other-checkout" / "winnow"  # what the environment's editable install points at
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    (shadow / "stage.py").write_text('"""An older winnow, without drop_broken_dvc_lock."""\n')
    project = tmp_path / "project"
    project.mkdir()
    env = {**_env(), "PYTHONPATH": str(shadow.parent)}
    subprocess.run([str(ROOT / ".venv/bin/dvc"), "init", "-q", "--no-scm"], cwd=project, check=True, env=env)
    (project / "dvc.yaml").write_text("stages:\n  hello:\n    cmd: echo hello > hello.txt\n    outs: [hello.txt]\n")
    done = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), f"VENV={ROOT / '.venv'}",
                           "-o", f"{ROOT / '.venv'}/.installed", "repro"],
                          cwd=project, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "hello.txt").read_text() == "hello\n"


@pytest.mark.hostile("budget")
def test_params_yamls_comment_on_the_budget_check_states_the_rule_the_check_applies():
    import numpy as np

    from winnow.budget_check import ModelCheck

    lines = (ROOT / "params.yaml").read_text().split("\n  check: ", 1)[1].split("\n  min_judge_images:", 1)[0]
    comment = " ".join(line.split("#", 1)[1].strip() for line in lines.splitlines())
    tie = ModelCheck(none_hits=np.ones(5), winner_hits=np.ones(5))
    # a tie: a label cleaning is held back, the filters ship (README: "a tie ships them")
    assert (tie.holds, tie.not_worse()) == (False, True)
    # before: "pruned applies the winner only when that model gets more judge images right than none's (a tie or a
    # loss: none)", which a winner of filters on a tie contradicts
    assert "(a tie or a loss: none)" not in comment
    assert "the filters ship unless theirs gets fewer (a tie ships them)" in comment
