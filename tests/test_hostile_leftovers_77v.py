"""Hostile leftovers of the 77v review (probe 77's params, contracts and threshold mends):

- ``ingest.path: None`` (or ``represent.file: None``) naming a folder or file that is called None: refused as Python's
  None and told to write null or ~, which turns the path off; the way to give that path (./None) was not named;
- a params.yaml refused for one fault (a list left open) beside a line whose value is led by an ideographic space
  (``label: \\u3000猫``, valid YAML) or holds a no-break space after a colon inside quotes: the refusal blamed that
  space ("type a space there"), which is no cause and whose removal changes a value; a key indented by a space and a
  no-break space is still named;
- a contract's value_set listing null where Great Expectations never compares one: the line showed the list in Python's
  words (``value_set [-1, None] lists null``); it names the null by its place, as a NaN there is named.
"""

from __future__ import annotations

import pytest

from hostile_harness import assert_nothing_left, files_under, params_with
from test_hostile_cli_77 import _refusal_of_text
from winnow import params
from winnow.contracts import load_suite
from winnow.errors import WinnowError


@pytest.mark.hostile("params")
@pytest.mark.parametrize("path", ["ingest.path", "represent.file", "represent.pretrained.torchscript"])
def test_none_where_a_path_is_allowed_names_how_to_give_a_path_of_that_name(path):
    # before: '"None" is text to YAML, not null (Python's None); write null or ~' alone, of a folder or file named None
    # the user meant: null turns the path off
    with pytest.raises(WinnowError) as refused:
        params.validate(params_with(path, "None"))
    assert str(refused.value) == (f'params.yaml: {path}: "None" is text to YAML, not null (Python\'s None); write null '
                                  "or ~, or ./None for a file or folder of that name")


@pytest.mark.hostile("params")
def test_none_where_no_path_is_meant_is_told_null_alone():
    with pytest.raises(WinnowError) as refused:
        params.validate(params_with("represent.pretrained.model", "none"))
    assert str(refused.value) == ('params.yaml: represent.pretrained.model: "none" is text to YAML, not null (Python\'s '
                                  "None); write null or ~")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("line", ["label: \u3000猫", 'label: "cat:\u00a0tabby"', "label: |\n    cat:\u00a0tabby"],
                         ids=["ideographic-value", "quoted-no-break", "block-text"])
def test_a_space_inside_a_value_is_not_blamed_for_another_fault(tmp_path, line):
    # before: the line below ended "(line 2 holds \u3000, IDEOGRAPHIC SPACE, where YAML reads only a space or a tab; type
    # a space there)" (or \u00a0), a valid value's own text, not the list left open
    text = f"seed: 0\n{line}\nclasses: [cat, dog\nepochs: 20\n"
    opened = 3 + line.count("\n")
    assert _refusal_of_text(tmp_path, text) == (
        f"params.yaml: not valid YAML at line {opened + 1}: expected ',' or ']', but got ':' (inside the [ ] list that "
        f"starts at line {opened})")


@pytest.mark.hostile("params")
def test_a_key_indented_by_a_space_and_a_no_break_space_is_named(tmp_path):
    # the space that is a cause is still named once a space in its place is tried: the whole run of the indent, so the
    # plain space beside it does not hide it
    text = "seed: 0\ntrain:\n  model: lenet5\n \u00a0epochs: 20\n  patience: 5\n"
    assert _refusal_of_text(tmp_path, text) == (
        "params.yaml: not valid YAML at line 4: expected <block end>, but found '<block mapping start>' (line 4 holds "
        "\\u00a0, NO-BREAK SPACE, where YAML reads only a space or a tab; type a space there)")


@pytest.mark.hostile("contracts")
def test_a_null_in_a_value_set_of_names_is_named_by_its_place(tmp_path):
    # before: "value_set ['unlabelled', None] lists null", the list in Python's words, of a suite that wrote null
    path = tmp_path / "labels.yaml"
    path.write_text("name: labels\nexpectations:\n  - {type: expect_column_values_to_not_be_in_set, description: "
                    "labels, kwargs: {column: label, value_set: [unlabelled, null]}}\n")
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        load_suite(path, parameters={})
    assert_nothing_left(tmp_path, before)
    assert str(refused.value) == (
        f"{path}: expectation 1 (labels): value_set[1] is null, which Great Expectations never compares (it leaves a "
        "column's nulls out of this rule), so a null passes it; list values only, and check nulls with "
        "expect_column_values_to_not_be_null")
