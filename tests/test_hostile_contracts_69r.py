"""Hostile suite files, stop 69 review: the refusals of 8cabcf40 and eb7e3571 must not refuse a rule that checks
something. A pattern that matches the empty string yet fails on some text (no slash, at most 64 characters, no
"..") is such a rule."""

import pytest

from winnow.contracts import load_suite

SUITE = "name: ingest\nexpectations:\n" + "".join(
    "  - {type: expect_column_values_to_match_regex, kwargs: {column: path, regex: '%s'}}\n" % pattern
    for pattern in ("^[^/]*$", "^.{0,64}$", "^(?!.*[.][.])"))


@pytest.mark.hostile("params")
def test_a_pattern_matching_the_empty_string_that_a_text_fails_is_kept(tmp_path):
    # before: each was refused as one that "matches every text", though "a/b", 65 characters and "a..b" fail them
    (tmp_path / "ingest.yaml").write_text(SUITE)
    assert [e["kwargs"]["regex"] for e in load_suite(tmp_path / "ingest.yaml", parameters={}).expectations] == [
        "^[^/]*$", "^.{0,64}$", "^(?!.*[.][.])"]
