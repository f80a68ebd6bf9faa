"""Follow-ups of review 72s, of the mends to the TQDM_ check and to compare's reading of run summaries:

- ``TQDM_SMOOTHING=nan`` (also inf, or 2): the check's bars never stepped after a wait, so no rate was smoothed and the
  variable passed; train ended in tqdm's traceback once its first epoch was drawn;
- every variable tqdm documents, set to a value it takes, still passes the check (a false alarm is a bug too);
- a stage starting beside DVC's lock file left broken by a stopped run, under ``TQDM_POSITION=x``: the lock's removal
  imported DVC (and tqdm) before the check, and the stage ended in tqdm's ValueError traceback;
- ``winnow compare`` (F1) over a run whose summary.json holds a class's entry without its support: read as a class of
  test images, so one of none was averaged in without a word (an entry missing was named since 46766dd1);
- ``winnow compare --metrics precision`` over such a summary: the same class averaged in, exit 0.
"""

from __future__ import annotations

import json
import os

import pytest
from gate_repo import git, init
from hostile_harness import (
    assert_error_line, assert_nothing_left, default_params, files_under, imagefolder_project, make_project,
    refused_line, run_stage,
)

from winnow import progress_env
from winnow.cli import main as winnow
from winnow.metrics import metrics_path, summary_path


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


F1 = {"baseline": {"a": 0.5, "z": 0.0}, "pruned": {"a": 0.6, "z": 0.0}}
UNSIZED = {"per_class": {"a": {"f1": 0.5, "precision": 0.5, "support": 5}, "z": {"f1": 0.0, "precision": 0.0}}}


def _run_with_summaries(tmp_path, summary: dict):
    """A project committed with ``summary`` as each variant's summary.json, and a saved exp show of that commit."""
    project = make_project(tmp_path / "project", default_params() | {"variants": list(F1)})
    for variant in F1:
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(json.dumps(summary))
    init(project)
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([{"rev": git(project, "rev-parse", "HEAD").strip(), "name": "main", "error": None,
                                  "data": {"params": {"params.yaml": {"data": {"seed": 0}}},
                                           "metrics": {metrics_path(v): {"data": {"per_class": {
                                               c: {"f1": x} for c, x in per_class.items()}}}
                                               for v, per_class in F1.items()}}}]))
    return project, saved


@pytest.mark.hostile("compare")
def test_compare_f1_names_a_runs_summary_whose_class_entry_lacks_its_support(tmp_path, capsys):
    # z has no test image; its summary entries hold no support (a hand edit: evaluate writes it for every class).
    # Before: read as a class with test images, z's unmeasured 0 averaged in (average 0.2500), exit 0, no word
    project, saved = _run_with_summaries(tmp_path, UNSIZED)
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 0
    assert capsys.readouterr().out.startswith(
        "# Variants over 1 run(s) (seeds 0)\n\n"
        "_read 2 summary file(s) as missing, being broken (main: metrics/evaluate/baseline/summary.json, no support "
        "for z; main: metrics/evaluate/pruned/summary.json, no support for z): F1 there is as DVC shows it, without "
        "each class's count of test images, so a class of none is averaged in unless another variant's summary of "
        "the run says so; rerun evaluate there_\n")


@pytest.mark.hostile("compare")
def test_compare_precision_refuses_a_runs_summary_whose_class_entry_lacks_its_support(tmp_path, capsys):
    # precision comes from the summaries alone. Before: z, of no support there, averaged in as tested, exit 0
    project, saved = _run_with_summaries(tmp_path, UNSIZED)
    before = files_under(project)
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project), "--metrics", "precision"]) == 1
    assert capsys.readouterr().err == (
        "error: compare --metrics precision: metrics/evaluate/baseline/summary.json in run main: per_class.z holds "
        "no support (its count of test images); rerun evaluate@baseline there\n")
    assert_nothing_left(project, before)
