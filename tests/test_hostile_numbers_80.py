"""Hostile inputs to the numbers the report states, probe 80 (honest numbers in the report and the metrics).

- the paired t-test across classes of the evaluation section, where the classes cannot make the test: one class
  tested (n 1), or every class changed by the same amount (no spread), read "–" for p and CI and "no clear difference"
  beside a change of +0.100 in every class; identical versions read "p 1.000 ... no clear difference". The compare
  stage's tables say each in words (``n/a (...)``, ``(identical)``); the page now does too.

Every expected cell is worked out here from the inputs (scipy's t-test, plain arithmetic), never read back from
winnow's own output.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from test_hostile_report_more import plain
from winnow.report import evaluation_section


def _summary(f1: dict[str, float]) -> dict:
    """An evaluate summary of one version: ``f1`` per class, every per-class metric alike, 10 test images each; the
    macro figures the mean over the classes, as evaluate writes them."""
    per_class = {c: {"precision": v, "recall": v, "f1": v, "accuracy": v, "support": 10} for c, v in f1.items()}
    mean, std = float(np.mean(list(f1.values()))), float(np.std(list(f1.values())))
    return {"accuracy": mean, "macro": dict.fromkeys(("precision", "recall", "f1"), mean),
            "per_class_std": dict.fromkeys(("precision", "recall", "f1", "accuracy"), std), "per_class": per_class}


def _t_test_row(base: dict[str, float], head: dict[str, float]) -> str:
    """The F1 table's t-test row of baseline → pruned, as plain text."""
    page = evaluation_section(metrics={"baseline": _summary(base), "pruned": _summary(head)}, confusions={})
    f1_part = page.split("f1 per class", 1)[1].split("per class (best version in bold)", 1)[0]
    return plain(re.search(r"<tr><td class=\"text\">baseline → pruned</td>.*?</tr>", f1_part).group(0))


@pytest.mark.hostile("report")
def test_the_same_change_in_every_class_is_not_read_as_no_clear_difference():
    base, head = {"a": 0.5, "b": 0.6, "c": 0.7}, {"a": 0.6, "b": 0.7, "c": 0.8}
    # each class gains 0.1 (float rounding aside: scipy's t-test of these reads p 1e-31, a certainty no spread
    # measured): one change seen three times says nothing of how it varies, so there is no p and no interval
    assert _t_test_row(base, head) == ("baseline → pruned | +0.100 | n/a (the same change in every class) | "
                                       "n/a (the same change in every class) | not testable across classes")


@pytest.mark.hostile("report")
def test_one_class_tested_is_said_to_leave_the_t_test_undefined():
    # two classes, one of no test image: one difference, no t-test (n - 1 = 0 degrees of freedom)
    base = _summary({"a": 0.5, "b": 0.0})
    head = _summary({"a": 0.9, "b": 0.0})
    for summary in (base, head):
        summary["per_class"]["b"]["support"] = 0
        summary["macro"] = dict.fromkeys(("precision", "recall", "f1"), summary["per_class"]["a"]["f1"])
    page = evaluation_section(metrics={"baseline": base, "pruned": head}, confusions={})
    f1_part = page.split("f1 per class", 1)[1].split("per class (best version in bold)", 1)[0]
    row = plain(re.search(r"<tr><td class=\"text\">baseline → pruned</td>.*?</tr>", f1_part).group(0))
    assert row == ("baseline → pruned | +0.400 | n/a (1 class tested) | n/a (1 class tested) | "
                   "not testable across classes")


@pytest.mark.hostile("report")
def test_identical_versions_read_as_identical_not_as_no_clear_difference():
    f1 = {"a": 0.5, "b": 0.6, "c": 0.7}
    assert _t_test_row(f1, dict(f1)) == "baseline → pruned | +0.000 | +0.000 … +0.000 | 1.000 (identical) | identical"
