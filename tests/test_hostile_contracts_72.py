"""Hostile suite files, probe 72:

- ``expectations`` that is no list: a number (``expectations: 5``) stopped the contracts stage in a TypeError traceback,
  and one rule written without its dash (a mapping) was told it "needs `type: expect_...` and a `kwargs` mapping",
  which it had;
- a ``value_set`` (or column_set, type_list) written as a mapping, as ``{7}`` or ``{train, val}`` reads in YAML (keys
  without values): Great Expectations took its keys as text, so ``expect_column_values_to_not_be_in_set`` of ``{7}``
  passed a label column holding 7, and ``{}`` passed on anything;
- a bound written as a boolean or a text: ``max_value: true`` was read as 1 (beside ``min_value: 0`` a rate's rule
  passed on any rate), and ``max_value: '0.05'`` alone was refused as having no finite bound, though one was written;
- a between rule whose min_value is above its max_value (or equal to it with a strict end), which no value meets: it
  was kept and failed on any data, its line "observed 7, bound in [9, 1]" or GX's own complaint as the observed value;
- confident-learn's label issues judged under labels degrade has since changed (its label noise drawn anew, the same
  pixels): the contracts stage counted such an image as judged and no issue, and the variant's contract passed.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under, write_judged
from test_contracts import _run_stage, project  # noqa: F401 - project: the contracts stage's fixture
from winnow.contracts import Batch, load_suite, validate
from winnow.errors import WinnowError

RULE = "name: ingest\nexpectations:\n  - {type: %s, description: the rule, kwargs: {%s}}\n"


@pytest.mark.hostile("intermediates")
def test_expectations_that_are_a_number_stop_the_contracts_stage_in_one_line(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # before: a TypeError traceback ('int' object is not iterable) out of load_suite, status 1 and no line of winnow's
    root = Path(shutil.copytree(project, tmp_path / "project"))
    (root / "contracts/ingest.yaml").write_text("name: ingest\nexpectations: 5\n")
    before = files_under(root)
    with pytest.raises(SystemExit) as stopped:
        _run_stage(root, monkeypatch, variants=("baseline", "pruned"))
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: contracts/ingest.yaml: expectations is 5, not a list; begin each expectation with a dash "
        "(`- type: expect_...`)"]
    assert_nothing_left(root, before, allowed={"params.yaml"})  # the one _run_stage writes


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("text", "kind"), [
    # one rule without its dash: before, "expectation 1 needs `type: expect_...` and a `kwargs` mapping"
    ("name: ingest\nexpectations:\n  type: expect_column_to_exist\n  kwargs: {column: id}\n", "a mapping"),
    ("name: ingest\nexpectations: expect_column_to_exist\n", "a text"),
], ids=["mapping", "text"])
def test_expectations_that_are_no_list_are_told_so(tmp_path, text, kind):
    (tmp_path / "ingest.yaml").write_text(text)
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (f"{tmp_path / 'ingest.yaml'}: expectations is {kind}, not a list; begin each "
                                 "expectation with a dash (`- type: expect_...`)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "kwargs", "key", "listed"), [
    # before: passed a label column holding 7, "0 of 4 rows" unexpected: GX checked against the text '7'
    ("expect_column_values_to_not_be_in_set", "column: label, value_set: {7}", "value_set", "values"),
    # before: passed on anything (an empty list is refused as checking nothing)
    ("expect_column_values_to_not_be_in_set", "column: label, value_set: {}", "value_set", "values"),
    ("expect_column_values_to_be_in_set", "column: split, value_set: {train, val, test}", "value_set", "values"),
    ("expect_table_columns_to_match_set", "column_set: {label, split}", "column_set", "columns"),
], ids=["not-in-number", "not-in-empty", "in-texts", "column-set"])
def test_a_list_written_as_a_mapping_is_refused(tmp_path, kind, kwargs, key, listed):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (
        f"{tmp_path / 'ingest.yaml'}: expectation 1 (the rule): {key} is a mapping, not a list (YAML reads {{a, b}} as "
        f"keys without values, and Great Expectations takes its keys as text); list the {listed} it is about in "
        "square brackets")


@pytest.mark.hostile("intermediates")
def test_the_same_set_written_as_a_list_fails_a_label_column_holding_it(tmp_path):
    # what the refusal above asks for checks what was meant: 7 is in the label column, so the rule fails
    (tmp_path / "ingest.yaml").write_text(RULE % ("expect_column_values_to_not_be_in_set", "column: label, "
                                                  "value_set: [7]"))
    suite = load_suite(tmp_path / "ingest.yaml", parameters={})
    [result] = validate([Batch(suite, "ingest", pd.DataFrame({"label": [0, 1, 7, 2]}))])
    assert (result.success, result.line()) == (
        False, "ingest: the rule: observed 1 of 4 rows, e.g. ['7'], bound in {7} "
               "(expect_column_values_to_not_be_in_set(label))")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    # before: kept, GX read true as 1: a rate's max in [0, 1] passed on any rate
    ("expect_column_max_to_be_between", "column: duplicate_rate, min_value: 0, max_value: true",
     "max_value is true, not a number (Great Expectations reads true as 1 and false as 0, another bound than "
     "written); give a number"),
    # before: kept, GX read true as 1: a table of one row passed it
    ("expect_table_row_count_to_equal", "value: true",
     "value is true, not a number (Great Expectations reads true as 1 and false as 0, another bound than "
     "written); give a number"),
    # before: "has no finite min_value or max_value, so it passes on anything; give a bound", though one was given
    ("expect_column_max_to_be_between", "column: duplicate_rate, max_value: '0.05'",
     "max_value is the text '0.05', not a number; write the number without quotes"),
], ids=["bool-beside-a-number", "bool-count", "text-alone"])
def test_a_bound_written_as_a_boolean_or_a_text_is_refused_by_its_kind(tmp_path, kind, kwargs, message):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == f"{tmp_path / 'ingest.yaml'}: expectation 1 (the rule): {message}"


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    # before: kept, "observed 7, bound in [9, 1]" on any data, warned on every run
    ("expect_column_max_to_be_between", "column: label, min_value: 9, max_value: 1",
     "min_value 9 is above max_value 1, so no value lies between them and it fails on any data; write the smaller "
     "bound as min_value"),
    # before: kept, its observed value GX's "error: min_value cannot be greater than max_value"
    ("expect_column_values_to_be_between", "column: label, min_value: 0.5, max_value: 0.25",
     "min_value 0.5 is above max_value 0.25, so no value lies between them and it fails on any data; write the "
     "smaller bound as min_value"),
    # before: kept, "observed 7, bound in [7, 7)"
    ("expect_column_max_to_be_between", "column: label, min_value: 7, max_value: 7, strict_max: true",
     "min_value and max_value are both 7 and strict_max leaves that value out, so no value lies between them and it "
     "fails on any data; drop strict_max, or widen the range"),
], ids=["max", "values", "equal-strict"])
def test_a_range_no_value_lies_in_is_refused(tmp_path, kind, kwargs, message):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == f"{tmp_path / 'ingest.yaml'}: expectation 1 (the rule): {message}"


@pytest.mark.hostile("intermediates")
def test_a_range_of_one_value_without_a_strict_end_is_kept(tmp_path):
    # min_value = max_value, both ends closed: "= 8", as ingest.yaml's image size rules are written
    (tmp_path / "ingest.yaml").write_text(RULE % ("expect_column_values_to_be_between", "column: height, "
                                                  "min_value: 8, max_value: 8"))
    assert [e["kwargs"] for e in load_suite(tmp_path / "ingest.yaml", parameters={}).expectations] == [
        {"column": "height", "min_value": 8, "max_value": 8}]


@pytest.mark.hostile("intermediates")
def test_label_issues_judged_under_labels_degrade_has_since_changed_stop_the_contracts_stage(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # confident-learn judged i2 under label 1 and called it an issue; degrade's label noise, drawn anew over the same
    # pixels, now labels i2 0, and pruned trains it at 0 (dvc repro -s contracts, confident-learn not rerun). Before:
    # exit 0, i2 counted as judged and no issue (its label is not the one judged, as if relabelled), the label-issue
    # rate 0.0 and pruned's contract passed on a judgement of other labels, where the budget refuses the same file
    root = Path(shutil.copytree(project, tmp_path / "project"))
    issues = pd.read_parquet(root / "data/confident-learn/label_issues.parquet")
    write_judged(root, "data/confident-learn/label_issues.parquet",
                 issues.drop(columns="digest").assign(given_label=issues["given_label"].where(issues["id"] != "i2", 1),
                                                      is_issue=issues["id"] == "i2"))
    before = files_under(root)
    with pytest.raises(SystemExit) as stopped:
        _run_stage(root, monkeypatch, variants=("baseline", "pruned"))
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: data/confident-learn/label_issues.parquet: given_label differs from data/degrade for 1 image(s) "
        "(first: id 'i2', 1 there, 0 in data/degrade): it judged labels that changed since; rerun the confident-learn "
        "stage (dvc repro confident-learn)"]
    assert_nothing_left(root, before, allowed={"params.yaml"})  # the one _run_stage writes
