"""Follow-ups of review 72s, of the mends to the TQDM_ check and to compare's reading of run summaries:

- ``TQDM_SMOOTHING=nan`` (also inf, or 2): the check's bars never stepped after a wait, so no rate was smoothed and the
  variable passed; train ended in tqdm's traceback once its first epoch was drawn;
- every variable tqdm documents, set to a value it takes, still passes the check (a false alarm is a bug too);
- a stage starting beside DVC's lock file left broken by a stopped run, under ``TQDM_POSITION=x``: the lock's removal
  imported DVC (and tqdm) before the check, and the stage ended in tqdm's ValueError traceback;
"""

from __future__ import annotations

import os

import pytest
from hostile_harness import (
    assert_error_line, assert_nothing_left, files_under, imagefolder_project, refused_line, run_stage,
)

from winnow import progress_env


def _refusal(name: str, value: str, fault: str) -> str:
    return (f"error: environment variable {name}={value!r}: tqdm, which draws the progress bars, cannot use it "
            f"({fault}); correct or unset it")


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("value", "fault"), [
    ("nan", "ValueError: cannot convert float NaN to integer"),
    ("2", "ZeroDivisionError: float division by zero"),
])
def test_a_smoothing_tqdm_cannot_use_is_refused_before_any_work(tmp_path, monkeypatch, value, fault):
    # before: passed; train's epoch bar, drawn after its first epoch, ended in tqdm's traceback (the time left of a NaN
    # rate, or an average over 1 - (-1)**2)
    project, _ = imagefolder_project(tmp_path)
    monkeypatch.setenv("TQDM_SMOOTHING", value)
    assert refused_line(project, "ingest") == _refusal("TQDM_SMOOTHING", value, fault)


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("name", "value"), [
    ("TQDM_MININTERVAL", "0.5"), ("TQDM_MAXINTERVAL", "5"), ("TQDM_MINITERS", "10"), ("TQDM_NCOLS", "80"),
    ("TQDM_ASCII", " 123456789#"), ("TQDM_DISABLE", "1"), ("TQDM_COLOUR", "green"), ("TQDM_DYNAMIC_NCOLS", "1"),
    ("TQDM_SMOOTHING", "0.1"), ("TQDM_SMOOTHING", "0"), ("TQDM_SMOOTHING", "1"), ("TQDM_POSITION", "1"),
    ("TQDM_LEAVE", "0"), ("TQDM_DELAY", "2"), ("TQDM_UNIT_SCALE", "1"),
])
def test_a_tqdm_variable_tqdm_can_use_passes_the_check(monkeypatch, name, value):
    # the check's bars now step after a wait of their own: each documented variable, set as tqdm takes it, still draws
    for other in [n for n in os.environ if n.startswith("TQDM_")]:
        monkeypatch.delenv(other)
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(progress_env, "_DRAWN", set())
    assert progress_env.check_progress_variables() is None
    assert progress_env._DRAWN == {((name, value),)}


@pytest.mark.hostile("params")
def test_a_stage_beside_a_broken_dvc_lock_refuses_a_tqdm_variable_in_one_line(tmp_path, monkeypatch):
    # a run stopped inside DVC's write of .dvc/tmp/rwlock left it empty; the next stage removes it as it starts, which
    # imports DVC. Before: under TQDM_POSITION=x that import, before the TQDM_ check, ended ingest in tqdm's traceback
    project, _ = imagefolder_project(tmp_path)
    lock = project / ".dvc" / "tmp" / "rwlock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    monkeypatch.setenv("WINNOW_TEST_FRESH_PROCESS", "1")  # the forked runs' server imported tqdm without it
    monkeypatch.setenv("TQDM_POSITION", "x")
    before = files_under(project)
    assert assert_error_line(run_stage(project, "ingest")) == _refusal(
        "TQDM_POSITION", "x", "ValueError: invalid literal for int() with base 10: 'x'")
    assert_nothing_left(project, before)
    assert lock.read_text() == ""  # left for a run DVC can start under

