"""Hostile ends of the 66th stop's probe: a stage's or command's stdout on a full disk (``/dev/full`` stands in for
it: every write fails with ENOSPC)."""

import io
import sys

import pytest

from winnow import cli
from winnow.errors import WinnowError
from winnow.stage import run

FULL = ("No space left on device [ENOSPC]; free space, or fix the path or its permissions, then rerun")


@pytest.fixture
def full_disk():
    """A text stream buffered onto /dev/full, as Python opens the file stdout is redirected to (no PYTHONUNBUFFERED);
    the test sets it as sys.stdout itself (pytest's capture sets its own as each test's call starts)."""
    stream = io.TextIOWrapper(open("/dev/full", "wb"), encoding="utf-8")
    yield stream
    stream.close()


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("fails", [False, True], ids=["done", "refused"])
def test_a_stage_whose_stdout_is_on_a_full_disk_ends_with_one_line_and_status_1(full_disk, monkeypatch, capsys, fails):
    # before: the stage ended in Python's exit flush: status 120 and "Exception ignored in: <_io.TextIOWrapper
    # name='<stdout>' ...>" with "OSError: [Errno 28] No space left on device" on stderr (python stages/score.py >
    # /dev/full); a refused stage's own line came, but the status was 120 still
    def main():
        print("score: 30 images scored")
        if fails:
            raise WinnowError("score: refused")

    monkeypatch.setattr(sys, "argv", ["score.py"])
    monkeypatch.setattr(sys, "stdout", full_disk)
    with pytest.raises(SystemExit) as ended:
        run(main)
    assert ended.value.code == 1
    assert capsys.readouterr().err == ("error: score: refused\n" if fails else f"error: stages/score.py: {FULL}\n")
    full_disk.flush()  # what the exit does: nothing left to fail on


@pytest.mark.hostile("interrupted")
def test_a_command_whose_stdout_is_on_a_full_disk_ends_with_one_line_and_status_1(full_disk, monkeypatch, capsys):
    # before: `winnow review export ... > /dev/full` ended in Python's exit flush, status 120 and two lines of
    # "Exception ignored in" on stderr
    class Printing:
        @staticmethod
        def add_arguments(parser):
            pass

        @staticmethod
        def run(args):
            print("review: 3 decisions exported")

    monkeypatch.setitem(cli.SUBCOMMANDS, "study", ("printing_stand_in", "prints one line"))
    monkeypatch.setitem(sys.modules, "printing_stand_in", Printing)
    monkeypatch.setattr(sys, "stdout", full_disk)
    assert cli.main(["study"]) == 1
    assert capsys.readouterr().err == f"error: study: {FULL}\n"
    full_disk.flush()
