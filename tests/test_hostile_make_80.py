"""Probe 80: the set-up's refusals come before its downloads, and a host with no package index gets its error soon.

- In a tarball or zip export (no .git) with no .venv yet, `make test` and `make repro` ran the whole set-up (venv, pip
  upgrade, torch, the pinned rest: minutes of downloads) and only then said "run git init"; under ``make -j2`` the
  set-up started beside the check and ran on after it. The check is a prerequisite of the set-up now, and reads
  core.no_scm from .dvc/config where no dvc is installed yet.
- With no network (or an index that does not answer) each pip step waited pip's 15 s timeout with 5 retries and
  back-off per request before its error; every step is bounded now (PIP_TIMEOUT, PIP_RETRIES: pip's own names) and a
  failed step ends in one line on how to set up without the index.

Make runs in a copy with the stub Python of probe 79 (a venv of links, a pip that logs its arguments): no download.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from hostile_harness import ROOT
from test_hostile_make_79 import BOUNDED, OUTER_MAKE, PIP_STEPS, STUB, TORCH, _clone, _make

NO_GIT = ("{target}: {project} is in no git repository, which dvc and the tests need (a tarball or zip export has "
          "none): run git init in it, or clone the project with git clone\n")
NO_INDEX = ("setup: pip could not install torch into .venv (pip's error above); with no network, install from a folder "
            "of wheels: PIP_NO_INDEX=1 PIP_FIND_LINKS=/path/to/wheels make setup, or from another index: "
            "PIP_INDEX_URL=https://host/simple make setup")


@pytest.fixture(autouse=True)
def _no_outer_make(monkeypatch):
    """The makes these tests run are make's first, whatever make runs the tests (as in probe 79)."""
    for name in OUTER_MAKE:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("args", [("test",), ("repro",), ("-j2", "test"), ("-j2", "repro")])
def test_a_tarball_export_is_refused_before_the_set_up_starts(tmp_path, args):
    # before: `python3.11 -m venv --clear .venv` and every pip step (torch, the pinned rest) ran first, then "test: ...
    # is in no git repository"; under -j2 the set-up ran beside the check and went on after its refusal
    clone = _clone(tmp_path / "winnow")
    done = _make(clone, tmp_path, *args)
    assert done.returncode == 2
    assert done.stdout == NO_GIT.format(target=args[-1], project=clone)
    assert not (tmp_path / "venv.log").exists()
    assert not (clone / ".venv").exists()


@pytest.mark.hostile("interrupted")
def test_an_export_of_no_scm_is_set_up_and_reproduced_though_no_dvc_is_installed_yet(tmp_path):
    # the check comes before the set-up, where no dvc runs to read core.no_scm: it reads .dvc/config itself
    clone = _clone(tmp_path / "winnow")
    (clone / "src").symlink_to(ROOT / "src")
    (clone / ".dvc").mkdir()
    (clone / ".dvc/config").write_text("[core]\n    no_scm = true\n")
    # the stub venv's python runs the shared environment's (a link would find no site-packages beside it), and its dvc
    # logs its arguments, so that `make repro` runs to its end
    stub = STUB.replace(f'ln -sf {sys.executable} "$d/bin/python"',
                        f'printf \'#!/bin/sh\\nexec {sys.executable} "$@"\\n\' > "$d/bin/python" && chmod +x "$d/bin/python"'
                        '\n  printf \'#!/bin/sh\\necho dvc "$@" >> "$VENV_LOG"\\n\' > "$d/bin/dvc" && chmod +x "$d/bin/dvc"')
    done = _make(clone, tmp_path, "repro", stub=stub)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "venv.log").read_text().splitlines() == ["-m venv --clear .venv", *PIP_STEPS, "dvc repro"]


@pytest.mark.hostile("interrupted")
def test_a_pip_step_that_cannot_reach_the_index_ends_in_one_line_on_setting_up_without_it(tmp_path):
    # before: pip's "ERROR: No matching distribution found for torch==..." after minutes of "Retrying (Retry(total=4,
    # ...)) after connection broken by NewConnectionError", with nothing on what to do offline
    clone = _clone(tmp_path / "winnow")
    # the stub's pip fails on torch as pip with no index does
    offline = ('case "$*" in *torch==*) for a; do :; done; echo "ERROR: No matching distribution found for $a" >&2; '
               'exit 1;; esac\\necho "$@" >> "$VENV_LOG"')
    done = _make(clone, tmp_path, ".venv/.installed", stub=STUB.replace('echo "$@" >> "$VENV_LOG"', offline))
    assert done.returncode == 2
    assert done.stdout.splitlines()[-1] == NO_INDEX
    assert f"ERROR: No matching distribution found for {TORCH}" in done.stderr
    # the pinned rest is not tried after torch failed, and the set-up is not taken as done
    assert (tmp_path / "venv.log").read_text().splitlines() == ["-m venv --clear .venv", PIP_STEPS[0]]
    assert not (clone / ".venv/.installed").exists()


@pytest.mark.hostile("interrupted")
def test_pip_timeout_and_retries_in_the_environment_bound_every_pip_step(tmp_path):
    # a slow link needs a longer wait: pip's own variables, exported, are what make setup passes on
    clone = _clone(tmp_path / "winnow")
    done = _make(clone, tmp_path, ".venv/.installed", extra={"PIP_TIMEOUT": "60", "PIP_RETRIES": "3"})
    assert done.returncode == 0, done.stdout + done.stderr
    longer = "install --quiet --timeout 60 --retries 3"
    assert (tmp_path / "venv.log").read_text().splitlines() == [
        "-m venv --clear .venv", *(step.replace(BOUNDED, longer) for step in PIP_STEPS)]


@pytest.mark.hostile("interrupted")
def test_pip_default_timeout_in_the_environment_is_kept(tmp_path):
    # pip reads PIP_DEFAULT_TIMEOUT as its --timeout too: a host that sets it (180 s) is not given 15 s in its place
    clone = _clone(tmp_path / "winnow")
    done = _make(clone, tmp_path, ".venv/.installed", extra={"PIP_DEFAULT_TIMEOUT": "180"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "venv.log").read_text().splitlines() == [
        "-m venv --clear .venv", *(step.replace("--timeout 15", "--timeout 180") for step in PIP_STEPS)]


def test_ci_script_is_executable_in_the_repository():
    # a CI that runs .ci/run (the README's script) stops on "Permission denied" if git records it without +x
    mode = subprocess.run(["git", "ls-files", "-s", ".ci/run"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert mode.stdout.split()[0] == "100755"


@pytest.mark.hostile("interrupted")
def test_make_setup_run_from_a_subfolder_names_the_folder_to_run_it_in(tmp_path):
    # before: make: *** No rule to make target 'requirements.lock', needed by '.venv/.installed'.  Stop.
    clone = _clone(tmp_path / "winnow")
    (clone / "src").mkdir()
    done = _make(clone / "src", tmp_path, "-f", "../Makefile", "setup")
    assert done.returncode == 2
    assert done.stdout == (f"setup: {clone / 'src'} has no requirements.lock, which the set-up installs from: run make "
                           f"in the project's folder: make -C {clone} setup\n")
    assert not (tmp_path / "venv.log").exists()
    assert not (clone / "src/.venv").exists()


@pytest.mark.hostile("interrupted")
def test_a_venv_made_by_python_3_10_is_made_anew_though_its_stamp_is_there(tmp_path):
    # a .venv another checkout's older make (or `python3.10 -m venv .venv` by hand) made runs no winnow: made anew
    clone = _clone(tmp_path / "winnow")
    (clone / ".venv/bin").mkdir(parents=True)
    (clone / ".venv/bin/python").write_text('#!/bin/sh\n[ "$1" = -V ] && echo "Python 3.10.12"\nexit 1\n')
    (clone / ".venv/bin/python").chmod(0o755)
    (clone / ".venv/.installed").touch()
    done = _make(clone, tmp_path, ".venv/.installed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "venv.log").read_text().splitlines() == ["-m venv --clear .venv", *PIP_STEPS]
    assert (clone / ".venv/bin/python").resolve() == Path(sys.executable).resolve()
