"""Stop 81: ``OMP_PLACES`` that GNU OpenMP cannot read printed libgomp's own "Invalid value for environment variable
OMP_PLACES" among a stage's lines, and the run went on unbound; now one line before torch's import, as the other
OpenMP settings (winnow.openmp_settings.openmp_refusal), the rule judged by torch's own libgomp. So is a
``GOMP_CPU_AFFINITY`` libgomp ends its reading of with its own "Invalid value for enviroment variable" line (a CPU of
65536 or more, ``-1``, a range ending below its start, a stride of 0), where before the stage ran on with its threads
unbound; one it never ends its reading of stays openmp_hang's (tests/test_hostile_faults_77.py). And under
OMP_DISPLAY_AFFINITY=true an ``OMP_AFFINITY_FORMAT`` libgomp cannot expand (``%z``, ``%{bogus}``, ``%05n``) ended the
run at torch's first threads ("libgomp: unsupported type z in affinity format", status 1), after a stage might have
written part of its outputs; now one line before torch's import."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

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


def _judged_as_libgomp_judges(monkeypatch, name: str, unread: list[str], read: list[str], refusal) -> None:
    """torch's libgomp warns of exactly the ``unread`` values of ``name``, and openmp_refusal refuses exactly those,
    each with ``refusal(value)``."""
    values = unread + read
    assert libgomp_warns(name, values) == {value: value in unread for value in values}
    for other in [key for key in os.environ if key.startswith(("OMP_", "GOMP_", "MKL_"))]:
        monkeypatch.delenv(other)
    refused = {}
    for value in values:
        monkeypatch.setenv(name, value)
        refused[value] = openmp_refusal()
    assert refused == {value: refusal(value) if value in unread else None for value in values}


def _train_refused(tmp_path, settings: dict[str, str], line: str) -> None:
    """The train stage under ``settings`` (and no other OpenMP or MKL one) ends with status 1 and ``line`` alone,
    writing nothing."""
    env = {key: val for key, val in os.environ.items() if not key.startswith(("OMP_", "GOMP_", "MKL_"))}
    env.update(settings, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, str(ROOT / "stages" / "train.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: stages/train.py: {line}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("interrupted")
def test_places_gnu_openmp_cannot_read_are_refused_as_it_judges_them(monkeypatch):
    _judged_as_libgomp_judges(monkeypatch, "OMP_PLACES", UNREAD, READ, _refusal)


@pytest.mark.hostile("interrupted")
def test_a_stage_under_places_gnu_openmp_cannot_read_ends_in_one_line_writing_nothing(tmp_path):
    _train_refused(tmp_path, {"OMP_PLACES": "{0},"}, _refusal("{0},"))


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
    _judged_as_libgomp_judges(monkeypatch, "GOMP_CPU_AFFINITY", CPUS_UNREAD, CPUS_READ, _cpus_refusal)


@pytest.mark.hostile("interrupted")
def test_a_stage_under_a_cpu_affinity_gnu_openmp_refuses_ends_in_one_line_writing_nothing(tmp_path):
    # before: libgomp's "Invalid value for enviroment variable GOMP_CPU_AFFINITY" among train's lines, and it ran on
    _train_refused(tmp_path, {"GOMP_CPU_AFFINITY": "3-1"}, _cpus_refusal("3-1"))


FORMATS_UNREAD = ["%z", "%{bogus}", "%", "%{", "%{thread_num", "%05n", "%.n", "%0n", "x %% %q", "%{Host}", "%{host "]
FORMATS_READ = ["", "x %n", "%.5n", "%{thread_num}", "%0.3L", "%%", "%{host}x", "%A %i %P %H %a %N %t %T", "%12n",
                "%{num_teams}:%{nesting_level}:%{process_id}:%{native_thread_id}:%{thread_affinity}:%{ancestor_tnum}"]


def _libgomp_ends_on_format(values: list[str]) -> dict[str, bool]:
    """For each format: whether torch's libgomp, loaded alone with ``OMP_AFFINITY_FORMAT=value``, ends the process
    when asked to expand it (omp_capture_affinity, what OMP_DISPLAY_AFFINITY=true does at each team's threads)."""
    library = next(Path(importlib.util.find_spec("torch").origin).parent.glob("lib/libgomp*.so*"))
    code = (f"import ctypes; g = ctypes.CDLL({str(library)!r}); b = ctypes.create_string_buffer(4096); "
            "g.omp_capture_affinity(b, ctypes.c_size_t(4096), None)")
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_", "MKL_"))}
    ends = {}
    for value in values:
        done = subprocess.run([sys.executable, "-c", code], env={**plain, "OMP_AFFINITY_FORMAT": value},
                              capture_output=True, text=True, timeout=60)
        ends[value] = done.returncode != 0 and " in affinity format" in done.stderr
    return ends


def _format_refusal(value: str, display: str) -> str:
    return (f"OMP_AFFINITY_FORMAT={value!r} is no affinity format GNU OpenMP reads, and under "
            f"OMP_DISPLAY_AFFINITY={display!r} it would end the run at torch's first threads; set it to text with "
            "fields such as %n or %{thread_num} (%% for a percent sign), or unset it, then rerun")


@pytest.mark.hostile("interrupted")
def test_an_affinity_format_gnu_openmp_ends_on_is_refused_where_it_is_displayed(monkeypatch):
    values = FORMATS_UNREAD + FORMATS_READ
    assert _libgomp_ends_on_format(values) == {value: value in FORMATS_UNREAD for value in values}
    for other in [key for key in os.environ if key.startswith(("OMP_", "GOMP_", "MKL_"))]:
        monkeypatch.delenv(other)
    refused = {}
    for display in (" TRUE ", "false", None):  # unread where threads are not displayed: no refusal then
        if display is None:
            monkeypatch.delenv("OMP_DISPLAY_AFFINITY")
        else:
            monkeypatch.setenv("OMP_DISPLAY_AFFINITY", display)
        for value in values:
            monkeypatch.setenv("OMP_AFFINITY_FORMAT", value)
            refused[display, value] = openmp_refusal()
    assert refused == {(display, value): _format_refusal(value, display)
                       if display == " TRUE " and value in FORMATS_UNREAD else None
                       for display in (" TRUE ", "false", None) for value in values}


@pytest.mark.hostile("interrupted")
def test_a_stage_under_an_affinity_format_gnu_openmp_ends_on_ends_in_one_line_writing_nothing(tmp_path):
    _train_refused(tmp_path, {"OMP_DISPLAY_AFFINITY": "true", "OMP_AFFINITY_FORMAT": "%z"},
                   _format_refusal("%z", "true"))
