"""Hostile inputs to the report, review of probe 71 (numbers the page states that must not read as something else):

- two versions whose macro F1 are the same fraction, summed by the float sums in another order (a change of 1e-16):
  the mend that shows a change to its first digit that is not 0 wrote "+0.0000000000 over baseline", the float noise
  of equal figures as a change; the paired t-test's change across classes of ten classes' F1 in another order too
  (5.6e-18); they read +0.000 again;
- a 0 written -0.0 (JSON's -0.0 in a contract's rate) read "-0.000";
- the rule that a number that is not 0 never reads 0.000 lived in two copies (the captions' and the contracts table's)
  while every other table wrote its cells by the old one: a planted-issue precision of 1 in 3,001 flags read
  "precision (planted) 0.000", and a class's F1 of 0.0004 beside another version's 0.0001 read 0.000 twice, both in
  bold as "best";
- an evaluate summary whose F1 was rounded to 4 decimals (0.8571 for 0.857142...) was refused "is 0.8571 but its
  predictions.csv gives 0.8571", the two figures the line contrasts alike;
- a budget candidate whose correct key was deleted (its accuracy and log-loss left) was refused as "correct is null".
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from test_hostile_report_71 import _report  # the report stage in-process: its one error line, assert_nothing_left
from test_hostile_report_more import plain
from test_report_versions import BASELINE_ERRORS, wrong_on, write_project
from winnow.compare import pairwise
from winnow.metrics import summarise
from winnow.report import contracts_section, evaluation_section, threshold_section
from winnow.report_versions import compare_versions, versions_section

NAMES = np.array(["a", "b", "c"])
# 10 test images of each of 3 classes; two models whose macro F1 is the same fraction (1241/1485) by float
# sums that differ by 1.1e-16
LABELS = np.repeat(np.arange(3), 10)
BASE = np.array([0, 0, 0, 0, 0, 2, 0, 0, 2, 0, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0, 2, 2, 2, 2, 0, 2, 2, 2, 2, 2])
HEAD = np.array([0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 2, 0, 2, 2, 2, 2, 2, 2, 2])


def _exact_macro_f1(predicted: np.ndarray) -> Fraction:
    return sum((Fraction(2 * int(((LABELS == c) & (predicted == c)).sum()),
                         int((LABELS == c).sum() + (predicted == c).sum())) for c in range(3)), Fraction(0)) / 3


def _predictions(predicted: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"x{i}" for i in range(len(LABELS))], "label": NAMES[LABELS],
                         "predicted": NAMES[predicted]})


@pytest.mark.hostile("report")
def test_a_macro_f1_change_that_is_float_noise_reads_as_none():
    # before: "No version beats baseline significantly: ... the closest, `pruned`, ... +0.0000000000 over baseline", and
    # "+0.0000000000" in the table's macro F1 change cell: 1e-16, the float sums of one fraction in two orders
    assert _exact_macro_f1(BASE) == _exact_macro_f1(HEAD) and not (BASE == HEAD).all()
    metrics = {v: summarise(LABELS, p, classes=list(NAMES)) for v, p in (("baseline", BASE), ("pruned", HEAD))}
    predictions = {"baseline": _predictions(BASE), "pruned": _predictions(HEAD)}
    paths = {"baseline": "b.csv", "pruned": "p.csv"}
    change = compare_versions(metrics, predictions, paths=paths).loc["pruned", "f1_change"]
    assert change != 0 and abs(change) < 1e-15  # the noise the case is about
    page = versions_section(metrics=metrics, predictions=predictions, paths=paths, unevaluated=[], review=None,
                            review_path="metrics/variants.json")
    sentence = page.split('<p class="verdict">')[1].split("</p>")[0]
    assert ", +0.000 over baseline (p " in sentence
    row = page.split('<td class="text">pruned</td>')[1].split("</tr>")[0]
    cells = [cell.removeprefix("<td>") for cell in row.split("</td>")]
    assert cells[4] == "+0.000"  # macro F1 vs baseline


@pytest.mark.hostile("report")
def test_a_change_across_classes_that_is_float_noise_reads_as_none():
    # ten classes' F1 at baseline, the same ten F1 in another order at pruned: no change, but their differences' mean is
    # 5.6e-18 in floats. Before: "baseline → pruned | +0.0000000000 | ..." beside "no clear difference"
    base = [0.8765, 0.0586, 0.3361, 0.1503, 0.4503, 0.7963, 0.2306, 0.052, 0.4046, 0.1985]
    head = [0.4503, 0.2306, 0.4046, 0.0586, 0.7963, 0.052, 0.1503, 0.3361, 0.8765, 0.1985]
    assert sorted(base) == sorted(head)
    assert pairwise({"baseline": np.array(base), "pruned": np.array(head)})["mean_diff"].iloc[0] != 0

    def summary(f1: list[float]) -> dict:
        per_class = {str(c): {"precision": v, "recall": v, "f1": v, "accuracy": v, "support": 50}
                     for c, v in enumerate(f1)}
        return {"accuracy": 0.4, "macro": {"precision": 0.4, "recall": 0.4, "f1": 0.4},
                "per_class_std": {"precision": 0.3, "recall": 0.3, "f1": 0.3}, "per_class": per_class}

    page = evaluation_section(metrics={"baseline": summary(base), "pruned": summary(head)}, confusions={})
    row = page.split('<td class="text">baseline → pruned</td>')[1].split("</tr>")[0]
    assert row.startswith("<td>+0.000</td>")
    assert row.endswith("<td>no clear difference</td>")


@pytest.mark.hostile("report")
def test_a_table_cell_that_is_not_zero_never_reads_as_zero_and_a_zero_never_as_minus_zero():
    # dark flagged 3,001 train images, one of them planted. Before: "precision (planted) 0.000" beside the 3,001 flags
    summary = {"dark": {"method": "auto", "rule": "mode", "threshold": 0.2, "flagged": 3001, "flagged_train": 3001,
                        "explained": 0, "precision": 1 / 3001, "recall": 1.0, "f1": 2 / 3002, "tp": 1, "fp": 3000,
                        "fn": 0}}
    text = plain(threshold_section(summary=summary, histograms={}))
    assert "| dark | auto | mode | 0.200 | 3,001 | 3,001 | 0 | 0.0003 | 1.000 | 0.001 |" in text
    # a contract's rate of 0 written -0.0: before, "duplicate rate -0.000"
    verdict = {"passed": 5, "failed": 0, "duplicate_rate": -0.0, "label_issue_rate": 0.02, "flagged_rate": 0.0,
               "class_balance": 0.9, "completeness": 1.0, "kept_images": 3255, "measured_share": 1.0,
               "enforced": False, "failures": []}
    row = contracts_section(inputs=None, variants={"pruned": verdict}, data_docs={}).split(
        '<td class="text">pruned</td>')[1].split("</tr>")[0]
    assert row == ("<td>no</td><td>5</td><td>0</td><td>0.000</td><td>0.020</td><td>0.000</td><td>0.900</td>"
                   "<td>1.000</td><td>3,255</td><td>1.000</td>")


@pytest.mark.hostile("report")
def test_the_best_cell_of_a_class_is_the_higher_of_two_figures_below_a_thousandth():
    # class c's F1 0.0001 at baseline and 0.0004 at pruned. Before: both read "0.000", both in bold as best
    def summary(f1_c: float) -> dict:
        per_class = {c: {"precision": v, "recall": v, "f1": v, "accuracy": v, "support": 50}
                     for c, v in (("a", 0.9), ("b", 0.8), ("c", f1_c))}
        return {"accuracy": 0.6, "macro": {"precision": 0.6, "recall": 0.6, "f1": 0.6},
                "per_class_std": {"precision": 0.4, "recall": 0.4, "f1": 0.4}, "per_class": per_class}

    page = evaluation_section(metrics={"baseline": summary(0.0001), "pruned": summary(0.0004)}, confusions={})
    f1_table = page.split("<h3>f1 per class")[1]
    row = f1_table.split('<td class="text">c</td>')[1].split("</tr>")[0]
    assert row == "<td>0.0001</td><td><b>0.0004</b></td>"


@pytest.mark.hostile("report")
def test_a_summary_figure_rounded_to_four_decimals_is_named_apart_from_its_predictions(tmp_path, monkeypatch,
                                                                                       capsys):
    # pruned wrong on 10 cat images (called dog): cat's F1 is 60/70 = 0.857142..., written 0.8571 (rounded by hand, or
    # by a tool). Before: "per_class.cat.f1 is 0.8571 but its metrics/evaluate/pruned/predictions.csv gives 0.8571"
    root = write_project(tmp_path / "project", {"baseline": wrong_on(BASELINE_ERRORS), "pruned": wrong_on(range(10))})
    path = root / "metrics/evaluate/pruned/summary.json"
    summary = json.loads(path.read_text())
    assert summary["per_class"]["cat"]["f1"] == 60 / 70
    summary["per_class"]["cat"]["f1"] = 0.8571
    path.write_text(json.dumps(summary))
    assert _report(root, monkeypatch, capsys) == (
        "error: metrics/evaluate/pruned/summary.json: per_class.cat.f1 is 0.85710 but its "
        "metrics/evaluate/pruned/predictions.csv gives 0.85714: the two are from different runs, or edited; rerun the "
        "evaluate@pruned stage (dvc repro evaluate@pruned)\n")


@pytest.mark.hostile("report")
def test_a_budget_candidate_key_left_out_is_said_to_be_missing(tmp_path, monkeypatch, capsys):
    # top5%'s correct deleted, its accuracy and log-loss left. Before: "candidates.top5%.correct is null, but its
    # accuracy is not", a null the file does not hold
    none = {"fraction": None, "label_images": 0, "dropped": 0, "relabelled": 0, "train_images": 3255, "correct": 477,
            "accuracy": 0.954, "log_loss": 0.31, "note": ""}
    top5 = none | {"fraction": 0.05, "label_images": 163, "dropped": 492, "relabelled": 163, "train_images": 2763,
                   "correct": 476, "accuracy": 0.952, "log_loss": 0.26}
    del top5["correct"]
    budget = {"enabled": True, "train_images": 3255, "leak_drops": 0, "judge": {"split": "val", "images": 500},
              "score": "log_loss", "l2": 0.01, "l2_chosen_on": "val", "tie_se": 1.0, "winner": "none",
              "model_check": None, "candidates": {"none": none, "top5%": top5}}
    root = write_project(tmp_path / "project", {v: wrong_on(BASELINE_ERRORS) for v in ("baseline", "pruned")})
    (root / "metrics/budget.json").write_text(json.dumps(budget))
    assert _report(root, monkeypatch, capsys) == (
        "error: metrics/budget.json: candidates.top5%.correct is missing, but its accuracy is not (a candidate not "
        "judged has none of them); rerun the budget stage (dvc repro budget)\n")
