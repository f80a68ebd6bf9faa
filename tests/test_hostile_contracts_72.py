"""Hostile suite files, probe 72:

- ``expectations`` that is no list: a number (``expectations: 5``) stopped the contracts stage in a TypeError traceback,
  and one rule written without its dash (a mapping) was told it "needs `type: expect_...` and a `kwargs` mapping",
  which it had.
"""

import shutil
from pathlib import Path

import pytest

from hostile_harness import assert_nothing_left, files_under
from test_contracts import _run_stage, project  # noqa: F401 - project: the contracts stage's fixture
from winnow.contracts import load_suite
from winnow.errors import WinnowError


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
