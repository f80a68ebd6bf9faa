"""Hostile contracts, probe 70:

- a count of the whole table bounded only at 0 or below (a row count of at least 0, or of at least 0 below infinity; a
  column count of at least -3), which an empty table passes, is refused when the suite is read; a strict minimum, a
  maximum, a row_condition (the count then fails when it selects no row) or a column's rule is kept;
- a fraction where Great Expectations reads a whole number (a row count to equal 2.5, a row count or value length of
  at least 2.5), which it cut to the whole number below without a word, is refused; a whole float (3.0) is kept.
"""

import pytest

from winnow.contracts import load_suite
from winnow.errors import WinnowError

RULE = "name: ingest\nexpectations:\n  - {type: %s, description: some rows, kwargs: {%s}}\n"


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    # before: kept, and "observed 0, bound >= 0" passed an ingest table of no rows, under enforce too
    ("expect_table_row_count_to_be_between", "min_value: 0",
     "min_value 0 bounds nothing: a row count is never below 0"),
    # an infinite max_value is an open end (kept beside a finite minimum), so it bounds nothing either
    ("expect_table_row_count_to_be_between", "min_value: 0, max_value: .inf",
     "min_value 0 and max_value inf bound nothing: a row count is never below 0"),
    ("expect_table_column_count_to_be_between", "min_value: -3",
     "min_value -3 bounds nothing: a column count is never below 0"),
], ids=["row-count-0", "row-count-to-inf", "column-count-negative"])
def test_a_count_of_the_table_bounded_at_0_or_below_alone_is_refused(tmp_path, kind, kwargs, message):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (f"{tmp_path / 'ingest.yaml'}: expectation 1 (some rows): {message}, so it passes on "
                                 "anything, an empty table too; give a min_value above 0 (or strict_min: true)")


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
