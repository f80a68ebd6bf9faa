"""Leftovers of hostile probe 78 (review of its mends).

- ``OMP_THREAD_LIMIT`` that GNU OpenMP cannot read (``abc``, ``0``, ``4,2``): the neighbour of the ``OMP_NUM_THREADS``
  refusal. Before, libgomp printed "libgomp: Invalid value for environment variable OMP_THREAD_LIMIT" among the
  stage's lines and ran with no limit; now one line before torch's import (winnow.openmp_settings.openmp_refusal);
- a shell command in a params.yaml path (``$(pwd)/images``, a backquoted ``pwd``): the neighbour of the refused shell
  variable, read as a folder of that name; now refused in params.yaml's check (winnow.param_rules.Text);
- an ``OMP_NUM_THREADS`` (or ``GOMP_CPU_AFFINITY``) of over 4,300 digits: Python's int() refused it, and its ValueError
  was the stage's or command's traceback; now judged as GNU OpenMP's strtoul reads it (winnow.openmp_settings._strtoul).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project, params_with,
)
from test_hostile_params_78 import _refusal
from winnow import params
from winnow.openmp_settings import openmp_hang, openmp_refusal


def _no_thread_limit(value: str) -> str:
    return (f"OMP_THREAD_LIMIT={value!r} is no thread limit GNU OpenMP reads (torch's import loads it, which would "
            "ignore it with a warning); set it to a whole number of 1 or more (such as 2), or unset it, then rerun")




@pytest.mark.hostile("interrupted")
def test_a_stage_under_an_unreadable_thread_limit_is_one_line(tmp_path):
    # before: represent printed "libgomp: Invalid value for environment variable OMP_THREAD_LIMIT", then ran on
    project = make_project(tmp_path / "project")
    before = files_under(project)
    env = {key: value for key, value in _env().items() if key != "OMP_NUM_THREADS"} | {"OMP_THREAD_LIMIT": "abc"}
    done = subprocess.run([sys.executable, str(ROOT / "stages/represent.py")], cwd=project, capture_output=True,
                          text=True, env=env, timeout=300)
    assert assert_error_line(done) == f"error: stages/represent.py: {_no_thread_limit('abc')}"
    assert "libgomp" not in done.stderr
    assert_nothing_left(project, before)


# -- a shell command in a params path ------------------------------------------------------------------------------

@pytest.mark.hostile("params")
@pytest.mark.parametrize("path, value, command", [
    ("ingest.path", "$(pwd)/images", "$(pwd)"),
    ("ingest.trusted_path", "`pwd`/trusted", "`pwd`"),
    ("represent.file", "data/$(whoami).npy", "$(whoami)"),
])
def test_a_shell_command_in_a_params_path_is_refused(tmp_path, path, value, command):
    # before: passed; the source stage listed ingest.path "$(pwd)/images" as unreadable with status 0, and ingest
    # refused it as a folder that does not exist (the $HOME of test_hostile_params_78.py, by its neighbour)
    assert _refusal(tmp_path, params_with(path, value)) == (
        f'params.yaml: {path}: "{value}" holds a shell command ({command}), and params.yaml paths are not expanded; '
        "write the path itself, or a path relative to the project")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("value", ["images/it`s", "images/(1)"])
def test_a_path_with_a_lone_backquote_or_parentheses_is_read_as_written(tmp_path, value):
    # one backquote starts no command a shell would run (it waits for the other); parentheses without a $ are a name
    changed = params_with("ingest.path", value)
    changed["ingest"]["source"] = "imagefolder"
    project = make_project(tmp_path / "project", changed)
    assert params.load(project / "params.yaml")["ingest"]["path"] == value


# -- a count of thousands of digits ---------------------------------------------------------------------------------

_MANY_NINES = "9" * 5000  # past Python's 4,300 digits of int(): before, its ValueError was the command's traceback


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("value, refused", [(_MANY_NINES, True), ("0" * 5000 + "4", False),
                                             ("-" + "0" * 5000 + "1", True)])
def test_a_thread_count_of_thousands_of_digits_is_judged_as_gnu_openmp_reads_it(monkeypatch, value, refused):
    # libgomp's strtoul: thousands of nines are out of range (warned of); leading zeros before a 4 are the count 4
    monkeypatch.delenv("GOMP_CPU_AFFINITY", raising=False)
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    expected = (f"OMP_NUM_THREADS={value!r} is no thread count GNU OpenMP reads (torch's import loads it, which would "
                "ignore it with a warning); set it to a whole number of 1 or more (such as 2), or unset it, then "
                "rerun")
    assert openmp_refusal() == (expected if refused else None)


@pytest.mark.hostile("interrupted")
def test_a_cpu_affinity_of_thousands_of_digits_is_no_hang(monkeypatch):
    # GNU OpenMP warns of the CPU out of range and goes on (it does not loop): nothing to refuse, and no traceback
    monkeypatch.setenv("GOMP_CPU_AFFINITY", _MANY_NINES)
    assert openmp_hang() is None


@pytest.mark.hostile("interrupted")
def test_a_stage_under_a_thread_count_of_thousands_of_digits_is_one_line(tmp_path):
    # before: "ValueError: Exceeds the limit (4300 digits) for integer string conversion" and its traceback
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, str(ROOT / "stages/represent.py")], cwd=project, capture_output=True,
                          text=True, env=_env() | {"OMP_NUM_THREADS": _MANY_NINES}, timeout=300)
    line = assert_error_line(done)
    assert line.startswith(f"error: stages/represent.py: OMP_NUM_THREADS='{_MANY_NINES}' is no thread count GNU ")
    assert_nothing_left(project, before)


# -- winnow without a subcommand loads no OpenMP ---------------------------------------------------------------------

@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("variable, value", [("OMP_NUM_THREADS", "abc"), ("GOMP_CPU_AFFINITY", "zz")])
def test_winnow_help_under_an_openmp_setting_it_never_reads_is_the_help(tmp_path, variable, value):
    # before: "error: winnow: OMP_NUM_THREADS='abc' is no thread count ..." for `winnow --help`, which imports no
    # subcommand's module and so never loads OpenMP; a subcommand is refused as before (test_hostile_params_78.py)
    done = subprocess.run([sys.executable, "-m", "winnow.cli", "--help"], cwd=tmp_path, capture_output=True, text=True,
                          env=_env() | {variable: value}, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: winnow [-h] command ...")
