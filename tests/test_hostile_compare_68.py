"""Hostile inputs to compare found at stop 68: every number of its tables checked against closed forms."""

import math

import pytest

from winnow import compare


def _summary(f1: dict[str, float], support: dict[str, int]) -> dict:
    return {"per_class": {c: {"f1": v, "precision": v, "recall": v, "accuracy": v, "support": support[c]}
                          for c, v in f1.items()}}


@pytest.mark.hostile("compare")
def test_compare_over_seeds_tests_no_class_without_test_images():
    # a small class z the carve left out of test: its F1 is 0 at both variants in every run, not measured. Before,
    # its row of the tests over seeds read "0.0000 | 0.0000 | 1.0000 (identical) | 0.0000 | 0.0000 | 2"
    support = {"a": 5, "b": 5, "z": 0}
    runs = [{"base": _summary({"a": 0.50, "b": 0.70, "z": 0.0}, support),
             "head": _summary({"a": 0.60, "b": 0.75, "z": 0.0}, support)},
            {"base": _summary({"a": 0.55, "b": 0.70, "z": 0.0}, support),
             "head": _summary({"a": 0.60, "b": 0.80, "z": 0.0}, support)}]
    _, tests = compare.seed_summary(runs, metric="f1")
    assert list(tests["row"]) == ["a", "b", "average"]
    # a: differences 0.10 and 0.05 over two runs; with one degree of freedom t is Cauchy, so p = 1 - 2 atan(|t|) / pi
    # and the 97.5% point is tan(0.475 pi)
    mean, se = 0.075, 0.025  # sd of (0.10, 0.05) is 0.05 / sqrt(2), over sqrt(2) runs
    a = tests.set_index("row").loc["a"]
    assert a["t"] == pytest.approx(mean / se)
    assert a["p"] == pytest.approx(1 - 2 * math.atan(3) / math.pi)
    assert (a["ci_low"], a["ci_high"]) == pytest.approx((mean - math.tan(0.475 * math.pi) * se,
                                                         mean + math.tan(0.475 * math.pi) * se))
    assert compare.untested_rows_note(runs) == (
        "Left out of the average and std rows and of the tests: z (no test image: its 0s are not measured), as "
        "evaluate's macro figures leave it out.")
