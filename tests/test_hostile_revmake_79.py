"""Review of probe 79's Makefile: the no-git check refused projects that have what dvc needs.

- A dvc project of core.no_scm set by ``dvc config core.no_scm true`` (the value lower-case; dvc init --no-scm writes
  True) was refused as "in no git repository ... run git init", where dvc repro runs.
- A git checkout owned by another user (a CI container's mounted workspace; git's "detected dubious ownership") was
  refused the same way, where dvc repro runs and git init would change nothing.
"""

import subprocess

import pytest

from hostile_harness import ROOT, _env
from test_hostile_make_79 import OUTER_MAKE, _tarball_project


def _repro(project, **extra) -> subprocess.CompletedProcess:
    """This repository's ``make repro`` in ``project``, its environment taken as set up, with ``extra`` set (and no
    outer make's variables)."""
    env = {name: value for name, value in {**_env(), **extra}.items() if name not in OUTER_MAKE}
    return subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), f"VENV={ROOT / '.venv'}",
                           "-o", f"{ROOT / '.venv'}/.installed", "repro"],
                          cwd=project, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.hostile("interrupted")
def test_make_repro_runs_in_a_project_of_no_scm_set_by_dvc_config(tmp_path):
    # before: "repro: ... is in no git repository, which dvc and the tests need ...: run git init in it, ..."
    project = _tarball_project(tmp_path)
    subprocess.run([str(ROOT / ".venv/bin/dvc"), "config", "core.no_scm", "true"], cwd=project, check=True, env=_env())
    done = _repro(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "hello.txt").read_text() == "hello\n"


@pytest.mark.hostile("interrupted")
def test_make_repro_runs_in_a_git_checkout_owned_by_another_user(tmp_path):
    # before: the same "is in no git repository ... run git init" refusal; git's own test switch stands for a checkout
    # another uid owns (chown needs root), as git rev-parse then says "fatal: detected dubious ownership"
    project = _tarball_project(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    done = _repro(project, GIT_TEST_ASSUME_DIFFERENT_OWNER="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "hello.txt").read_text() == "hello\n"
