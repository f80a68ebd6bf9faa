"""Hostile suite files, stop 69: rules that check nothing. Great Expectations searches each value for a pattern
(``str.contains``), so an unanchored ``[0-9a-f]*`` is found, empty, in "NOT-HEX!" too; and it compares a value_set as
written, so the text '7' is never the number 7 a label column holds."""

import pandas as pd
import pytest

from winnow.contract_rules import check_kinds
from winnow.contracts import Batch, Suite, load_suite, validate
from winnow.errors import WinnowError

RULE = "name: ingest\nexpectations:\n  - {type: %s, description: hex digest, kwargs: {%s}}\n"
EVERY_TEXT = (" matches every text (it matches the empty string, and each value is searched for it), so it passes on "
              "anything; anchor it at both ends (^...$) or require a character (+)")


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    # before: each passed a digest column holding "NOT-HEX!", "zz" and "", "0 of 4 rows" unexpected, under enforce too
    ("expect_column_values_to_match_regex", "column: digest, regex: '[0-9a-f]*'", "regex '[0-9a-f]*'"),
    ("expect_column_values_to_match_regex", "column: digest, regex: '^[0-9a-f]*'", "regex '^[0-9a-f]*'"),
    ("expect_column_values_to_match_regex", "column: digest, regex: ''", "regex ''"),
    # one pattern of the list is enough under match_on any, Great Expectations' default
    ("expect_column_values_to_match_regex_list", "column: digest, regex_list: ['^[0-9a-f]{16}$', 'x?']",
     "regex_list 'x?'"),
], ids=["unanchored-star", "start-anchored-star", "empty", "list-any"])
def test_a_pattern_that_matches_every_text_is_refused(tmp_path, kind, kwargs, message):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (f"{tmp_path / 'ingest.yaml'}: expectation 1 (hex digest): {message}{EVERY_TEXT}")


@pytest.mark.hostile("params")
def test_a_pattern_anchored_at_both_ends_or_one_of_a_list_every_value_must_match_is_kept(tmp_path):
    # "^[0-9a-f]*$" matches the empty string but not "NOT-HEX!"; under match_on all each value must match every
    # pattern of the list, so 'x?' beside the anchored one leaves the rule checking
    (tmp_path / "ingest.yaml").write_text(
        "name: ingest\nexpectations:\n"
        "  - {type: expect_column_values_to_match_regex, kwargs: {column: digest, regex: '^[0-9a-f]*$'}}\n"
        "  - {type: expect_column_values_to_match_regex_list, kwargs: {column: digest, regex_list: "
        "['^[0-9a-f]{16}$', 'x?'], match_on: all}}\n")
    assert [e["kwargs"] for e in load_suite(tmp_path / "ingest.yaml", parameters={}).expectations] == [
        {"column": "digest", "regex": "^[0-9a-f]*$"},
        {"column": "digest", "regex_list": ["^[0-9a-f]{16}$", "x?"], "match_on": "all"}]


LABEL = " (a label is its class's index in classes.json)"


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    # before: passed a table holding label 7 ("0 of 4 rows" unexpected): '7' is MNIST's class name, label its index
    ("expect_column_values_to_not_be_in_set", "column: label, value_set: ['7']",
     "value_set ['7'] holds text, but column 'label' of the ingest table holds numbers, so no value is in the set"
     + LABEL + "; write the values as the column holds them"),
    ("expect_column_values_to_not_be_in_set", "column: split, value_set: [1]",
     "value_set [1] holds numbers, but column 'split' of the ingest table holds text, so no value is in the set; "
     "write the values as the column holds them"),
    # "no image of class 7": before, the condition selected no row, counted 0, a pass beside two rows of label 7
    ("expect_table_row_count_to_equal", "value: 0, row_condition: 'label==\"7\"', condition_parser: pandas",
     "row_condition 'label==\"7\"' compares column 'label', which holds numbers in the ingest table, with the text "
     "'7', so it selects no row by it" + LABEL + "; write the value as the column holds it"),
    ("expect_table_row_count_to_equal", "value: 0, row_condition: 'col(\"label\") in [\"7\", \"8\"]', "
     "condition_parser: great_expectations",
     "row_condition 'col(\"label\") in [\"7\", \"8\"]' compares column 'label', which holds numbers in the ingest "
     "table, with the text '7', so it selects no row by it" + LABEL + "; write the value as the column holds it"),
], ids=["class-name-for-label", "number-for-split", "class-name-in-condition", "class-names-in-gx-condition"])
def test_a_value_of_another_kind_than_its_column_is_refused_before_any_check(tmp_path, kind, kwargs, message):
    (tmp_path / "ingest.yaml").write_text(RULE.replace("hex digest", "not this value") % (kind, kwargs))
    frame = pd.DataFrame({"label": [0, 1, 7, 7], "split": ["train", "test", "val", "train"]})
    with pytest.raises(WinnowError) as raised:
        validate([Batch(load_suite(tmp_path / "ingest.yaml", parameters={}), "ingest", frame)])
    assert str(raised.value) == f"{tmp_path / 'ingest.yaml'}: expectation 1 (not this value): {message}"


@pytest.mark.hostile("params")
def test_a_value_set_or_condition_holding_values_of_its_column_s_kind_is_kept():
    # a number among the names ('7', 7) can be in the set; a null or a bool says nothing of the kind; a backticked
    # name is left to Great Expectations
    suite = Suite(name="ingest", path="ingest.yaml", left_out=[], expectations=[
        {"type": "expect_column_values_to_not_be_in_set", "description": "d", "kwargs": {"column": c, "value_set": v}}
        for c, v in (("label", ["7", 7]), ("split", ["test"]), ("label", [None]), ("channels", [1, 3]))] + [
        {"type": "expect_table_row_count_to_equal", "description": "d", "kwargs": {"value": 0, "row_condition": c}}
        for c in ('split=="train" and label==7', "`label`==7", "label == True")])
    frame = pd.DataFrame({"label": [0, 7], "split": ["train", "test"], "channels": [1, 1]})
    assert check_kinds(suite, table="ingest", frame=frame) is None
