"""Faults around the stage processes, probed again (stop 77): environment variables a user may have set.

- ``GOMP_CPU_AFFINITY`` that is no list of CPUs (``1;2``, ``zz``): GNU OpenMP's loader (torch's, scikit-learn's and
  faiss's copies here) loops for ever reading it, so a stage or ``winnow`` command hung in its first import of torch,
  using a core, and `timeout`'s SIGTERM never stopped it (its handler is Python's, which never ran again); now one line
  before any such import. Lists GNU OpenMP reads (checked against the library: they load) are left alone;
- a user's own ``MALLOC_MMAP_THRESHOLD_`` (or its ``GLIBC_TUNABLES`` entry) in a stage's own process: overridden by
  the stage's own threshold (32 MiB) without a word, where a user's ``GOMP_SPINCOUNT`` stands; now it stands too.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project
from test_stage_process import _PROBE
from winnow.openmp_settings import openmp_hang

_NO_CPU_LIST = ("GOMP_CPU_AFFINITY='1;2' is no list of CPUs, and GNU OpenMP, which torch's import loads, never ends "
                "its reading of one; set it to CPUs and ranges apart by commas or spaces (such as 0-3 or 0,2,4-7:2), "
                "or unset it, then rerun")


@pytest.mark.hostile("interrupted")
def test_a_stage_under_a_cpu_list_openmp_hangs_on_is_one_line(tmp_path):
    # before: represent hung in `import torch` for ever (GNU OpenMP looping on ';'), and `timeout 30` did not end it
    project = make_project(tmp_path / "project")
    before = files_under(project)
    # a fresh process: the test's own has loaded OpenMP already, where the loop is met only once
    done = subprocess.run([sys.executable, str(ROOT / "stages/represent.py")], cwd=project, capture_output=True,
                          text=True, env=_env() | {"GOMP_CPU_AFFINITY": "1;2"}, timeout=300)
    assert assert_error_line(done) == f"error: stages/represent.py: {_NO_CPU_LIST}"
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_command_under_a_cpu_list_openmp_hangs_on_is_one_line(tmp_path):
    # before: a `winnow` command whose module imports torch hung the same way
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, "-m", "winnow.cli", "review", "export"], cwd=project, capture_output=True,
                          text=True, env=_env() | {"GOMP_CPU_AFFINITY": "1;2"}, timeout=300)
    assert assert_error_line(done) == f"error: review: {_NO_CPU_LIST}"
    assert_nothing_left(project, before)


@pytest.mark.parametrize("cpus", ["0 3 1-2 4-15:2", "0-1:2,1", " 1 ", "0,,1", "0x1", ""])
def test_a_cpu_list_openmp_reads_is_left_alone(monkeypatch, cpus):
    # GNU OpenMP's own example (its manual) and forms the library here loads without a word
    monkeypatch.setenv("GOMP_CPU_AFFINITY", cpus)
    assert openmp_hang() is None


def _maps_of_their_own(tmp_path, **env) -> list[str]:
    (tmp_path / "probe.py").write_text(_PROBE)
    done = subprocess.run([sys.executable, "-c", "import probe\nfrom winnow.stage import run\nrun(probe.main)"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=_env() | {"PYTHONPATH": f"{_env()['PYTHONPATH']}:{tmp_path}"} | env)
    assert (done.stderr, done.returncode) == ("", 0)
    return done.stdout.splitlines()


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("setting", [{"MALLOC_MMAP_THRESHOLD_": "1048576"},
                                     {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1048576"}])
def test_a_users_own_malloc_threshold_stands_in_a_stage(tmp_path, setting):
    # before: the stage set its own 32 MiB threshold over the user's 1 MiB, and the 3 MiB batch came from the heap
    assert _maps_of_their_own(tmp_path, **setting) == ["maps of their own: 1 1"]
