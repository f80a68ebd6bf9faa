"""Leftovers of stops 73-74, mended at stop 74.

- a stage run in-process (:func:`winnow.stage.run` called by a test runner or a notebook) gives the caller its own
  SIGTERM and SIGHUP handlers and ``sys.unraisablehook`` back when it returns, on success and on a refusal; a stage
  run again in the same process after one that a SIGTERM stopped is stopped by the next SIGTERM too;
"""

from __future__ import annotations

import signal
import sys

import pytest

from winnow import stage
from winnow.errors import WinnowError


def _stops_now() -> tuple:
    return signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP), sys.unraisablehook


def _refused() -> None:
    raise WinnowError("somewhere: refused here; do something else")


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("main", "status"), [(lambda: None, None), (_refused, 1)])
def test_a_stage_run_in_process_leaves_the_callers_handlers_of_the_stops_as_they_were(monkeypatch, capsys, main,
                                                                                      status):
    # before: SIGTERM and SIGHUP stayed winnow's handler and sys.unraisablehook winnow's wrapper after run() returned
    # (or refused): a later SIGTERM raised winnow's Terminated inside the caller
    monkeypatch.setattr(sys, "argv", ["stages/some.py"])
    handlers = _stops_now()
    if status is None:
        stage.run(main)
    else:
        with pytest.raises(SystemExit) as stopped:
            stage.run(main)
        assert stopped.value.code == status
    assert _stops_now() == handlers
    assert capsys.readouterr().err == ("" if status is None else "error: somewhere: refused here; do something else\n")


def _terminated() -> None:
    signal.raise_signal(signal.SIGTERM)  # the handler raises here, in this thread
    raise AssertionError("the SIGTERM did not stop the stage")


@pytest.mark.hostile("interrupted")
def test_a_stage_run_in_process_again_after_a_sigterm_is_stopped_by_the_next_one(monkeypatch, capsys):
    # before: the first SIGTERM stayed recorded and its handler stayed set, so the second run's handler took the next
    # SIGTERM for a second one sent during the first one's clean-up and ignored it: the stage ran on (here: the
    # AssertionError's traceback)
    monkeypatch.setattr(sys, "argv", ["stages/some.py"])
    for _ in range(2):
        with pytest.raises(SystemExit) as stopped:
            stage.run(_terminated)
        assert stopped.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == 2 * ("error: stages/some.py: terminated (SIGTERM); outputs not yet complete were "
                                           "left unwritten: rerun it\n")
