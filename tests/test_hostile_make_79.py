"""Probe 79: a fresh clone's `make setup` / `make repro` under the environments real users and CI have.

- A clone in a folder whose name has a space (``My Projects``) stopped `make setup` on its first pip step:
  ``make: /home/me/My: No such file or directory``; one with a quote (``o'brien``) stopped `make repro` on a shell
  syntax error. Every path is quoted now, and src reaches the shell through the environment.
- A .venv whose interpreter was removed or upgraded away (dangling ``bin/python``) was never repaired: ``python3 -m
  venv`` keeps a dangling link as it is, so `make setup` ended in ``Error: [Errno 2] No such file or directory:
  '.venv/bin/python3'`` every time, or left ``bin/python`` dangling; with the stamp there, `make repro` ran the
  system's python into a ModuleNotFoundError traceback. Such a .venv is made anew (venv --clear).
- Without a python3 (python3.11 beside it, or neither), or with a python3 older than 3.11, `make setup` stopped on
  ``make: python3: No such file or directory`` or, minutes of downloads later, on pip's "requires a different
  Python". It takes python3.11 (CI's) or python3 of 3.11 or newer, and otherwise says so in one line before anything.
  A PYTHON exported for another tool (node-gyp reads one) is not taken for it: only ``make setup PYTHON=...``.
- In a tarball or zip export (no .git), `make repro` ended in dvc's bare "is not a git repository" and `make test` in
  a `git ls-files` traceback per test that lists the checkout: both are one line naming git init now.
- Two makes setting up one fresh .venv at once (make repro beside make test) each ran venv --clear and pip into it;
  the set-up holds a flock now, and the second finds it done.

The Python that makes .venv is a stub here (a venv of links and a pip that logs its arguments): no download.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hostile_harness import ROOT, _env

MAKE = shutil.which("make")
FIX = "install python3.11 (CI's Python), or name one: make setup PYTHON=/path/to/python3.11"
# `python -m venv [--clear] DIR`, as the stub: DIR/bin/python a link to a working Python, DIR/bin/pip a logger
STUB = f"""#!/bin/sh
if [ "$1" = -m ] && [ "$2" = venv ]; then
  for d; do :; done
  echo "$*" >> "$VENV_LOG"
  mkdir -p "$d/bin" && ln -sf {sys.executable} "$d/bin/python"
  printf '#!/bin/sh\\n[ "$1" = config ] && exit 0\\necho "$@" >> "$VENV_LOG"\\n' > "$d/bin/pip" && chmod +x "$d/bin/pip"
  exit 0
fi
exec {sys.executable} "$@"
"""
TORCH = next(line for line in (ROOT / 'requirements.lock').read_text().splitlines() if line.startswith('torch=='))
# every pip step bounded (probe 80): 15 s a request and one retry, so that no network is an error in under a minute
BOUNDED = "install --quiet --timeout 15 --retries 1"
PIP_STEPS = [f"{BOUNDED} --upgrade pip", f"{BOUNDED} {TORCH}", f"{BOUNDED} -c requirements.lock -e .[dev,faiss,ray]"]


# what a make hands the makes below it: the suite's own ``make test PYTHON=...`` (or VENV=...) gave its command-line
# variables to every make these tests run, which took the stub's place (a real venv and pip) and failed 5 of them
OUTER_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL")
# what the host's environment may choose for make setup, which these tests choose themselves: a PYTHON exported for
# another tool, and pip's wait (a host's PIP_DEFAULT_TIMEOUT=180 took the place of the Makefile's bound)
HOST_CHOICES = ("PYTHON", "PIP_TIMEOUT", "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES")


@pytest.fixture(autouse=True)
def _no_outer_make(monkeypatch):
    """The makes these tests run are make's first, whatever make runs the tests."""
    for name in OUTER_MAKE:
        monkeypatch.delenv(name, raising=False)


def _clone(folder: Path) -> Path:
    """The files `make setup` reads, as a fresh clone in ``folder`` has them."""
    folder.mkdir(parents=True)
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def _make(clone: Path, tmp_path: Path, *args: str, python: str = "python3.11", path: str | None = None,
          extra: dict | None = None, stub: str = STUB):
    """``make -s <args>`` in ``clone`` with ``stub`` as ``python`` on PATH (or ``path`` alone), and ``extra`` in
    its environment."""
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    (stubs / python).write_text(stub)
    (stubs / python).chmod(0o755)
    # PIP_NO_INDEX: a Makefile that let a refused Python through fails fast, without a download
    env = {**os.environ, "VENV_LOG": str(tmp_path / "venv.log"), "PIP_NO_INDEX": "1",
           "PATH": path if path is not None else f"{stubs}{os.pathsep}{os.environ['PATH']}"}
    for name in HOST_CHOICES:
        env.pop(name, None)
    env.update(extra or {})
    return subprocess.run([MAKE, "-s", *args], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.hostile("interrupted")
def test_make_setup_in_a_folder_whose_name_has_a_space_and_an_accent_runs_every_step(tmp_path):
    # before: make: /tmp/.../My Projects café/.venv/bin/pip: split at the space, "/tmp/.../My: No such file or directory"
    clone = _clone(tmp_path / "My Projects café" / "winnow")
    done = _make(clone, tmp_path, ".venv/.installed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "venv.log").read_text().splitlines() == ["-m venv --clear .venv", *PIP_STEPS]
    assert (clone / ".venv/.installed").exists()


@pytest.mark.hostile("interrupted")
def test_make_repro_in_a_folder_whose_name_has_a_quote_runs_dvc_repro(tmp_path):
    # before: PYTHONPATH='/tmp/.../o'brien/src' python -c ...: "Syntax error: Unterminated quoted string"
    project = tmp_path / "o'brien" / "winnow"
    project.mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", project / "Makefile")
    (project / "src").symlink_to(ROOT / "src")
    subprocess.run([str(ROOT / ".venv/bin/dvc"), "init", "-q", "--no-scm"], cwd=project, check=True, env=_env())
    (project / "dvc.yaml").write_text("stages:\n  hello:\n    cmd: echo hello > hello.txt\n    outs: [hello.txt]\n")
    done = subprocess.run(["make", "-s", f"VENV={ROOT / '.venv'}", "-o", f"{ROOT / '.venv'}/.installed", "repro"],
                          cwd=project, capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "hello.txt").read_text() == "hello\n"


@pytest.mark.hostile("interrupted")
def test_a_venv_whose_python_is_gone_is_made_anew_though_its_stamp_is_there(tmp_path):
    # before: `make repro` went on ("up to date"); without the stamp, python3 -m venv kept the dangling link and
    # stopped on "Error: [Errno 2] No such file or directory: '.venv/bin/python3'" at every make setup
    clone = _clone(tmp_path / "winnow")
    (clone / ".venv/bin").mkdir(parents=True)
    (clone / ".venv/bin/python").symlink_to(tmp_path / "removed-python3.11")
    (clone / ".venv/.installed").touch()
    done = _make(clone, tmp_path, ".venv/.installed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "venv.log").read_text().splitlines() == ["-m venv --clear .venv", *PIP_STEPS]
    assert (clone / ".venv/bin/python").resolve() == Path(sys.executable).resolve()


@pytest.mark.hostile("interrupted")
def test_make_setup_with_no_python_3_11_on_path_is_one_line_before_anything(tmp_path):
    # before: "make: python3: No such file or directory" (a host with python3.11 and no python3 among them)
    clone = _clone(tmp_path / "winnow")
    done = _make(clone, tmp_path, ".venv/.installed", path=str(tmp_path / "empty"))
    assert done.returncode == 2
    assert done.stdout == ("setup: neither python3.11 nor python3 on PATH runs Python 3.11 or newer, which winnow "
                           f"needs to make .venv; {FIX}\n")
    assert not (clone / ".venv").exists()


@pytest.mark.hostile("interrupted")
def test_make_setup_with_a_python_older_than_3_11_is_refused_before_any_download(tmp_path):
    # before: the venv made, torch downloaded, then pip's "Package 'winnow' requires a different Python"
    clone = _clone(tmp_path / "winnow")
    old = tmp_path / "old"
    old.mkdir()
    (old / "python3.10").write_text('#!/bin/sh\n[ "$1" = -V ] && echo "Python 3.10.12"\nexit 1\n')
    (old / "python3.10").chmod(0o755)
    done = _make(clone, tmp_path, ".venv/.installed", "PYTHON=python3.10",
                 path=f"{old}{os.pathsep}{os.environ['PATH']}")
    assert done.returncode == 2
    assert done.stdout == ("setup: python3.10 does not run Python 3.11 or newer, which winnow needs "
                           f"(Python 3.10.12); {FIX}\n")
    assert not (clone / ".venv").exists()


def _tarball_project(tmp_path: Path) -> Path:
    """A one-stage dvc project as GitHub's "Download ZIP" or `git archive` gives one: the shipped .dvc/config
    (without core.no_scm) and no .git."""
    project = tmp_path / "winnow"
    project.mkdir()
    subprocess.run([str(ROOT / ".venv/bin/dvc"), "init", "-q", "--no-scm"], cwd=project, check=True, env=_env())
    (project / ".dvc/config").write_text((ROOT / ".dvc/config").read_text())
    (project / "dvc.yaml").write_text("stages:\n  hello:\n    cmd: echo hello > hello.txt\n    outs: [hello.txt]\n")
    return project


def _make_here(project: Path, target: str) -> subprocess.CompletedProcess:
    """This repository's ``make <target>`` in ``project``, its environment taken as set up."""
    return subprocess.run([MAKE, "-s", "-f", str(ROOT / "Makefile"), f"VENV={ROOT / '.venv'}",
                           "-o", f"{ROOT / '.venv'}/.installed", "-o", "chromium", target],
                          cwd=project, capture_output=True, text=True, env=_env(), timeout=300)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("target", ["repro", "test"])
def test_make_in_a_tarball_export_without_git_is_one_line_saying_what_to_run(tmp_path, target):
    # before: make repro, set-up done, ended in dvc's "ERROR: /tmp/.../winnow is not a git repository", naming no
    # way on; make test in a traceback of `git ls-files` ("not a git repository") for each test that lists the files
    project = _tarball_project(tmp_path)
    done = _make_here(project, target)
    assert done.returncode == 2
    assert done.stdout == (f"{target}: {project} is in no git repository, which dvc and the tests need (a tarball or "
                           "zip export has none): run git init in it, or clone the project with git clone\n")
    assert not (project / "hello.txt").exists()


@pytest.mark.hostile("interrupted")
def test_git_init_the_tarball_refusal_names_lets_make_repro_run(tmp_path):
    project = _tarball_project(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    done = _make_here(project, "repro")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "hello.txt").read_text() == "hello\n"


@pytest.mark.hostile("interrupted")
def test_a_python_exported_for_another_tool_is_not_the_one_make_setup_uses(tmp_path):
    # node-gyp reads PYTHON, and users export it for it (often a python2): make setup is told its Python on its
    # command line, and otherwise takes python3.11 or python3
    clone = _clone(tmp_path / "winnow")
    env_python = tmp_path / "python2"
    env_python.write_text("#!/bin/sh\nexit 1\n")
    env_python.chmod(0o755)
    done = _make(clone, tmp_path, ".venv/.installed", extra={"PYTHON": str(env_python)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "venv.log").read_text().splitlines() == ["-m venv --clear .venv", *PIP_STEPS]


@pytest.mark.hostile("interrupted")
def test_two_makes_setting_up_one_fresh_venv_at_once_set_it_up_once(tmp_path):
    # before: make repro and make test started together on a fresh clone each ran venv --clear and the pip steps,
    # one clearing the folder the other's pip was installing into
    clone = _clone(tmp_path / "winnow")
    slow = STUB.replace('echo "$*" >> "$VENV_LOG"', 'echo "$*" >> "$VENV_LOG"; sleep 2')
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "python3.11").write_text(slow)
    (stubs / "python3.11").chmod(0o755)
    env = {**os.environ, "VENV_LOG": str(tmp_path / "venv.log"), "PIP_NO_INDEX": "1",
           "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}"}
    for name in HOST_CHOICES:
        env.pop(name, None)
    makes = [subprocess.Popen([MAKE, "-s", ".venv/.installed"], cwd=clone, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [make.communicate(timeout=120)[0] for make in makes]
    assert [make.returncode for make in makes] == [0, 0], outputs
    assert (tmp_path / "venv.log").read_text().splitlines() == ["-m venv --clear .venv", *PIP_STEPS]
