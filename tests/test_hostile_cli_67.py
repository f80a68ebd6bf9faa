"""Hostile use of the ``winnow`` command (probe 67): its help written to a full disk."""

import subprocess
import sys

import pytest

from hostile_harness import ROOT, _env, assert_error_line

FULL = "No space left on device [ENOSPC]; free space, or fix the path or its permissions, then rerun"


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("args, prog", [(["--help"], "winnow"), (["review", "import", "--help"], "winnow review import")])
def test_help_to_a_full_disk_is_one_line_and_status_1(args, prog):
    # before: argparse passed over the failed write, and `winnow --help > /dev/full` exited 0 with no help written
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "winnow.cli", *args], cwd=ROOT, stdout=full,
                              stderr=subprocess.PIPE, text=True, env=_env(), timeout=60)
    done.stdout = ""  # it went to /dev/full
    assert assert_error_line(done) == f"error: {prog}: {FULL}"
