"""Hostile contracts, probe 70:

- a count of the whole table bounded only at 0 or below (a row count of at least 0, or of at least 0 below infinity; a
  column count of at least -3), which an empty table passes, is refused when the suite is read; a strict minimum, a
  maximum, a row_condition (the count then fails when it selects no row) or a column's rule is kept;
- a fraction where Great Expectations reads a whole number (a row count to equal 2.5, a row count or value length of
  at least 2.5), which it cut to the whole number below without a word, is refused; a whole float (3.0) is kept;
- a failure line of a rule with strict_max or strict_min names the bound it failed (``< 0.01``, ``in (0.2, 1]``), where it
  read "observed 0.01, bound <= 0.01", as if it had passed;
- the report refuses a variant's contract verdict checked on other rows than its rows.parquet holds now (the variants
  stage rerun alone), naming the stage that checks it, and reads one of the rows there;
- data-valuation's metrics of a thin class whose val images repeat one picture (dedup's groups) are read by the
  report as the stage wrote them, the copies counted apart, and an edited count is still refused.
"""

import html
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from budget_project import Case, case, planted_fixes_then_mistakes, write_state
from winnow.contract_verdict import rows_fingerprint
from winnow.contracts import Batch, load_suite, validate
from winnow.errors import WinnowError
from winnow.imageset import read_imageset
from winnow.report_recounts import checked_contract_rows, checked_valuation
from winnow.report_valuation import valuation_section
from winnow.stage import write_table

RULE = "name: ingest\nexpectations:\n  - {type: %s, description: some rows, kwargs: {%s}}\n"


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "kwargs", "message", "advice"), [
    # before: kept, and "observed 0, bound >= 0" passed an ingest table of no rows, under enforce too
    ("expect_table_row_count_to_be_between", "min_value: 0",
     "min_value 0 bounds nothing: a row count is never below 0", "give a min_value above 0 (or strict_min: true)"),
    # an infinite max_value is an open end (kept beside a finite minimum), so it bounds nothing either
    ("expect_table_row_count_to_be_between", "min_value: 0, max_value: .inf",
     "min_value 0 and max_value inf bound nothing: a row count is never below 0",
     "give a min_value above 0 (or strict_min: true)"),
    # below 0 strict_min is no way out (a count above -3 is any count): found in review, it was advised
    ("expect_table_column_count_to_be_between", "min_value: -3",
     "min_value -3 bounds nothing: a column count is never below 0", "give a min_value above 0"),
], ids=["row-count-0", "row-count-to-inf", "column-count-negative"])
def test_a_count_of_the_table_bounded_at_0_or_below_alone_is_refused(tmp_path, kind, kwargs, message, advice):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (f"{tmp_path / 'ingest.yaml'}: expectation 1 (some rows): {message}, so it passes on "
                                 f"anything, an empty table too; {advice}")


@pytest.mark.hostile("intermediates")
def test_a_count_that_an_empty_table_or_a_row_condition_can_fail_is_kept(tmp_path):
    # strict_min excludes 0 ("more than 0 rows"); a max_value bounds the other side; under a row_condition a count
    # allowing some rows fails when the condition selects none; a column's proportion of unique values fails where
    # no value is examined
    (tmp_path / "ingest.yaml").write_text(
        "name: ingest\nexpectations:\n"
        "  - {type: expect_table_row_count_to_be_between, kwargs: {min_value: 0, strict_min: true}}\n"
        "  - {type: expect_table_row_count_to_be_between, kwargs: {min_value: 0, max_value: 100}}\n"
        "  - {type: expect_table_row_count_to_be_between, kwargs: {min_value: 0, row_condition: 'label==3', "
        "condition_parser: pandas}}\n"
        "  - {type: expect_column_proportion_of_unique_values_to_be_between, kwargs: {column: id, max_value: 1}}\n")
    assert [e["kwargs"] for e in load_suite(tmp_path / "ingest.yaml", parameters={}).expectations] == [
        {"min_value": 0, "strict_min": True}, {"min_value": 0, "max_value": 100},
        {"min_value": 0, "row_condition": "label==3", "condition_parser": "pandas"},
        {"column": "id", "max_value": 1}]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "kwargs", "option", "value", "read"), [
    # before: kept, and "observed 2, bound = 2" passed a table of 2 rows, which no count of 2.5 equals
    ("expect_table_row_count_to_equal", "value: 2.5", "value", "2.5", 2),
    # before: "bound >= 2" passed a table of 2 rows where at least 2.5 asks for 3
    ("expect_table_row_count_to_be_between", "min_value: 2.5", "min_value", "2.5", 2),
    ("expect_column_unique_value_count_to_be_between", "column: id, max_value: 3.9", "max_value", "3.9", 3),
    ("expect_column_value_lengths_to_be_between", "column: id, min_value: 1.5", "min_value", "1.5", 1),
], ids=["row-count-equal", "row-count-min", "distinct-count-max", "length-min"])
def test_a_fraction_where_great_expectations_reads_a_whole_number_is_refused(tmp_path, kind, kwargs, option, value,
                                                                             read):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (f"{tmp_path / 'ingest.yaml'}: expectation 1 (some rows): {option} is {value}, not a "
                                 f"whole number, and Great Expectations reads it as {read} (it counts), another bound "
                                 "than written; give a whole number")


@pytest.mark.hostile("intermediates")
def test_a_whole_number_written_as_a_float_is_kept(tmp_path):
    (tmp_path / "ingest.yaml").write_text(RULE % ("expect_table_row_count_to_equal", "value: 3.0"))
    assert [e["kwargs"] for e in load_suite(tmp_path / "ingest.yaml", parameters={}).expectations] == [{"value": 3}]


@pytest.mark.hostile("intermediates")
def test_a_failure_line_of_a_strict_bound_names_the_bound_it_failed(tmp_path):
    # before: "observed 0.01, bound <= 0.01" and "observed 0.2, bound in [0.2, 1]": failure lines (printed, in
    # metrics/contracts/<v>.json and the report's Failed rules) that read as passes
    (tmp_path / "variant.yaml").write_text(
        "name: variant\nexpectations:\n"
        "  - {type: expect_column_max_to_be_between, description: duplicate rate, kwargs: {column: duplicate_rate, "
        "max_value: 0.01, strict_max: true}}\n"
        "  - {type: expect_column_min_to_be_between, description: class balance, kwargs: {column: class_balance, "
        "min_value: 0.2, max_value: 1, strict_min: true}}\n"
        "  - {type: expect_column_min_to_be_between, description: completeness, kwargs: {column: completeness, "
        "min_value: 0.99, strict_min: true}}\n")
    suite = load_suite(tmp_path / "variant.yaml", parameters={})
    frame = pd.DataFrame({"duplicate_rate": [0.01], "class_balance": [0.2], "completeness": [0.99]})
    assert sorted(r.line() for r in validate([Batch(suite, "pruned", frame)])) == [
        "variant[pruned]: class balance: observed 0.2, bound in (0.2, 1] (expect_column_min_to_be_between(class_balance))",
        "variant[pruned]: completeness: observed 0.99, bound > 0.99 (expect_column_min_to_be_between(completeness))",
        "variant[pruned]: duplicate rate: observed 0.01, bound < 0.01 (expect_column_max_to_be_between(duplicate_rate))"]


def _rows(labels):
    return pd.DataFrame({"id": [f"train-{i}" for i in range(len(labels))], "origin": "degrade", "label": labels,
                         "action": "keep", "stage": ""})


@pytest.mark.hostile("intermediates")
def test_the_report_refuses_a_verdict_of_other_rows_than_the_variant_holds_now():
    # before: after `dvc repro -s variants` relabelled an image of pruned, `dvc repro -s report` showed the earlier rows'
    # rates, kept images and failed rules as pruned's, and weighed its "failed 0 check(s)" in the verdict sentence
    checked = _rows([0, 1, 1, 0])
    verdict = {"variant": "pruned", "passed": 5, "failed": 0, "failures": [], "kept_images": 4,
               "rows": rows_fingerprint(checked)}
    assert checked_contract_rows(verdict, rows=checked.copy(), variant="pruned", path="metrics/contracts/pruned.json",
                                 stage="contracts") == verdict
    with pytest.raises(WinnowError) as raised:
        checked_contract_rows(verdict, rows=_rows([0, 1, 0, 0]), variant="pruned", path="metrics/contracts/pruned.json",
                              stage="contracts")
    assert str(raised.value) == ("metrics/contracts/pruned.json: a verdict of other rows than "
                                 "data/variants/pruned/rows.parquet holds now (written after the check); rerun the "
                                 "contracts stage (dvc repro contracts)")
    # a variant whose rows were never written, or a stand-in verdict of one nobody trains, is left as it is
    assert checked_contract_rows(verdict, rows=None, variant="pruned", path="metrics/contracts/pruned.json",
                                 stage="contracts") == verdict
    skipped = {"skipped": "balanced is not in params.yaml variants"}
    assert checked_contract_rows(skipped, rows=checked, variant="balanced", path="metrics/contracts/balanced.json",
                                 stage="balance") == skipped


def _valuation_stage():
    spec = importlib.util.spec_from_file_location(
        "data_valuation_stage", Path(__file__).resolve().parents[1] / "stages/data_valuation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _thin_class_of_one_picture(root: Path) -> Path:
    """Two clouds of 30 train images, three val pictures of class 0 and one of class 1 ('middle'), each 20 times
    over, dedup grouping each picture's copies: class 1 holds 20 val images of one picture."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(30, 2)) - 2, rng.normal(size=(30, 2)) + 2]).astype(np.float32)
    y = np.repeat([0, 1], 30)
    pictures = np.concatenate([rng.normal(size=(3, 2)) - 2, rng.normal(size=(1, 2)) + 2]).astype(np.float32)
    val_x, val_y = np.repeat(pictures, 20, axis=0), np.repeat([0, 0, 0, 1], 20)
    c = Case(train_x=x, true=y, given=y, planted=np.zeros(0, np.int64), val_x=val_x, val_y=val_y, noisy_val_y=val_y,
             trusted_x=x[:0], trusted_y=y[:0], test_x=x[:4], test_y=y[:4])
    project = write_state(root, c, issues=planted_fixes_then_mistakes(case())[:0], trusted=False,
                          params={"pruned": {"cleaners": ["threshold", "dedup", "data_valuation"]}})
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    val = (groups["split"] == "val").to_numpy()
    groups.loc[val, "group"] = 10_000 + np.arange(val.sum()) // 20
    groups.loc[val, "group_size"], groups.loc[val, "reason"] = 20, "eval_copy"
    write_table(project / "data/dedup/groups.parquet", groups)
    return project


@pytest.mark.hostile("intermediates")
def test_the_report_reads_a_thin_class_whose_val_images_repeat_one_picture_as_the_stage_wrote_it(
        tmp_path, monkeypatch, capsys):
    # before: the stage wrote "val_images": 1 (the class's pictures) and the report's recount set it against the 20 val
    # images data/degrade holds: "metrics/data_valuation.json: undecided.classes.middle.val_images is 1, but
    # data/degrade holds 20: the two are from different runs, or edited; rerun the data-valuation stage", which a
    # rerun wrote again, so the report stage stopped on every run of such a val split
    project = _thin_class_of_one_picture(tmp_path)
    monkeypatch.chdir(project)
    _valuation_stage().main()
    capsys.readouterr()
    data = json.loads(Path("metrics/data_valuation.json").read_text())
    decisions = pd.read_parquet("data/data-valuation/decisions.parquet")
    degraded = read_imageset("data/degrade")
    assert data["undecided"]["classes"] == {"middle": {"val_images": 1, "copied_val_images": 19, "train_images": 30}}
    checked = checked_valuation(data, decisions=decisions, path="metrics/data_valuation.json", stage="data-valuation",
                                manifest=degraded.manifest, classes=degraded.classes)
    page = valuation_section(decisions=decisions, summary=checked, imageset=degraded, count=4, cleaning=True,
                             applied=0)
    assert html.escape("30: middle (1 val image(s), 19 more left out as copies of a picture)") in page
    data["undecided"]["classes"]["middle"]["val_images"] = 2  # an edit: still told apart from the stage's count
    with pytest.raises(WinnowError) as raised:
        checked_valuation(data, decisions=decisions, path="metrics/data_valuation.json", stage="data-valuation",
                          manifest=degraded.manifest, classes=degraded.classes)
    assert str(raised.value) == (
        "metrics/data_valuation.json: undecided.classes.middle.val_images is 2 and copied_val_images 19, but "
        "data/degrade holds 20: the two are from different runs, or edited; rerun the data-valuation stage (dvc repro "
        "data-valuation)")
