"""Environment variables a user carries into ``dvc repro`` or the ``winnow`` command (stop 80):

- GOMP_SPINCOUNT, OMP_PROC_BIND, OMP_STACKSIZE, GOMP_STACKSIZE, OMP_DISPLAY_ENV and OMP_SCHEDULE (and the
  booleans OMP_NESTED, OMP_CANCELLATION, OMP_DISPLAY_AFFINITY, the ints OMP_DEFAULT_DEVICE, OMP_MAX_TASK_PRIORITY,
  GOMP_DEBUG) that GNU OpenMP cannot read (``abc``, ``sideways``, ``4t``, ``maybe``, ``xx``) printed libgomp's own "Invalid value for" (or
  "Unknown value for") "environment variable" line among a stage's lines and ran on with OpenMP's default; a garbage
  GOMP_SPINCOUNT also kept winnow's 10,000 spins away (a user's value stands), so the threads spun 300,000 times. Each is one line before torch's import now
  (winnow.openmp_settings.openmp_refusal), its rule judged by torch's own libgomp in a subprocess;
- PYTHONOPTIMIZE=2 (or ``python -OO``), which drops docstrings, ended every ``winnow`` command in a traceback
  ("'NoneType' object has no attribute 'splitlines'"): its --help description was its module's docstring.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hostile_harness import ROOT, libgomp_warns
from winnow.openmp_settings import openmp_refusal

# per variable: values GNU OpenMP warns of and ignores, then values it reads without a word (torch's libgomp)
_VALUES = {
    "GOMP_SPINCOUNT": (["abc", "", " ", "10kk", "10x", "1.5", "0x10", "infinitex", "infinite k",
                        "99999999999999999999999"],
                       ["10000", "-1", "+5", "10k", "10 K ", "5t", " INFINITY ", "infinite",
                        "18446744073709551615"]),
    "OMP_PROC_BIND": (["sideways", "", "primary", "true,close", "close,", "closed", "close,true", ",close"],
                      ["true", "FALSE", "close", " spread ", "master", "close, spread ", "spread,close,master"]),
    "OMP_STACKSIZE": (["abc", "", "-1", "4t", "4kk", "1.5", "0x10", "18014398509481984", "17592186044416m"],
                      ["0", "4", "4 K ", "4m", "4G", "4b", "+8", "18014398509481983", "17592186044415m"]),
    "GOMP_STACKSIZE": (["x", "4t"], ["4M"]),
    "OMP_DISPLAY_ENV": (["maybe", "", "1", "truex", "verbose,true"], ["true", "false", " VERBOSE "]),
    "OMP_SCHEDULE": (["xx", "", "staticx", "guided,", "static,2147483648", "monotonic", "monotonic dynamic",
                      "dynamic,4x", "dynamic;4", "auto,1.5", "auto,-2147483649"],
                     ["static", "STATIC ", "dynamic,4", "dynamic , 4 ", "guided,0", "auto,-1", "static,2147483647",
                      "monotonic : static,2", "nonmonotonic:guided", "static,+3", "auto,-2147483648"]),
    **{name: (["abc", "", "1", "truex"], ["true", " FALSE "])
       for name in ("OMP_NESTED", "OMP_CANCELLATION", "OMP_DISPLAY_AFFINITY")},
    **{name: (["abc", "", "-1", "1.5", "2147483648"], ["0", " 3 ", "+2", "2147483647"])
       for name in ("OMP_DEFAULT_DEVICE", "OMP_MAX_TASK_PRIORITY", "GOMP_DEBUG")},
}
_WHAT_FIX = {
    "GOMP_SPINCOUNT": ("spin count", "a whole number (such as 10000 or 10k) or infinite"),
    "OMP_PROC_BIND": ("thread binding",
                      "true, false, or master, close or spread (a list of them apart by commas, such as spread,close)"),
    "OMP_STACKSIZE": ("stack size", "kilobytes, or a size with a suffix B, K, M or G (such as 4M)"),
    "GOMP_STACKSIZE": ("stack size", "kilobytes, or a size with a suffix B, K, M or G (such as 4M)"),
    "OMP_DISPLAY_ENV": ("setting", "true, false or verbose"),
    "OMP_SCHEDULE": ("schedule",
                     "static, dynamic, guided or auto, with a comma and a chunk size or none (such as dynamic,4)"),
    **{name: ("setting", "true or false") for name in ("OMP_NESTED", "OMP_CANCELLATION", "OMP_DISPLAY_AFFINITY")},
    "OMP_DEFAULT_DEVICE": ("device number", "a whole number of 0 or more"),
    "OMP_MAX_TASK_PRIORITY": ("task priority", "a whole number of 0 or more"),
    "GOMP_DEBUG": ("debug level", "a whole number of 0 or more"),
}


def _refusal(name: str, value: str) -> str:
    what, fix = _WHAT_FIX[name]
    return (f"{name}={value!r} is no {what} GNU OpenMP reads (torch's import loads it, which would ignore it with a "
            f"warning); set it to {fix}, or unset it, then rerun")


def _only(monkeypatch, name: str, value: str) -> None:
    for other in [key for key in os.environ if key.startswith(("OMP_", "GOMP_", "MKL_"))]:
        monkeypatch.delenv(other)
    monkeypatch.setenv(name, value)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("name", list(_VALUES))
def test_openmp_settings_gnu_openmp_cannot_read_are_refused_as_it_judges_them(monkeypatch, name):
    # the library itself as the judge: torch's libgomp, loaded alone, warns at its load exactly for the values refused
    unread, read = _VALUES[name]
    assert libgomp_warns(name, unread + read) == {value: value in unread for value in unread + read}
    refused = {}
    for value in unread + read:
        _only(monkeypatch, name, value)
        refused[value] = openmp_refusal()
    assert refused == {value: _refusal(name, value) if value in unread else None for value in unread + read}


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("name", "value"), [("GOMP_SPINCOUNT", "abc"), ("OMP_PROC_BIND", "sideways")])
def test_a_stage_and_a_command_under_an_unread_openmp_setting_end_in_one_line(tmp_path, name, value):
    # before: libgomp's "Invalid value for environment variable" line among train's, and the stage ran on; refused
    # before any import or read, so nothing is written in the folder it runs in
    env = {key: val for key, val in os.environ.items() if not key.startswith(("OMP_", "GOMP_", "MKL_"))}
    env.update({name: value, "PYTHONPATH": str(ROOT / "src")})
    for command, who in (([str(ROOT / "stages" / "train.py")], "stages/train.py"), (["-m", "winnow", "gate"], "gate")):
        done = subprocess.run([sys.executable, *command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: {who}: {_refusal(name, value)}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("interrupted")
def test_the_winnow_command_runs_under_pythonoptimize_2(tmp_path):
    # before: a traceback ending "AttributeError: 'NoneType' object has no attribute 'splitlines'", whatever the command
    env = {**os.environ, "PYTHONOPTIMIZE": "2", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "winnow", "--help"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert "usage: winnow [-h] command ... The winnow command: tools that work across experiments (the stages " \
           "themselves run under dvc). positional arguments:" in " ".join(done.stdout.split())
