"""Review of stop 72's mends (remote reads, .npz and CIFAR-10 sources, contract suites): inputs next to the ones mended.

- an .npz of 0 bytes (a download or copy that failed before its first byte): the mend told an .npz cut short apart
  from junk by its first member's header, but an empty one was still "not an .npz archive (no zip file and no .npy
  array)" and shown the layouts, which fix nothing; now told it is empty and to copy or write it again;
- a ``regex_list`` written as a mapping (``{"[0-9a-f]*"}``, YAML's keys without values): the mend refused a
  value_set, column_set or type_list so written, not a regex_list, which the every-text check did not read as a
  list of patterns, so a pattern matching every text passed "NOT-HEX!"; now refused as the others are;
- a ``threshold`` or a ``column_index`` written as a boolean: the mend refused ``true`` for min_value, max_value and a
  count's value only; Great Expectations read ``threshold: true`` as 1 (a KL divergence of 0.37 passed its rule) and
  ``column_index: true`` as the index 1; now refused, a number there still kept.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from test_hostile_sources_70 import refused_ingest
from winnow.contracts import Batch, load_suite, validate
from winnow.errors import WinnowError

RULE = "name: ingest\nexpectations:\n  - {type: %s, description: the rule, kwargs: {%s}}\n"


@pytest.mark.hostile("npz")
def test_an_empty_npz_is_told_it_is_empty_not_shown_the_layouts(tmp_path, monkeypatch):
    # before: "…/set.npz: not an .npz archive (no zip file and no .npy array); an .npz holds 'images' + 'labels' …",
    # of a download that failed before its first byte: no layout fixes it
    (tmp_path / "set.npz").write_bytes(b"")
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: is empty (0 bytes), as a download or copy that failed leaves it; copy or write it "
        "again")


@pytest.mark.hostile("npz")
def test_an_npz_holding_bytes_is_not_called_empty(tmp_path, monkeypatch):
    # the refusal above is of 0 bytes alone: a whole .npz cut short to its first 10 bytes is still told it is no zip
    whole = io.BytesIO()
    np.savez(whole, images=np.zeros((2, 8, 8), np.uint8), labels=np.arange(2))
    (tmp_path / "set.npz").write_bytes(whole.getvalue()[:10])
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: not an .npz archive (no zip file and no .npy array); an .npz holds 'images' + "
        "'labels' (optional 'splits', 'index', 'classes') or, per split train/val/test, '<split>_images' + "
        "'<split>_labels' (optional '<split>_index', 'classes')")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("kind", ["expect_column_values_to_match_regex_list",
                                  "expect_column_values_to_not_match_regex_list"])
def test_a_regex_list_written_as_a_mapping_is_refused(tmp_path, kind):
    # before: kept; expect_column_values_to_match_regex_list of {"[0-9a-f]*"} passed a column holding "NOT-HEX!",
    # "0 of 2 rows" unexpected: the every-text check read the mapping as one pattern, not a list of them
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, 'column: id, regex_list: {"[0-9a-f]*"}'))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (
        f"{tmp_path / 'ingest.yaml'}: expectation 1 (the rule): regex_list is a mapping, not a list (YAML reads {{a, b}} "
        "as keys without values, and Great Expectations takes its keys as text); list the patterns it is about in "
        "square brackets")


@pytest.mark.hostile("intermediates")
def test_the_same_regex_list_written_as_a_list_is_refused_as_matching_every_text(tmp_path):
    # what the refusal above asks for reaches the check it bypassed
    (tmp_path / "ingest.yaml").write_text(RULE % ("expect_column_values_to_match_regex_list",
                                                  'column: id, regex_list: ["[0-9a-f]*"]'))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == (
        f"{tmp_path / 'ingest.yaml'}: expectation 1 (the rule): regex_list '[0-9a-f]*' matches every text (it matches "
        "the empty string, and each value is searched for it), so it passes on anything; anchor it at both ends (^...$) "
        "or require a character (+)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    # before: kept, GX read true as 1: a KL divergence of 0.37 passed a rule asking for less than it
    ("expect_column_kl_divergence_to_be_less_than",
     "column: x, partition_object: {bins: [0, 1, 2], weights: [0.5, 0.5]}, threshold: true",
     "threshold is true, not a number (Great Expectations reads true as 1 and false as 0, another bound than "
     "written); give a number"),
    # before: kept, GX read true as 1 and checked the column at index 1
    ("expect_column_to_exist", "column: label, column_index: true",
     "column_index is true, not a number (Great Expectations reads true as 1 and false as 0, another index than "
     "written); give a number"),
    ("expect_column_value_z_scores_to_be_less_than", "column: x, threshold: '3', double_sided: true",
     "threshold is the text '3', not a number; write the number without quotes"),
], ids=["kl-threshold-bool", "column-index-bool", "z-threshold-text"])
def test_a_threshold_or_column_index_of_the_wrong_kind_is_refused(tmp_path, kind, kwargs, message):
    (tmp_path / "ingest.yaml").write_text(RULE % (kind, kwargs))
    with pytest.raises(WinnowError) as raised:
        load_suite(tmp_path / "ingest.yaml", parameters={})
    assert str(raised.value) == f"{tmp_path / 'ingest.yaml'}: expectation 1 (the rule): {message}"


@pytest.mark.hostile("intermediates")
def test_a_threshold_written_as_a_number_is_kept_and_checked(tmp_path):
    # no false alarm: threshold 0.1 (and column_index 0) load, and the divergence of 0.37 fails the rule
    (tmp_path / "ingest.yaml").write_text(
        "name: ingest\nexpectations:\n"
        "  - {type: expect_column_kl_divergence_to_be_less_than, description: the rule, "
        "kwargs: {column: x, partition_object: {bins: [0, 1, 2], weights: [0.5, 0.5]}, threshold: 0.1}}\n"
        "  - {type: expect_column_to_exist, description: x first, kwargs: {column: x, column_index: 0}}\n")
    suite = load_suite(tmp_path / "ingest.yaml", parameters={})
    assert [e["kwargs"] for e in suite.expectations] == [
        {"column": "x", "partition_object": {"bins": [0, 1, 2], "weights": [0.5, 0.5]}, "threshold": 0.1},
        {"column": "x", "column_index": 0}]
    results = validate([Batch(suite, "ingest", pd.DataFrame({"x": [0.5] * 9 + [1.5]}))])
    assert [result.success for result in results] == [False, True]
