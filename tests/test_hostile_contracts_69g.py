"""Hostile suite files, stop 69: a pattern rule that matches every text. Great Expectations searches each value
for the pattern (``str.contains``), so an unanchored ``[0-9a-f]*`` is found, empty, in "NOT-HEX!" too."""

import pytest

from winnow.contracts import load_suite
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
