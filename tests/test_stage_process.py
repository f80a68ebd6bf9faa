"""What a stage's own process sets for itself (winnow.stage_process), and an in-process caller's process is spared:

- glibc keeps its batches' memory (#20): glibc reports how many blocks it holds as maps of their own
  (``mallinfo2().hblks``): a fresh process maps a 3 MiB request apart and faults its pages in anew each time; a
  stage's process serves it from the heap, whose pages the batch before faulted in;
- OpenMP's threads spin briefly while they wait (``GOMP_SPINCOUNT`` before torch's import), unless the user set
  ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hostile_harness import _env

_PROBE = '''
import ctypes
import numpy as np


class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]


def main(size=3 << 20):
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Mallinfo2
    before = libc.mallinfo2().hblks
    batch = np.ones(size, np.uint8)  # a batch's temporary
    print("maps of their own:", libc.mallinfo2().hblks - before, int(batch[-1]))


def in_process():
    from winnow.stage import run

    run(main)
'''


def _probe(tmp_path, command: str) -> list[str]:
    (tmp_path / "probe.py").write_text(_PROBE)
    env = _env() | {"PYTHONPATH": f"{_env()['PYTHONPATH']}:{tmp_path}"}
    done = subprocess.run([sys.executable, "-c", command], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.stderr == ""
    assert done.returncode == 0
    return done.stdout.splitlines()


def test_a_stage_process_serves_a_batch_from_its_heap(tmp_path):
    # before: a fresh stage process mapped each batch temporary apart and returned it when freed, until glibc's
    # threshold rose: ~100,000 page faults on the first pass over the 8,068 CIFAR-subset PNGs
    assert _probe(tmp_path, "import probe\nfrom winnow.stage import run\nrun(probe.main)") == [
        "maps of their own: 0 1"]


def test_a_process_that_is_no_stage_maps_a_batch_apart(tmp_path):
    # the same request in the same interpreter outside a stage: glibc's default, which the stage's test departs from
    assert _probe(tmp_path, "import probe\nprobe.main()") == ["maps of their own: 1 1"]


def test_an_in_process_caller_of_a_stage_keeps_its_allocator(tmp_path):
    # a notebook or a test runs the stage in its own process: the settings are the whole process's and cannot be
    # given back, so they are never made there. glibc's own threshold rose past the 3 MiB block the stage freed;
    # 3.5 MiB, under the stage's threshold, is still mapped apart after it
    assert _probe(tmp_path, "import probe\nprobe.in_process()\nprobe.main(7 << 19)") == [
        "maps of their own: 1 1", "maps of their own: 1 1"]


_STAGE_SCRIPT = """
from winnow.stops import one_line_from_the_start

one_line_from_the_start()

import os
import sys

print(os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"), "torch" in sys.modules)
"""


def _stage_says(tmp_path, **env) -> list[str]:
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages/score.py").write_text(_STAGE_SCRIPT)
    done = subprocess.run([sys.executable, "stages/score.py"], cwd=tmp_path, capture_output=True, text=True,
                          env={key: value for key, value in _env().items()
                               if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | env,
                          timeout=120)
    assert (done.stderr, done.returncode) == ("", 0)
    return done.stdout.splitlines()


def test_a_stage_script_has_openmps_threads_spin_briefly_before_torch_is_imported(tmp_path):
    # before: GNU OpenMP's threads spun 300,000 times after each parallel region, and during a dvc repro beside the
    # test suite train's epochs went from 0.2 s to 2-33 s
    assert _stage_says(tmp_path) == ["None 10000 False"]


@pytest.mark.parametrize("setting, says", [({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE None False"),
                                           ({"GOMP_SPINCOUNT": "300000"}, "None 300000 False")])
def test_a_users_own_openmp_waiting_stands(tmp_path, setting, says):
    assert _stage_says(tmp_path, **setting) == [says]


def test_a_stage_script_imported_in_process_leaves_the_environment_alone(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    (tmp_path / "imported_stage.py").write_text("from winnow.stops import one_line_from_the_start\n\n"
                                                "one_line_from_the_start()\n")
    spec = importlib.util.spec_from_file_location("imported_stage", tmp_path / "imported_stage.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert ("OMP_WAIT_POLICY" in os.environ, "GOMP_SPINCOUNT" in os.environ) == (False, False)
