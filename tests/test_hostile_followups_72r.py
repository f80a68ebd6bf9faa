"""Review of the 72r mends (second order): the inputs next to the ones they handled.

- a contract rule expect_column_values_to_match_regex_list with ``match_on: all`` whose every pattern matches every
  text (``["[0-9a-f]*"]``): the every-text check was skipped for match_on all, where each pattern must be found, so
  the rule passed "NOT-HEX!"; now refused as match_on any is (a pattern that matches every text beside one that does
  not is still kept: the other one checks);
- an equal rule's bound written as a boolean (expect_column_value_lengths_to_equal ``value: true``,
  expect_multicolumn_sum_to_equal ``sum_total: true``): 05579616 refused threshold and column_index so written, not
  these, which Great Expectations read as 1 (ids of one character, rows summing to 1, passed); now refused as the
  others are;
- a degrade long tail whose place past its head rounds to keeping its whole class, the share printed in three digits:
  ratio 1.001 gave dog's 0.9995 as "keeps 1 of its 100 train images, which rounds to keeping all 100"; now as many
  digits as tell it from 1.
"""

from __future__ import annotations

import pandas as pd
import pytest

from test_hostile_degrade_72 import CLASSES, imageset
from winnow.contracts import Batch, load_suite, validate
from winnow.degrade import degrade
from winnow.errors import WinnowError

RULE = "name: ingest\nexpectations:\n  - {type: %s, description: the rule, kwargs: {%s}}\n"


def refused_suite(folder, kind: str, kwargs: str) -> str:
    """The line load_suite refuses a suite of the one rule ``kind`` of ``kwargs`` with (a file under ``folder``)."""
    (folder / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as refused:
        load_suite(folder / "ingest.yaml", parameters={})
    return str(refused.value)


@pytest.mark.hostile("intermediates")
def test_a_regex_list_matching_every_text_under_match_on_all_is_refused(tmp_path):
    # before: kept, and the rule passed a column holding "NOT-HEX!" (each value must be found to hold every pattern,
    # and the one pattern is found in every text)
    assert refused_suite(tmp_path, "expect_column_values_to_match_regex_list",
                         'column: id, regex_list: ["[0-9a-f]*"], match_on: all') == (
        f"{tmp_path / 'ingest.yaml'}: expectation 1 (the rule): regex_list '[0-9a-f]*' matches every text (it matches "
        "the empty string, and each value is searched for it), so it passes on anything; anchor it at both ends (^...$) "
        "or require a character (+)")


@pytest.mark.hostile("intermediates")
def test_a_pattern_matching_every_text_beside_one_that_checks_under_match_on_all_is_kept(tmp_path):
    # no false alarm: under match_on all the second pattern must be found too, and "NOT-HEX!" fails it
    (tmp_path / "ingest.yaml").write_text(RULE % ("expect_column_values_to_match_regex_list",
                                                  'column: id, regex_list: ["[0-9a-f]*", "^[0-9a-f]+$"], match_on: all'))
    suite = load_suite(tmp_path / "ingest.yaml", parameters={})
    results = validate([Batch(suite, "ingest", pd.DataFrame({"id": ["abc", "NOT-HEX!"]}))])
    assert [result.success for result in results] == [False]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "kwargs", "option"), [
    # before: kept, GX read true as 1: a column of ids of one character passed
    ("expect_column_value_lengths_to_equal", "column: id, value: true", "value"),
    # before: kept, GX read true as 1: rows whose a and b summed to 1 passed
    ("expect_multicolumn_sum_to_equal", "column_list: [a, b], sum_total: true", "sum_total"),
], ids=["value-lengths", "multicolumn-sum"])
def test_an_equal_rules_bound_written_as_a_boolean_is_refused(tmp_path, kind, kwargs, option):
    assert refused_suite(tmp_path, kind, kwargs) == (
        f"{tmp_path / 'ingest.yaml'}: expectation 1 (the rule): {option} is true, not a number (Great Expectations "
        "reads true as 1 and false as 0, another bound than written); give a number")


@pytest.mark.hostile("intermediates")
def test_an_equal_rules_bound_written_as_a_number_is_kept_and_checked(tmp_path):
    # no false alarm: value 1 and sum_total 1 load, and hold of ids of one character and rows summing to 1
    (tmp_path / "ingest.yaml").write_text(
        "name: ingest\nexpectations:\n"
        "  - {type: expect_column_value_lengths_to_equal, description: one character, kwargs: {column: id, value: 1}}\n"
        "  - {type: expect_multicolumn_sum_to_equal, description: one in all, "
        "kwargs: {column_list: [a, b], sum_total: 1}}\n")
    suite = load_suite(tmp_path / "ingest.yaml", parameters={})
    results = validate([Batch(suite, "ingest", pd.DataFrame({"id": ["x", "y"], "a": [1, 0], "b": [0, 1]}))])
    assert [result.success for result in results] == [True, True]


@pytest.mark.hostile("intermediates")
def test_a_long_tail_share_next_to_1_is_not_printed_as_1(capsys):
    # ratio 1.001 over cat 100, dog 100, owl 1000: dog's place keeps 1.001 ** -0.5 = 0.99950..., 99.95 images, rounded
    # to all 100; owl keeps 1000 / 1.001, 999. Before: "its place in the tail keeps 1 of its 100 train images, which
    # rounds to keeping all 100", a share that reads as one image
    source = imageset([100, 100, 1000])
    _, log = degrade(source, perturbations=[{"kind": "class_subsample", "imbalance_ratio": 1.001}], seed=0)
    labels = dict(zip(source.manifest["id"], source.manifest["label"]))
    assert log["id"].map(labels).map(CLASSES.__getitem__).value_counts().to_dict() == {"owl": 1}
    assert capsys.readouterr().out.splitlines() == [
        "warning: degrade.perturbations[0] (class_subsample) took no image of class 'dog': its place in the tail keeps "
        "0.9995 of its 100 train images, which rounds to keeping all 100; change imbalance_ratio, or leave 'dog' out "
        "of classes"]
