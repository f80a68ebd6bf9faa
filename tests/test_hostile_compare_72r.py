"""Hostile inputs found by the review of probe 72's mends to compare and to the TQDM_ check:

- ``TQDM_FILE=progress.log`` (tqdm takes the text as the file its bars write to): the check drew its bars to a string
  of its own (``file=io.StringIO()``), so it passed the variable, and ingest ended in tqdm's AttributeError traceback
  at its first bar;
- ``winnow compare``, ``winnow gate`` and ``winnow study queue`` under ``TQDM_POSITION=x``: the check ran as a stage
  starts alone, and DVC's import (which imports tqdm) ended the first two in a ValueError traceback; study queue, once
  its DVC read ran the check, took the refusal for "not a DVC project" and ran `dvc exp run`, which ended in one;
- ``winnow compare`` (F1) over a run whose summary.json at its commit holds an empty per-class table, or one without
  a class DVC shows: read for each class's support without a word, so the class without test images was averaged
  in, exit 0 (a per-class table that is no mapping was named since probe 72, these were not).
"""

import json

import pytest
from gate_repo import commit, git, init, labels_of, write_both_variants
from hostile_harness import (
    assert_error_line, assert_nothing_left, default_params, files_under, imagefolder_project, make_project,
    refused_line, run_winnow,
)

from winnow.cli import main as winnow
from winnow.metrics import metrics_path, summary_path


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


@pytest.mark.hostile("params")
def test_winnow_compare_refuses_a_tqdm_variable_before_dvc_imports_tqdm(tmp_path, monkeypatch):
    # before: a traceback ending in tqdm's ValueError, raised as compare imported dvc.repo to read dvc exp show
    project = init(make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]}))
    _fresh_process(monkeypatch)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "compare", "--repo", str(project))) == POSITION_X
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
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


@pytest.mark.hostile("params")
def test_winnow_study_queue_refuses_a_tqdm_variable_before_it_runs_dvc(tmp_path, monkeypatch):
    # study queue reads DVC, and queues each experiment with `dvc exp run --queue`, which imports tqdm too. Before: its
    # read's refusal was taken for "not a DVC project here", and the first `dvc exp run` ended in tqdm's traceback,
    # then "error: study queue: `dvc exp run --queue ...` failed with status 1"
    project = make_project(tmp_path / "project", default_params())
    _fresh_process(monkeypatch)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "study", "queue", "--sweeps", "clean")) == POSITION_X
    assert_nothing_left(project, before)


F1 = {"baseline": {"a": 0.5, "z": 0.0}, "pruned": {"a": 0.6, "z": 0.0}}


def _shown(rev: str, name: str, seed: int) -> dict:
    """One commit as `dvc exp show --json` writes it: params.yaml's seed, and each variant's per-class F1 (:data:`F1`)."""
    return {"rev": rev, "name": name, "error": None, "data": {
        "params": {"params.yaml": {"data": {"seed": seed}}},
        "metrics": {metrics_path(v): {"data": {"per_class": {c: {"f1": x} for c, x in per_class.items()}}}
                    for v, per_class in F1.items()}}}


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("summary", "lacking"), [
    ({"per_class": {}}, "a, z"),
    ({"per_class": {"a": {"f1": 0.5, "support": 5}}}, "z")])
def test_compare_f1_names_a_runs_summary_whose_table_lacks_a_class_dvc_shows(tmp_path, capsys, summary, lacking):
    # z has no test image (F1 0 at every variant). The summaries at the run's commit hold no entry for it (an empty
    # table, or one cut short by hand), so its support is not known and z is averaged in. Before: exit 0 without a word,
    # where a per-class table that is no mapping was named as read as missing
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    for variant in F1:
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(json.dumps(summary))
    init(project)
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([_shown(git(project, "rev-parse", "HEAD").strip(), "main", 0)]))
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 0
    assert capsys.readouterr().out.startswith(
        "# Variants over 1 run(s) (seeds 0)\n\n"
        f"_read 2 summary file(s) as missing, being broken (main: metrics/evaluate/baseline/summary.json, no per-class "
        f"entry for {lacking}; main: metrics/evaluate/pruned/summary.json, no per-class entry for {lacking}): F1 there "
        "is as DVC shows it, without each class's count of test images, so a class of none is averaged in unless "
        "another variant's summary of the run says so; rerun evaluate there_\n")
