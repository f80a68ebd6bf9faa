"""Stop 81: ``OMP_PLACES`` that GNU OpenMP cannot read printed libgomp's own "Invalid value for environment variable
OMP_PLACES" among a stage's lines, and the run went on unbound; now one line before torch's import, as the other
OpenMP settings (winnow.openmp_settings.openmp_refusal), the rule judged by torch's own libgomp. So is a
``GOMP_CPU_AFFINITY`` libgomp ends its reading of with its own "Invalid value for enviroment variable" line (a CPU of
65536 or more, ``-1``, a range ending below its start, a stride of 0), where before the stage ran on with its threads
unbound; one it never ends its reading of stays openmp_hang's (tests/test_hostile_faults_77.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hostile_harness import ROOT, libgomp_warns
from winnow.openmp_settings import openmp_refusal

# values torch's libgomp warns of and ignores, then values it reads without that warning (CPUs 0 and 1 alone: a place
# of CPUs past the machine's is judged by the machine, and libgomp words it itself)
UNREAD = ["abc", "", " ", "cores(", "threadsx", "threads(2)x", "{0:x}", "{0:0}", "{0},", ",{0}", "{0},,{1}", "{0}{1}",
          "{0}:0", "{0}:65536", "{0}:1:x", "{0", "{0x1}", "0", "{!0}", "{0,!1}", "{!0:2}", "!{0}:2", "{0,!0}",
          "{0}:1:-9223372036854775809", "cores(99999999999999999999999)"]
READ = ["cores", " Cores ( 2 ) ", "threads(2)", "sockets", "sockets(-1)", "{0,1}", "{0}:2:1", "{}", "{ 0 : 1 : 1 }",
        "{0} , {1}", "{0:2,!1}", "{0,!0},{1}", "{0}:1:-9223372036854775808", "{0:1:-1}"]


def _refusal(value: str) -> str:
    return (f"OMP_PLACES={value!r} is no list of places GNU OpenMP reads (torch's import loads it, which would ignore "
            "it with a warning); set it to threads, cores or sockets, or places such as {0:2},{2:2}, or unset it, "
            "then rerun")


@pytest.mark.hostile("interrupted")
def test_places_gnu_openmp_cannot_read_are_refused_as_it_judges_them(monkeypatch):
    assert libgomp_warns("OMP_PLACES", UNREAD + READ) == {value: value in UNREAD for value in UNREAD + READ}
    for other in [key for key in os.environ if key.startswith(("OMP_", "GOMP_", "MKL_"))]:
        monkeypatch.delenv(other)
    refused = {}
    for value in UNREAD + READ:
        monkeypatch.setenv("OMP_PLACES", value)
        refused[value] = openmp_refusal()
    assert refused == {value: _refusal(value) if value in UNREAD else None for value in UNREAD + READ}


@pytest.mark.hostile("interrupted")
def test_a_stage_under_places_gnu_openmp_cannot_read_ends_in_one_line_writing_nothing(tmp_path):
    env = {key: val for key, val in os.environ.items() if not key.startswith(("OMP_", "GOMP_", "MKL_"))}
    env.update({"OMP_PLACES": "{0},", "PYTHONPATH": str(ROOT / "src")})
    done = subprocess.run([sys.executable, str(ROOT / "stages" / "train.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: stages/train.py: {_refusal('{0},')}\n")
    assert list(tmp_path.iterdir()) == []


# GOMP_CPU_AFFINITY values torch's libgomp warns of and ignores, then values it reads without a word (none it would
# loop on: the judge would hang). An empty list, and CPUs past the machine's, it drops without a word, as unset
CPUS_UNREAD = ["3-1", "0-3:0", "99999", "65536", "0-99999", "-1", "0-3:99999", "0 , 3-1", "0-1:-1",
               "99999999999999999999999"]
CPUS_READ = ["0", "0-1", "0,1", "0 1", " 0-1:2 ", "0-0x10", "0,", "", "65535", "0-3: 2"]


def _cpus_refusal(value: str) -> str:
    return (f"GOMP_CPU_AFFINITY={value!r} is no list of CPUs GNU OpenMP reads (torch's import loads it, which would "
            "ignore it with a warning); set it to CPUs and ranges apart by commas or spaces (such as 0-3 or "
            "0,2,4-7:2), or unset it, then rerun")


@pytest.mark.hostile("interrupted")
def test_cpu_affinity_gnu_openmp_refuses_is_refused_as_it_judges_it(monkeypatch):
    values = CPUS_UNREAD + CPUS_READ
    assert libgomp_warns("GOMP_CPU_AFFINITY", values) == {value: value in CPUS_UNREAD for value in values}
    for other in [key for key in os.environ if key.startswith(("OMP_", "GOMP_", "MKL_"))]:
        monkeypatch.delenv(other)
    refused = {}
    for value in values:
        monkeypatch.setenv("GOMP_CPU_AFFINITY", value)
        refused[value] = openmp_refusal()
    assert refused == {value: _cpus_refusal(value) if value in CPUS_UNREAD else None for value in values}


@pytest.mark.hostile("interrupted")
def test_a_stage_under_a_cpu_affinity_gnu_openmp_refuses_ends_in_one_line_writing_nothing(tmp_path):
    # before: libgomp's "Invalid value for enviroment variable GOMP_CPU_AFFINITY" among train's lines, and it ran on
    env = {key: val for key, val in os.environ.items() if not key.startswith(("OMP_", "GOMP_", "MKL_"))}
    env.update({"GOMP_CPU_AFFINITY": "3-1", "PYTHONPATH": str(ROOT / "src")})
    done = subprocess.run([sys.executable, str(ROOT / "stages" / "train.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: stages/train.py: {_cpus_refusal('3-1')}\n")
    assert list(tmp_path.iterdir()) == []
