"""Stop 81: ``OMP_PLACES`` that GNU OpenMP cannot read printed libgomp's own "Invalid value for environment variable
OMP_PLACES" among a stage's lines, and the run went on unbound; now one line before torch's import, as the other
OpenMP settings (winnow.openmp_settings.openmp_refusal), the rule judged by torch's own libgomp."""
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
