"""Leftovers of hostile probe 78 (review of its mends).

- ``OMP_THREAD_LIMIT`` that GNU OpenMP cannot read (``abc``, ``0``, ``4,2``): the neighbour of the ``OMP_NUM_THREADS``
  refusal. Before, libgomp printed "libgomp: Invalid value for environment variable OMP_THREAD_LIMIT" among the
  stage's lines and ran with no limit; now one line before torch's import (winnow.stage_process.openmp_refusal).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project
from winnow.stage_process import openmp_refusal


def _no_thread_limit(value: str) -> str:
    return (f"OMP_THREAD_LIMIT={value!r} is no thread limit GNU OpenMP reads (torch's import loads it, which would "
            "ignore it with a warning); set it to a whole number of 1 or more (such as 2), or unset it, then rerun")


_LIMIT_UNREAD = ["abc", "0", "-1", "4,2", "4,", "", "4abc", "0x4", "9223372036854775808"]
_LIMIT_READ = ["4", " 4 ", "+4", "09", "9223372036854775807"]


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("value", _LIMIT_UNREAD)
def test_a_thread_limit_gnu_openmp_cannot_read_is_refused(monkeypatch, value):
    monkeypatch.delenv("GOMP_CPU_AFFINITY", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_THREAD_LIMIT", value)
    assert openmp_refusal() == _no_thread_limit(value)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("value", _LIMIT_READ)
def test_a_thread_limit_gnu_openmp_reads_is_left_alone(monkeypatch, value):
    monkeypatch.delenv("GOMP_CPU_AFFINITY", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_THREAD_LIMIT", value)
    assert openmp_refusal() is None


@pytest.mark.hostile("interrupted")
def test_the_thread_limits_refused_are_those_torchs_openmp_warns_of():
    # the library itself as the judge: torch's libgomp, loaded alone, warns at its load for exactly the values refused
    library = next(Path(importlib.util.find_spec("torch").origin).parent.glob("lib/libgomp*.so*"))
    warned = {}
    for value in _LIMIT_UNREAD + _LIMIT_READ:
        done = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(library)!r})"],
                              env={**os.environ, "OMP_THREAD_LIMIT": value}, capture_output=True, text=True,
                              timeout=60)
        warned[value] = "Invalid value for environment variable OMP_THREAD_LIMIT" in done.stderr
    assert warned == {value: value in _LIMIT_UNREAD for value in _LIMIT_UNREAD + _LIMIT_READ}


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
