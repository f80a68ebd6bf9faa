"""Hostile leftovers of stop 75, mended at stop 75 (j):

- threshold's auto ``tail_share`` as tiny as 1e-9: accepted by the params check, and the tail and isolated rules
  silently tested nothing (too few scores below that share), so a black image among 20,000 clean ones was flagged at
  the default 0.1 and not at 1e-9. Now refused before any stage below 0.001, in one line saying why;
- a stage script read from standard input (``python - x < stages/report.py``) or run by ``-c``: its lines named
  ``stages/-`` (``stages/-c``), and the refusal of its arguments told the user to run ``python stages/-``. Now
  ``stages/<stdin>`` (``<-c>``), and the command to run names the stage's script as dvc.yaml does;
- next to it, the same script read from standard input under an ASCII locale (``LC_ALL=C PYTHONUTF8=0``): the stage
  ran itself again in Python's UTF-8 mode, whose standard input was already read to its end, so it ran nothing and
  said nothing, exit 0. Now one line saying why, and what to run;
- evaluate of a test split without images of a class: its warning said the class's recall, F1 and accuracy are
  written as 0 and left out of the macro averages, but precision is too (0 also where the model named the class for
  test images of others, which the line did not say). Now it names precision, and how many images the model named so;
- the report run alone after data_valuation was added to pruned.cleaners, on the metrics of a data-valuation run that
  decided nothing because it was among no pruned.cleaners then: the page said "It is not among pruned.cleaners, so
  the pipeline went on" beside a params.yaml listing it, exit 0 (a rerun of data-valuation now refuses the thin val
  split). Now one line naming data-valuation to rerun;
- ``winnow study collect`` rerun over fewer sweeps, killed once its new table and plots had moved into place: it
  removed the plots of the sweeps it no longer draws only after its commit, so the next start finished the commit and
  an old ``per_class_f1_<sweep>.png`` stayed beside the new table. The removal is now staged in the same commit
  (``Outputs.removal``), finished or undone with it;
- next to it, ingest refusing too many unreadable files after a good run, killed once its data/ingest of rejected.csv
  alone had landed: metrics/ingest.json was removed after that, so the previous run's counts stayed beside it. Now
  removed in the same commit;
- a stage run in-process by a caller whose ``sys.stdout`` (or ``sys.stderr``) was None: the stage wrote to a /dev/null
  stream it opened, and gave the caller its None back with that stream left open for the garbage collector (a
  ResourceWarning). Now closed as the streams are given back.

Stage cases run the real scripts in this process on throwaway projects of a few small images; the others call the
library the stages call."""

from __future__ import annotations

import importlib.util
import os
import json
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project, params_with,
)
from test_hostile_report_71 import _report
from review_project import write_project
from test_hostile_evaluate_73 import _bright_is_b
from test_hostile_ingest import image_folder
from test_hostile_threshold_64 import _stage_in_process
from test_hostile_metrics_more import _evaluate_project
from test_hostile_quality_70 import _refused
from test_hostile_training_66 import _evaluate_in_process
from test_study import record, show
from winnow import cli, commit_journal
from winnow.imageset import read_imageset
from winnow.metrics import summary_path
from winnow.params import validate
from winnow.stage import run
from winnow.thresholds import threshold_rule


@pytest.mark.hostile("score")
def test_a_tail_share_too_small_for_any_tail_is_refused_before_any_stage(tmp_path, monkeypatch, capsys):
    # before: accepted, and the threshold stage ran with the tail and isolated rules testing nothing (exit 0)
    make_project(tmp_path, params_with("threshold.issues.dark", {"method": "auto", "tail_share": 1e-9}))
    assert _refused(tmp_path, "threshold", monkeypatch, capsys) == (
        "error: params.yaml: threshold.issues.dark.tail_share: 1e-09 is below 0.001: auto's isolated rule needs 20 "
        "scores under that share of them and its tail rule 10, so the isolated rule would fire on no set of fewer "
        "than 19,000,000,000 images; give 0.001 or more (0.1 by default), or null to turn both rules off")


@pytest.mark.hostile("score")
def test_the_tiny_share_flagged_nothing_and_the_bound_still_flags():
    # the reason for the refusal above, measured: one black image among 20,000 clean scores (20 of them below the
    # lowest thousandth)
    rng = np.random.default_rng(0)
    scores = np.r_[np.clip(rng.normal(0.8, 0.05, 20000), 0, 1), 0.05]
    assert threshold_rule(scores, method="auto", tail_share=1e-9)[1] == "none"
    assert threshold_rule(scores, method="auto", tail_share=0.001) == (0.05, "isolated")
    validate(params_with("threshold.issues.dark", {"method": "auto", "tail_share": 0.001}))
    validate(params_with("threshold.issues.dark", {"method": "auto", "tail_share": None}))


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("argv0", "named"), [("-", "stages/<stdin>"), ("", "stages/<stdin>"), ("-c", "stages/<-c>")])
def test_a_stage_read_without_a_file_is_never_named_by_a_wrong_path(tmp_path, monkeypatch, capsys, argv0, named):
    # before: "error: stages/- takes no arguments (got x); run it as dvc.yaml does: python stages/-", a path that is
    # none, given as the command to run
    monkeypatch.chdir(make_project(tmp_path))
    before = files_under(tmp_path)
    monkeypatch.setattr(sys, "argv", [argv0, "x"])
    with pytest.raises(SystemExit) as ended:
        run(lambda: pytest.fail("the stage ran"))
    assert ended.value.code == 1
    assert capsys.readouterr().err == (f"error: {named} takes no arguments (got x); run it as dvc.yaml does: python "
                                       "stages/<stage>.py\n")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("interrupted")
def test_a_stage_read_from_standard_input_under_an_ascii_locale_is_one_line(tmp_path):
    # before: the stage ran itself again in Python's UTF-8 mode, which found standard input read to its end: nothing
    # ran, nothing was said, exit 0
    project = make_project(tmp_path)
    before = files_under(project)
    with open(ROOT / "stages/ingest.py", encoding="utf-8") as script:
        done = subprocess.run([sys.executable, "-"], stdin=script, cwd=project, capture_output=True, text=True,
                              env={**_env(), "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
                              timeout=300)
    assert assert_error_line(done) == (
        "error: stages/<stdin>: this locale's encoding (ANSI_X3.4-1968, ascii) needs the stage started again in "
        "Python's UTF-8 mode, but a script read from standard input cannot be read again; run it as dvc.yaml does: "
        "python stages/<stage>.py, or set PYTHONUTF8=1")
    assert done.stdout == ""
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_the_warning_of_a_class_without_test_images_names_its_precision(tmp_path, monkeypatch, capsys):
    # before: "their recall, F1 and accuracy are written as 0, which says nothing of the model, and left out of the
    # macro averages", while a's precision was written as 0 and left out of macro precision too, and the model had
    # named a for one test image (of b)
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [0, 3], bias=[0.0, 0.0])
    _bright_is_b(project, {"test-1-0": 255, "test-1-1": 255, "test-1-2": 0})  # the black one is named a
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[0] == (
        "warning: evaluate@baseline: class(es) 'a' have no test images: their precision, recall, F1 and accuracy are "
        "written as 0, which says nothing of the model but that it named them for 1 test image(s) of other classes, "
        "and left out of the macro averages; give the test split images of every class")
    summary = json.loads((project / summary_path("baseline")).read_text())
    assert summary["per_class"]["a"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0, "support": 0}
    # b's alone: both images named b are b's
    assert summary["macro"]["precision"] == 1.0


def _stage(name: str):
    """stages/<name>.py loaded as a module, for a case to call its helpers."""
    spec = importlib.util.spec_from_file_location(f"{name}_stage", ROOT / "stages" / f"{name}.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    return stage


@pytest.mark.hostile("report")
def test_the_report_refuses_an_undecided_valuation_once_pruned_uses_it(tmp_path, monkeypatch, capsys):
    root = write_project(tmp_path / "project")  # data_valuation among no pruned.cleaners
    monkeypatch.chdir(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    # what data-valuation writes where its val split is too thin and pruned does not use it
    _stage("data_valuation")._write_undecided(
        considered=9, left_out=3, why="the val split's 3 image(s) hold fewer than 2 of every class",
        start=time.perf_counter(), manifest=read_imageset(root / "data/degrade").manifest, params=params)
    params["pruned"]["cleaners"].append("data_valuation")
    make_project(root, params)
    # before: exit 0, "Data valuation decided nothing about the 9 train images: ... It is not among pruned.cleaners,
    # so the pipeline went on." under a params.yaml listing it there
    assert _report(root, monkeypatch, capsys) == (
        "error: metrics/data_valuation.json: decided nothing, as data_valuation was among no pruned.cleaners when the "
        "stage ran, but params.yaml lists it there now; rerun the data-valuation stage (dvc repro data-valuation)\n")


class _Killed(BaseException):
    """A kill -9 as the commit's code sees it: nothing after it runs."""


@contextmanager
def _killed_once_moved(monkeypatch):
    """A run killed once every output moved into place, before its journal is removed; the moves as before after."""
    finish = commit_journal._finish

    def killed_once_moved(moves, direction):
        if direction == "forward":
            raise _Killed  # every output moved, the journal not yet removed
        finish(moves, direction)

    monkeypatch.setattr(commit_journal, "_finish", killed_once_moved)
    try:
        yield
    finally:
        monkeypatch.setattr(commit_journal, "_finish", finish)


@pytest.mark.hostile("interrupted")
def test_study_collect_killed_after_its_moves_leaves_no_plot_of_a_sweep_it_dropped(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    clean, noise = record("clean", [], 0.95), record("n1", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8)
    blur = record("b1", [{"kind": "blur", "fraction": 0.2, "kernel": 5}], 0.85)
    (tmp_path / "both.json").write_text(json.dumps(show(clean, noise, blur)))
    (tmp_path / "noise.json").write_text(json.dumps(show(clean, noise)))
    assert cli.main(["study", "collect", "--from-json", "both.json", "--out", "study"]) == 0
    # blur at one fraction draws two sweeps (proportion and strength), noise one
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == [
        "accuracy.png", "per_class_f1_label_noise.png", "per_class_f1_proportion.png", "per_class_f1_strength.png",
        "study.csv"]
    with _killed_once_moved(monkeypatch), pytest.raises(_Killed):
        cli.main(["study", "collect", "--from-json", "noise.json", "--out", "study"])
    commit_journal.finish_killed_commits()  # as the next stage or command starts
    # before: per_class_f1_proportion.png and per_class_f1_strength.png stayed beside a table without those sweeps
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "accuracy.png", "both.json", "noise.json", "per_class_f1_label_noise.png", "study", "study.csv"]
    assert set(pd.read_csv(tmp_path / "study/study.csv")["sweep"]) == {"clean", "label_noise"}


@pytest.mark.hostile("interrupted")
def test_ingest_refused_and_killed_after_its_moves_leaves_no_counts_of_the_run_before(tmp_path, monkeypatch, capsys):
    good = image_folder(tmp_path / "good", {"cat": 6, "dog": 6})
    bad = image_folder(tmp_path / "bad", {"cat": 6, "dog": 6})
    (bad / "dog" / "broken.png").write_bytes(b"not a png")
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(good))
    project = make_project(tmp_path / "project", params)
    assert _stage_in_process(project, "ingest", monkeypatch, capsys).returncode == 0
    params["ingest"].update(path=str(bad), max_reject_fraction=0.01)
    make_project(project, params)
    with _killed_once_moved(monkeypatch), pytest.raises(_Killed):
        _stage_in_process(project, "ingest", monkeypatch, capsys)
    commit_journal.finish_killed_commits()  # as the next stage starts
    # before: metrics/ingest.json, the good run's counts of 12 images, stayed beside this run's rejected.csv
    assert files_under(project) == {"params.yaml", "data/ingest/rejected.csv"}


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("name", ["stdout", "stderr"])
def test_a_stage_run_in_process_closes_the_stream_it_opened_for_a_caller_s_none(tmp_path, monkeypatch, name):
    monkeypatch.chdir(make_project(tmp_path))
    monkeypatch.setattr(sys, "argv", ["stages/report.py"])
    monkeypatch.setattr(sys, name, None)
    descriptors = set(os.listdir("/proc/self/fd"))
    seen = []
    run(lambda: seen.append(getattr(sys, name)))
    assert getattr(sys, name) is None  # the caller's own, given back
    assert seen[0].name == os.devnull
    # before: False, left open until the garbage collector found it ("ResourceWarning: unclosed file")
    assert seen[0].closed
    assert set(os.listdir("/proc/self/fd")) == descriptors
