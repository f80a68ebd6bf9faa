"""Hostile suite files, stop 69 review: the refusals of 8cabcf40 and eb7e3571 must not refuse a rule that checks
something. A pattern that matches the empty string yet fails on some text (no slash, at most 64 characters, no
"..") is such a rule; so is a row_condition joining comparisons by & or |, which pandas' query reads as and / or."""

import pandas as pd
import pytest

from winnow.contract_rules import check_kinds
from winnow.contracts import Suite, load_suite
from winnow.errors import WinnowError

SUITE = "name: ingest\nexpectations:\n" + "".join(
    "  - {type: expect_column_values_to_match_regex, kwargs: {column: path, regex: '%s'}}\n" % pattern
    for pattern in ("^[^/]*$", "^.{0,64}$", "^(?!.*[.][.])", "^.*$", "^([^/]+)*$"))


@pytest.mark.hostile("params")
def test_a_pattern_matching_the_empty_string_that_a_text_fails_is_kept(tmp_path):
    # before: each was refused as one that "matches every text", though "a/b", 65 characters, "a..b" and "a\nb" (one
    # line) fail them; and "^([^/]+)*$" (no slash either), tried on a long text holding a slash, never returned
    (tmp_path / "ingest.yaml").write_text(SUITE)
    assert [e["kwargs"]["regex"] for e in load_suite(tmp_path / "ingest.yaml", parameters={}).expectations] == [
        "^[^/]*$", "^.{0,64}$", "^(?!.*[.][.])", "^.*$", "^([^/]+)*$"]


@pytest.mark.hostile("params")
def test_a_row_condition_joined_by_ampersand_or_bar_pairs_each_column_with_its_own_value():
    # pandas' query gives & and | the precedence of and / or: 'label == 7 & split == "train"' selects the train images
    # of class 7. Before: Python's precedence read it as one chain, label == (7 & split) == "train", and the rule was
    # refused as comparing label with the text "train"
    suite = Suite(name="ingest", path="ingest.yaml", left_out=[], expectations=[
        {"type": "expect_table_row_count_to_equal", "description": "d", "kwargs": {"value": 0, "row_condition": c}}
        for c in ('label == 7 & split == "train"', 'split == "val" | label == 7', '(label > 3) & (split != "a&b")')])
    frame = pd.DataFrame({"label": [0, 7], "split": ["train", "test"]})
    assert check_kinds(suite, table="ingest", frame=frame) is None


@pytest.mark.hostile("params")
def test_a_text_joined_by_ampersand_to_a_comparison_of_label_is_still_refused():
    suite = Suite(name="ingest", path="ingest.yaml", left_out=[], expectations=[
        {"type": "expect_table_row_count_to_equal", "description": "d",
         "kwargs": {"value": 0, "row_condition": 'split == "train" & label == "7"'}}])
    with pytest.raises(WinnowError) as raised:
        check_kinds(suite, table="ingest", frame=pd.DataFrame({"label": [0, 7], "split": ["train", "test"]}))
    assert str(raised.value) == (
        "ingest.yaml: expectation 1 (d): row_condition 'split == \"train\" & label == \"7\"' compares column 'label', "
        "which holds numbers in the ingest table, with the text '7', so it selects no row by it (a label is its "
        "class's index in classes.json); write the value as the column holds it")


@pytest.mark.hostile("params")
def test_a_row_condition_listing_one_value_of_its_column_s_kind_is_kept_as_a_value_set_is():
    # 'label in [7, "7"]' selects the images of class 7, as value_set [7, '7'] holds 7 (kept since 3c503123). Before:
    # refused for its text '7'. A list of texts alone is still refused (test_hostile_contracts_69g)
    suite = Suite(name="ingest", path="ingest.yaml", left_out=[], expectations=[
        {"type": "expect_table_row_count_to_equal", "description": "d", "kwargs": {"value": 0, "row_condition": c}}
        for c in ('label in [7, "7"]', 'col("label") in ["7", None]')])
    assert check_kinds(suite, table="ingest", frame=pd.DataFrame({"label": [0, 7]})) is None


@pytest.mark.hostile("params")
def test_a_length_cap_is_kept_and_read_at_once_and_an_unanchored_count_still_refused(tmp_path):
    # '(?s)^.{0,4096}$' (at most 4096 characters) fails on a longer text, and '(?s)^(?:.{1,8}){0,10}$' (at most 80)
    # too. Before: the first was refused as matching every text (the longest probe, 1000 NULs, is within it), and the
    # second, tried on those 1000 NULs, backtracked through 8**10 splits: reading the suite never returned
    (tmp_path / "ingest.yaml").write_text("name: ingest\nexpectations:\n" + "".join(
        "  - {type: expect_column_values_to_match_regex, kwargs: {column: path, regex: '%s'}}\n" % pattern
        for pattern in ("(?s)^.{0,4096}$", "(?s)^(?:.{1,8}){0,10}$")))
    assert [e["kwargs"]["regex"] for e in load_suite(tmp_path / "ingest.yaml", parameters={}).expectations] == [
        "(?s)^.{0,4096}$", "(?s)^(?:.{1,8}){0,10}$"]
    # unanchored, a count bounds nothing: '[0-9a-f]{0,8}' is found (empty) in every text
    (tmp_path / "ingest.yaml").write_text("name: ingest\nexpectations:\n  - {type: expect_column_values_to_match_regex, "
                                          "kwargs: {column: path, regex: '[0-9a-f]{0,8}'}}\n")
    with pytest.raises(WinnowError, match=r"regex '\[0-9a-f\]\{0,8\}' matches every text"):
        load_suite(tmp_path / "ingest.yaml", parameters={})


@pytest.mark.hostile("params")
def test_a_row_condition_leaving_out_a_text_from_label_says_it_leaves_out_no_row():
    # 'label not in ["7"]' (all but class 7) keeps every row, class 7's too: label holds the class's index. It is
    # refused, as '==' is; before, the line said the condition "selects no row by it", the opposite of what it does
    suite = Suite(name="ingest", path="ingest.yaml", left_out=[], expectations=[
        {"type": "expect_column_values_to_be_between", "description": "d",
         "kwargs": {"column": "width", "min_value": 28, "row_condition": 'label not in ["7"]'}}])
    with pytest.raises(WinnowError) as raised:
        check_kinds(suite, table="ingest", frame=pd.DataFrame({"label": [0, 7], "width": [28, 20]}))
    assert str(raised.value) == (
        "ingest.yaml: expectation 1 (d): row_condition 'label not in [\"7\"]' compares column 'label', which holds "
        "numbers in the ingest table, with the text '7', so it leaves out no row by it (a label is its class's index "
        "in classes.json); write the value as the column holds it")


@pytest.mark.hostile("params")
def test_a_row_condition_naming_label_between_backticks_is_refused_as_label_is():
    # pandas' query reads `label` as label: '`label` == "7"' selects no row (label holds the class's index), and a
    # row count of 0 under it passed. Before, Python's parser refused the backtick and the condition went unchecked;
    # a backtick inside a quoted text is no name, so split == "a`b`" compares split with that text and is kept
    suite = Suite(name="ingest", path="ingest.yaml", left_out=[], expectations=[
        {"type": "expect_table_row_count_to_equal", "description": "d",
         "kwargs": {"value": 0, "row_condition": 'split == "a`b`" | `label` == "7"'}}])
    with pytest.raises(WinnowError) as raised:
        check_kinds(suite, table="ingest", frame=pd.DataFrame({"label": [0, 7], "split": ["train", "test"]}))
    assert str(raised.value) == (
        "ingest.yaml: expectation 1 (d): row_condition 'split == \"a`b`\" | `label` == \"7\"' compares column "
        "'label', which holds numbers in the ingest table, with the text '7', so it selects no row by it (a label is "
        "its class's index in classes.json); write the value as the column holds it")
