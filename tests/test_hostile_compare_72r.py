"""Hostile inputs found by the review of probe 72's mends to compare and to the TQDM_ check:

- ``TQDM_FILE=progress.log`` (tqdm takes the text as the file its bars write to): the check drew its bars to a string
  of its own (``file=io.StringIO()``), so it passed the variable, and ingest ended in tqdm's AttributeError traceback
  at its first bar;
- ``winnow compare`` and ``winnow gate`` under ``TQDM_POSITION=x``: the check ran as a stage starts alone, and DVC's
  import (which imports tqdm) ended each in a ValueError traceback.
"""

import pytest
from gate_repo import commit, init, labels_of, write_both_variants
from hostile_harness import (
    assert_error_line, assert_nothing_left, default_params, files_under, imagefolder_project, make_project,
    refused_line, run_winnow,
)


def _refusal(name: str, value: str, fault: str) -> str:
    """The TQDM_ check's line for one variable (test_hostile_progress_72 pins its wording)."""
    return (f"error: environment variable {name}={value!r}: tqdm, which draws the progress bars, cannot use it "
            f"({fault}); correct or unset it")


@pytest.mark.hostile("params")
def test_a_tqdm_file_variable_is_refused_before_any_work(tmp_path, monkeypatch):
    # tqdm reads TQDM_FILE as the file to write to, and writes to the text. Before: the check's bars were given a file
    # of their own, so it passed, and ingest ended in "AttributeError: 'str' object has no attribute 'write'" at its
    # first bar (in a forked run, whose server imported tqdm without it, ingest ran on without a word)
    project, _ = imagefolder_project(tmp_path)
    monkeypatch.setenv("TQDM_FILE", "progress.log")
    assert refused_line(project, "ingest") == _refusal("TQDM_FILE", "progress.log",
                                                       "AttributeError: 'str' object has no attribute 'write'")


def _fresh_process(monkeypatch) -> None:
    """Runs as a new process: the forked runs' server has imported DVC, and tqdm with it, without the test's TQDM_."""
    monkeypatch.setenv("WINNOW_TEST_FRESH_PROCESS", "1")
    monkeypatch.setenv("TQDM_POSITION", "x")


POSITION_X = _refusal("TQDM_POSITION", "x", "ValueError: invalid literal for int() with base 10: 'x'")


@pytest.mark.hostile("compare")
def test_winnow_compare_refuses_a_tqdm_variable_before_dvc_imports_tqdm(tmp_path, monkeypatch):
    # before: a traceback ending in tqdm's ValueError, raised as compare imported dvc.repo to read dvc exp show
    project = init(make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]}))
    _fresh_process(monkeypatch)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "compare", "--repo", str(project))) == POSITION_X
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_winnow_gate_refuses_a_tqdm_variable_before_dvc_imports_tqdm(tmp_path, monkeypatch):
    # the working tree gated against HEAD in a DVC project: the gate asks dvc status whether its outputs are current.
    # Before: a traceback ending in tqdm's ValueError, raised as the gate imported dvc for it
    project = init(make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]}))
    (project / "dvc.yaml").write_text("stages: {}\n")
    labels = labels_of()
    write_both_variants(project, labels, labels.copy())
    commit(project)
    _fresh_process(monkeypatch)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "gate", "--base", "HEAD", "--repo", str(project))) == POSITION_X
    assert_nothing_left(project, before)

