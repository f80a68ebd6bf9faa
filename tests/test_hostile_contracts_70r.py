"""Hostile contracts, review of probe 70's mends:

- ``strict_min: 1.0`` beside a row count's min_value 0 is kept: Great Expectations (pydantic's booleans) reads 1.0 as
  true, so the rule asks for more than 0 rows, and fails an empty table; it was refused as bounding nothing;
- a row count's min_value below 0 is refused without the advice ``(or strict_min: true)``, which left it refused;
- a failure line prints its bound apart from the observed value: max_value 0.012346 read "observed 0.012348, bound <=
  0.01235", a failure printed as a pass;
- data-valuation's ``val_images`` and ``copied_val_images`` of a thin class, which the report adds up, are counts:
  ``"1"`` stopped the report in a TypeError, and -5 beside 25 passed the recount of a class of 20 val images.
"""

import pandas as pd
import pytest

from winnow.contracts import Batch, Suite, load_suite, validate
from winnow.errors import WinnowError
from winnow.report_recounts import checked_valuation

RULE = "name: ingest\nexpectations:\n  - {type: %s, description: some rows, kwargs: {%s}}\n"


@pytest.mark.hostile("intermediates")
def test_a_row_count_above_0_by_a_strict_min_of_1_0_is_kept_and_fails_an_empty_table(tmp_path):
    # before: "min_value 0 bounds nothing: a row count is never below 0, ...; give a min_value above 0 (or strict_min:
    # true)", though Great Expectations reads strict_min 1.0 as true (the advice given was already taken)
    (tmp_path / "ingest.yaml").write_text(RULE % ("expect_table_row_count_to_be_between", "min_value: 0, "
                                                  "strict_min: 1.0"))
    suite = load_suite(tmp_path / "ingest.yaml", parameters={})
    assert [e["kwargs"] for e in suite.expectations] == [{"min_value": 0, "strict_min": 1.0}]
    [result] = validate([Batch(suite, "ingest", pd.DataFrame({"id": pd.Series([], dtype=str)}))])
    assert (result.success, result.line()) == (
        False, "ingest: some rows: observed 0, bound > 0 (expect_table_row_count_to_be_between)")


@pytest.mark.hostile("intermediates")
def test_a_row_count_of_a_negative_strict_minimum_is_not_told_to_be_strict(tmp_path):
    # before: "...; give a min_value above 0 (or strict_min: true)" of a rule that had strict_min true already: a count
    # above -1 is any count, and following the advice left the rule refused with the same line
    (tmp_path / "ingest.yaml").write_text(RULE % ("expect_table_row_count_to_be_between", "min_value: -1, "
                                                  "strict_min: true"))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (f"{tmp_path / 'ingest.yaml'}: expectation 1 (some rows): min_value -1 bounds nothing: "
                                 "a row count is never below 0, so it passes on anything, an empty table too; give a "
                                 "min_value above 0")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kwargs", "bound"), [
    ({"column": "rate", "max_value": 0.012346}, "<= 0.012346"),
    ({"column": "rate", "max_value": 0.012346, "strict_max": True}, "< 0.012346"),
    ({"column": "rate", "min_value": 0.0, "max_value": 0.012346}, "in [0, 0.012346]"),
], ids=["max", "strict-max", "range"])
def test_a_failure_line_prints_its_bound_apart_from_the_value_observed(kwargs, bound):
    # before: "observed 0.012348, bound <= 0.01235": the observed value was printed apart from the bound, the bound
    # rounded to 4 digits past it, and the failure (in the stage's lines, metrics/contracts/<v>.json and the report's
    # Failed rules) read as a pass
    suite = Suite("variant", "variant.yaml", [{"type": "expect_column_max_to_be_between", "kwargs": kwargs,
                                               "description": "duplicate rate"}], [])
    [result] = validate([Batch(suite, "pruned", pd.DataFrame({"rate": [0.012348]}))])
    assert (result.success, result.line()) == (
        False, f"variant[pruned]: duplicate rate: observed 0.012348, bound {bound} "
               "(expect_column_max_to_be_between(rate))")


def _thin_class_metrics(**middle) -> dict:
    """metrics/data_valuation.json of 2 train images of class 'sure' valued and 2 of class 'middle' left undecided,
    whose entry is ``middle``."""
    return {"considered": 2, "left_out": 0, "flagged": 0, "decisions": {"keep": 2, "drop": 0}, "values": {},
            "undecided": {"images": 2, "min_class_val": 2, "classes": {"middle": middle | {"train_images": 2}}}}


# data/degrade: 2 train images of each class, 3 val images of 'sure' and 20 of 'middle' (copies of one picture)
MANIFEST = pd.DataFrame({"id": [f"i{n}" for n in range(27)], "split": ["train"] * 4 + ["val"] * 23,
                         "label": [0, 0, 1, 1] + [0] * 3 + [1] * 20})
DECISIONS = pd.DataFrame({"id": ["i0", "i1"], "decision": ["keep", "keep"]})


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("middle", "problem"), [
    # before: TypeError: can only concatenate str (not "int") to str, a traceback of the report stage
    ({"val_images": "1", "copied_val_images": 19}, 'undecided.classes.middle.val_images is "1", not a count'),
    # before: 25 - 5 made the 20 val images data/degrade holds, and the page read "-5 more left out as copies"
    ({"val_images": 25, "copied_val_images": -5}, "undecided.classes.middle.copied_val_images is -5, not a count"),
    ({"val_images": 1, "copied_val_images": 19.0}, "undecided.classes.middle.copied_val_images is 19.0, not a count"),
], ids=["val-images-text", "copies-negative", "copies-float"])
def test_a_thin_class_val_count_that_is_no_count_stops_the_report_in_one_line(middle, problem):
    with pytest.raises(WinnowError) as raised:
        checked_valuation(_thin_class_metrics(**middle), decisions=DECISIONS, path="metrics/data_valuation.json",
                          stage="data-valuation", manifest=MANIFEST, classes=["sure", "middle"])
    assert str(raised.value) == (f"metrics/data_valuation.json: {problem}; rerun the data-valuation stage (dvc repro "
                                 "data-valuation)")


@pytest.mark.hostile("intermediates")
def test_a_thin_class_val_count_of_counts_adding_up_is_read(tmp_path):
    # the counts the stage writes (each picture once, its other copies apart) pass, and a null is not measured
    for middle in ({"val_images": 1, "copied_val_images": 19}, {"val_images": None}):
        data = _thin_class_metrics(**middle)
        assert checked_valuation(data, decisions=DECISIONS, path="metrics/data_valuation.json",
                                 stage="data-valuation", manifest=MANIFEST, classes=["sure", "middle"]) == data
