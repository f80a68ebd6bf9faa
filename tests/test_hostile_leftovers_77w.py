"""Hostile leftovers of the 77w review (probes 77u and 77i: a Python without winnow's packages, GOMP_CPU_AFFINITY).

- ``GOMP_CPU_AFFINITY`` that GNU OpenMP reads and goes on (``0-3: 2``, ``0- 3``, ``+1``, ``0 - 3``: strtoul skips
  spaces and takes a sign; ``-1``, ``1-``, ``70000``: refused by it with a warning, and the stage runs): refused as
  one it "never ends its reading of" by a pattern of its own. Now the reading itself is followed, and only a value
  it loops on is refused;
- ``GOMP_CPU_AFFINITY`` holding a space C does not skip (``1<U+00A0>2``, ``1<U+001C>2``: Python's ``\\s`` takes them):
  left alone, and the stage hung in torch's import for ever. Now one line;
- ``winnow compare`` run by a Python with winnow's scientific packages but without dvc (dvc installed by pipx, the
  case the 77u mend names): its module imports, then its run imports dvc, and that ended in a traceback ending
  ``ModuleNotFoundError: No module named 'dvc'``, where a stage says one line. Now the same line.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project
from winnow.openmp_settings import openmp_hang


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("cpus", ["0-3: 2", "0- 3", "+1", "0 - 3", "0-3:+2", "-1", "1-", "70000"])
def test_a_cpu_list_gnu_openmp_reads_without_looping_is_left_alone(monkeypatch, cpus):
    # before: "GOMP_CPU_AFFINITY='0-3: 2' is no list of CPUs, and GNU OpenMP ... never ends its reading of one", where
    # torch's and scikit-learn's libgomp load under each of them (the last three with libgomp's own warning)
    monkeypatch.setenv("GOMP_CPU_AFFINITY", cpus)
    assert openmp_hang() is None


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("cpus", ["1\xa02", "1\x1c2", "0-3:2:1", "0,1 x"])
def test_a_cpu_list_gnu_openmp_loops_on_is_refused(monkeypatch, cpus):
    # before: the first two passed the pattern (Python's \s), and the stage hung in torch's import
    monkeypatch.setenv("GOMP_CPU_AFFINITY", cpus)
    assert openmp_hang() == (
        f"GOMP_CPU_AFFINITY={cpus!r} is no list of CPUs, and GNU OpenMP, which torch's import loads, never ends its "
        "reading of one; set it to CPUs and ranges apart by commas or spaces (such as 0-3 or 0,2,4-7:2), or unset it, "
        "then rerun")


@pytest.mark.hostile("interrupted")
def test_a_stage_under_a_cpu_list_apart_by_a_no_break_space_is_one_line(tmp_path):
    # before: score hung in `import torch` for ever (GNU OpenMP looping at the no-break space), never refused
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, str(ROOT / "stages/score.py")], cwd=project, capture_output=True,
                          text=True, env=_env() | {"GOMP_CPU_AFFINITY": "1\xa02"}, timeout=300)
    assert assert_error_line(done) == (
        "error: stages/score.py: GOMP_CPU_AFFINITY='1\\xa02' is no list of CPUs, and GNU OpenMP, which torch's import "
        "loads, never ends its reading of one; set it to CPUs and ranges apart by commas or spaces (such as 0-3 or "
        "0,2,4-7:2), or unset it, then rerun")
    assert_nothing_left(project, before)


# the import system's own refusal of a module this Python lacks, for dvc alone: a Python with numpy, pandas and scipy
# but not dvc (dvc installed by pipx)
_WITHOUT_DVC = """
import sys

class NoDvc:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "dvc":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoDvc())
from winnow.cli import main
sys.exit(main())
"""


@pytest.mark.hostile("interrupted")
def test_the_compare_command_run_by_a_python_without_dvc_is_one_line(tmp_path):
    # before: Traceback ... File "src/winnow/experiments.py" ... ModuleNotFoundError: No module named 'dvc': compare's
    # module imports no dvc, its run does, and the command's run said only stops and faults of the machine
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, "-c", _WITHOUT_DVC, "compare"], cwd=project, capture_output=True,
                          text=True, env=_env(), timeout=300)
    assert assert_error_line(done) == (
        f"error: compare: this Python ({sys.executable}) has no module named 'dvc', which winnow imports: it is not "
        "the project's environment; run it there (make repro sets up .venv; activate it with . .venv/bin/activate "
        "before dvc repro), then rerun")
    assert_nothing_left(project, before)
