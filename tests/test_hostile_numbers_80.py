"""Hostile inputs to the numbers the report states, probe 80 (honest numbers in the report and the metrics).

- the paired t-test across classes of the evaluation section, where the classes cannot make the test: one class
  tested (n 1), or every class changed by the same amount (no spread), read "–" for p and CI and "no clear difference"
  beside a change of +0.100 in every class; identical versions read "p 1.000 ... no clear difference". The compare
  stage's tables say each in words (``n/a (...)``, ``(identical)``); the page now does too;
- a version whose macro F1 is baseline's but for float noise (the same per-class F1 in another class order) was
  called "The best, `pruned`, reaches macro F1 0.471", where an exact tie reads "No other version scores above it";
- the merge gate's table wrote rates and bounds to 4 decimals flat: a base model wrong on 1 of 25,000 test images read
  "1.0000", and a lower bound of -0.0000375 read "-0.0000"; they are written as the report writes them (to the first
  digit that is not 0, never 1 where not 1).

Every expected cell is worked out here from the inputs (scipy's t-test, plain arithmetic), never read back from
winnow's own output.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from gate_repo import labels_of, wrong_on
from hostile_harness import default_params
from test_hostile_report_more import plain
from winnow.gate_report import render
from winnow.gate_table import GateSettings, paired_rows
from winnow.report import evaluation_section
from winnow.version_verdict import verdict


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


def _accuracy_row(base: pd.DataFrame, head: pd.DataFrame) -> list[str]:
    """The cells of the gate table's overall row (all (accuracy)) for one run a side, today's gate settings."""
    settings = GateSettings.from_params(default_params()["gate"])
    table = paired_rows(base, head, variant="baseline", settings=settings)
    row = next(line for line in render(table, alpha=settings.alpha).splitlines()
               if line.startswith("| baseline | all (accuracy) |"))
    return [cell.strip() for cell in row.strip("|").split("|")]


def _run(labels: np.ndarray, wrong: list[int]) -> pd.DataFrame:
    """Predictions right on every image but those of ``wrong`` (named as the next class)."""
    return pd.DataFrame({"id": [f"test-{i:05d}" for i in range(len(labels))], "label": labels,
                         "predicted": wrong_on(labels, wrong)})


@pytest.mark.hostile("gate")
def test_the_gate_never_shows_an_accuracy_that_is_not_1_as_1():
    # 25,000 test images (a large test set), the base model wrong on one of them, the head on three. Before: the gate
    # table read "base 1.0000", a model that erred nowhere
    labels = labels_of(2500)
    cells = _accuracy_row(_run(labels, [0]), _run(labels, [0, 10, 20]))
    assert len(labels) == 25_000
    assert cells[4:6] == [f"{24_999 / 25_000:.5f}", f"{24_997 / 25_000:.4f}"] == ["0.99996", "0.9999"]


def _newcombe(both: int, gained: int, lost: int, neither: int, *, phi: float) -> tuple[float, float]:
    """Newcombe's (1998) method 10 interval for head - base accuracy, from scipy's Wilson intervals, each side widened
    by sqrt(``phi``) (the seeds' overdispersion the gate allows for)."""
    n = both + gained + lost + neither
    head, base = (both + gained) / n, (both + lost) / n
    l1, u1 = binomtest(both + gained, n).proportion_ci(method="wilson")
    l2, u2 = binomtest(both + lost, n).proportion_ci(method="wilson")
    cross = both * neither - gained * lost
    cross = max(cross - n / 2, 0) if cross > 0 else cross  # Newcombe's continuity adjustment of the correlation
    r = cross / math.sqrt((both + gained) * (lost + neither) * (both + lost) * (gained + neither))
    widen = math.sqrt(phi)
    low = head - base - widen * math.sqrt((head - l1) ** 2 - 2 * r * (head - l1) * (u2 - base) + (u2 - base) ** 2)
    high = head - base + widen * math.sqrt((u1 - head) ** 2 - 2 * r * (u1 - head) * (base - l2) + (base - l2) ** 2)
    return low, high


@pytest.mark.hostile("gate")
def test_the_gate_never_shows_a_bound_below_0_as_minus_zero():
    # 10,000 test images; base wrong on the first 1,000, head right on 9 of them: Newcombe's lower bound, widened by
    # the gate's accuracy phi, is -0.000046. Before: "-0.0000 … +0.0019", a bound that is not 0 shown as 0 (and as -0)
    labels = labels_of(1000)
    base_wrong = list(range(1000))
    head_wrong = base_wrong[9:]
    low, high = _newcombe(both=9000, gained=9, lost=0, neither=991,
                          phi=default_params()["gate"]["accuracy_overdispersion"])
    assert -5e-5 < low < -5e-6
    assert _accuracy_row(_run(labels, base_wrong), _run(labels, head_wrong))[7] == f"{low:+.5f} … {high:+.4f}"


@pytest.mark.hostile("report")
def test_a_version_of_the_same_macro_f1_by_float_noise_is_not_called_the_best():
    # pruned scores the same seven per-class F1 as baseline, on other classes: the same macro F1, but pandas' mean of
    # the other order is 5.6e-17 higher. Before: "The best, `pruned`, reaches macro F1 0.471", praise of a tie
    base = [0.0165, 0.6066, 0.9128, 0.2697, 0.6369, 0.0410, 0.8133]
    head = [0.6369, 0.2697, 0.0410, 0.0165, 0.8133, 0.9128, 0.6066]
    assert sorted(base) == sorted(head)  # one multiset of F1: their mean is one number
    macro = [float(pd.Series(f1).mean()) for f1 in (base, head)]
    table = pd.DataFrame({"accuracy": [0.5, 0.5], "macro_f1": macro, "f1_change": [np.nan, macro[1] - macro[0]],
                          "f1_p": [np.nan, 1.0], "f1_low": [np.nan, -0.01], "f1_high": [np.nan, 0.01],
                          "learnt": [True, True]}, index=["baseline", "pruned"])
    mean = sum(base) / len(base)
    assert verdict(table, alpha=0.05)[1] == (
        f"No version beats baseline significantly: keep `baseline` (macro F1 {mean:.3f}). No other version scores "
        f"above it; the closest, `pruned`, reaches macro F1 {mean:.3f}, +0.000 over baseline (p 1.000, 95% CI -0.010 "
        "to +0.010; paired on the test images).")
