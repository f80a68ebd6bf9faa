"""Hostile inputs to the report, review of probe 73's mends (test_hostile_report_73): the cases next to the ones they
handled.

- data/score/scores.parquet whose score of a flagged image is text ended the report in "TypeError: must be real
  number, not str"; one of NaN read "a · –" on its tile, one of -7.5 "a · -7.500", and scores made at other score
  settings than params.yaml's were captioned as today's, exit 0: the mend read the scores one row per image, but not
  as threshold reads them (winnow.quality.read_scores), which the report now does;
- metrics/threshold.json (or a cleaner's truth block) whose precision, recall or F1 is null where its tp, fp and fn
  define it was shown as undefined ("–", as if nothing were flagged) beside 10 flags in train, exit 0: the mend checked
  only the figures written as numbers. A null where the counts leave it undefined (the default run's light: nothing
  flagged) is still read;
- data/embedding-clean/rounds.parquet with a repeated row (the same image twice in one round) read "round 1: 3
  judged; isolated 2" above 2 judged images, 1 isolated, that image drawn twice, exit 0: the mend left rounds
  unchecked (one image is a row in each round), where it now holds one row per round and image; an image judged in
  two rounds is read as before.
"""

from __future__ import annotations

import json
import re
import sys

import pandas as pd
import pytest

from test_hostile_report_71 import _report
from test_hostile_report_73 import _edit_scores, _flagged_project
from test_hostile_report_more import report_stage
from test_report_versions import BASELINE_ERRORS, wrong_on, write_project
from hostile_harness import default_params, write_judged
from winnow.quality import SCORED_AT, scored_at
from winnow.report_recounts import checked_threshold
from winnow.stage import run


def _scores_at_other_settings(scores: pd.DataFrame) -> pd.DataFrame:
    scores.attrs = {SCORED_AT: scored_at(default_params()["score"] | {"dark_percentile": 50.0})}
    return scores


@pytest.mark.hostile("report")
@pytest.mark.parametrize("change, problem", [
    # before: TypeError: must be real number, not str (a traceback)
    (lambda scores: scores.assign(dark=scores["dark"].map(lambda v: f"{v:.3f}")), "column dark holds str, not scores"),
    # before: exit 0, the flagged tile of train-0-0 captioned "a · –"
    (lambda scores: scores.assign(dark=scores["dark"].mask(scores["id"] == "train-0-0")),
     "no score (NaN) for 1 images in dark"),
    # before: exit 0, the flagged tile of train-0-0 captioned "a · -7.500", first of the lowest scores
    (lambda scores: scores.assign(dark=scores["dark"].mask(scores["id"] == "train-0-0", -7.5)),
     "scores outside [0, 1] for 1 images in dark (first 'train-0-0': -7.5)"),
])
def test_scores_threshold_would_refuse_stop_the_report(tmp_path, monkeypatch, capsys, change, problem):
    root, flags = _flagged_project(tmp_path / "project")
    write_judged(root, "data/threshold/flags.parquet", flags)
    _edit_scores(root, change)
    assert _report(root, monkeypatch, capsys) == (
        f"error: data/score/scores.parquet: {problem}; rerun the score stage (dvc repro score)\n")


@pytest.mark.hostile("report")
def test_scores_made_at_other_score_settings_stop_the_report(tmp_path, monkeypatch, capsys):
    # before: exit 0, the tiles captioned with scores made at dark_percentile 50 beside flags cut at params.yaml's 99
    root, flags = _flagged_project(tmp_path / "project")
    write_judged(root, "data/threshold/flags.parquet", flags)
    path = root / "data/score/scores.parquet"
    _scores_at_other_settings(scores := pd.read_parquet(path)).to_parquet(path, index=False)
    assert pd.read_parquet(path).attrs[SCORED_AT] == scores.attrs[SCORED_AT]  # the edit is the one read
    assert _report(root, monkeypatch, capsys) == (
        "error: data/score/scores.parquet: scored at other settings than params.yaml's score section "
        "(dark_percentile 50 then, 99 now): made before that section changed; rerun the score stage (dvc repro "
        "score)\n")


@pytest.mark.hostile("report")
@pytest.mark.parametrize("key, line", [
    # 10 flags in train, 1 of them planted, 1 planted image missed. Before: exit 0, "–" in the thresholds table, as
    # if dark had flagged nothing in train
    ("precision", "dark.precision is null, but its tp 1, fp 9 and fn 1 give 0.1"),
    ("recall", "dark.recall is null, but its tp 1, fp 9 and fn 1 give 0.5"),
    ("f1", "dark.f1 is null, but its tp 1, fp 9 and fn 1 give 0.166667"),
])
def test_threshold_figures_null_where_their_counts_define_them_stop_the_report(tmp_path, monkeypatch, capsys, key,
                                                                              line):
    root = write_project(tmp_path / "project", {v: wrong_on(BASELINE_ERRORS) for v in ("baseline", "pruned")})
    dark = {"method": "fixed", "threshold": 0.2, "flagged": 12, "flagged_train": 10, "explained": 0, "tp": 1, "fp": 9,
            "fn": 1, "precision": 0.1, "recall": 0.5, "f1": 1 / 6} | {key: None}
    (root / "metrics/threshold.json").write_text(json.dumps({"dark": dark}))
    (root / "plots/threshold").mkdir(parents=True)  # its histogram, 12 of 19 scores in the red bin below the cut
    pd.DataFrame({"score": [0.1, 0.5], "count": [12, 7], "threshold": 0.2, "flagged": [True, False]}).to_csv(
        root / "plots/threshold/dark.csv", index=False)
    assert _report(root, monkeypatch, capsys) == (
        f"error: metrics/threshold.json: {line}; rerun the threshold stage (dvc repro threshold)\n")


@pytest.mark.hostile("report")
def test_a_cleaners_truth_figure_null_where_its_counts_define_it_stops_the_report(tmp_path, monkeypatch, capsys):
    # 4 issues found, 3 of them planted flips, 3 flips missed: precision 3/4. Before: exit 0, "truth.precision –"
    root = write_project(tmp_path / "project", {v: wrong_on(BASELINE_ERRORS) for v in ("baseline", "pruned")})
    truth = {"precision": None, "recall": 0.5, "f1": 0.6, "tp": 3, "fp": 1, "fn": 3}
    (root / "metrics/confident_learn.json").write_text(json.dumps({"issues": 4, "truth": truth}))
    assert _report(root, monkeypatch, capsys) == (
        "error: metrics/confident_learn.json: truth.precision is null, but its tp 3, fp 1 and fn 3 give 0.75; rerun "
        "the confident-learn stage (dvc repro confident-learn)\n")


@pytest.mark.hostile("report")
def test_figures_null_or_zero_where_their_counts_leave_them_undefined_are_read():
    # no false alarm: the default MNIST run's light (nothing flagged, 98 planted missed) writes precision null beside
    # recall and F1 0; a cleaner writes 0 where undefined (precision_recall_f1), the page showing "–" for both
    summary = {
        "light": {"method": "auto", "rule": "none", "threshold": None, "flagged": 0, "flagged_train": 0,
                  "explained": 98, "precision": None, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 98},
        "blurry": {"method": "auto", "rule": "none", "threshold": None, "flagged": 0, "flagged_train": 0,
                   "explained": 0, "precision": 0.0, "recall": None, "f1": None, "tp": 0, "fp": 0, "fn": 0},
        "dark": {"method": "auto", "rule": "mode", "threshold": 0.5, "flagged": 101, "flagged_train": 100,
                 "explained": 98, "precision": 0.98, "recall": 1.0, "f1": 0.98989898989899, "tp": 98, "fp": 2,
                 "fn": 0}}
    assert checked_threshold(json.loads(json.dumps(summary)), flags=None, path="metrics/threshold.json",
                             stage="threshold") == summary


def _rounds_project(root, rounds: pd.DataFrame):
    """:func:`_flagged_project` with embedding-clean's ``rounds`` (``id`` and ``round``; the rest filled in): train-0-0
    dropped as isolated, any other image kept."""
    root, flags = _flagged_project(root)
    write_judged(root, "data/threshold/flags.parquet", flags)
    drop = rounds["id"] == "train-0-0"
    write_judged(root, "data/embedding-clean/rounds.parquet", rounds.assign(
        decision=drop.map({True: "drop", False: "keep"}), reason=drop.map({True: "isolated", False: "kept"}),
        given_label=0, suggested_label=0, agreement=0.9))
    return root


@pytest.mark.hostile("report")
def test_a_repeated_row_of_a_round_stops_the_report(tmp_path, monkeypatch, capsys):
    # before: exit 0, "round 1: 3 judged; isolated 2" above train-0-0 drawn twice
    root = _rounds_project(tmp_path / "project", pd.DataFrame({"id": ["train-0-0", "train-0-1", "train-0-0"],
                                                                "round": 1}))
    assert _report(root, monkeypatch, capsys) == (
        "error: data/embedding-clean/rounds.parquet: 1 repeated row(s) of the same round and id, first round 1, id "
        "'train-0-0'; rerun the embedding-clean stage (dvc repro embedding-clean)\n")


@pytest.mark.hostile("report")
def test_an_image_judged_in_two_rounds_is_shown_in_each(tmp_path, monkeypatch, capsys):
    # no false alarm: embedding-clean writes a row for each image in each round it judges it
    root = _rounds_project(tmp_path / "project", pd.DataFrame({"id": ["train-0-0", "train-0-1"] * 2,
                                                                "round": [1, 1, 2, 2]}))
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", ["stages/report.py"])
    run(report_stage().main)
    assert re.findall(r"<h3>round [^<]*</h3>", (root / "reports/index.html").read_text()) == [
        "<h3>round 1: 2 judged; isolated 1</h3>", "<h3>round 2: 2 judged; isolated 1</h3>"]
