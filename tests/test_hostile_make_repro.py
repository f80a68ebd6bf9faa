"""`make repro`, the README's first command, after a fault DVC itself cannot get past."""

import os
import subprocess

import pytest

from hostile_harness import ROOT

STAGE = """stages:
  hello:
    cmd: echo hello > hello.txt
    outs: [hello.txt]
"""


@pytest.mark.hostile("interrupted")
def test_make_repro_gets_past_a_dvc_lock_file_a_killed_dvc_left_empty(tmp_path):
    # before: a dvc killed as it wrote .dvc/tmp/rwlock left it empty, and `make repro` (every dvc command) stopped on
    # "ERROR: Unable to read RWLock-file '.dvc/tmp/rwlock'. JSON structure is corrupted" before any stage, which
    # removes such a file as it starts, could run; the person had to find the file and remove it by hand
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(["dvc", "init", "-q", "--no-scm"], cwd=tmp_path, check=True, env=env,
                   executable=str(ROOT / ".venv/bin/dvc"))
    (tmp_path / "dvc.yaml").write_text(STAGE)
    (tmp_path / ".dvc/tmp").mkdir(exist_ok=True)
    (tmp_path / ".dvc/tmp/rwlock").write_text("")
    # this project's make repro: the repository's Makefile and environment, in a project of one stage
    done = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), f"VENV={ROOT / '.venv'}",
                           "-o", f"{ROOT / '.venv'}/.installed", "repro"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == (
        "removed DVC's lock file .dvc/tmp/rwlock, left empty by a stopped run")
    assert (tmp_path / "hello.txt").read_text() == "hello\n"
