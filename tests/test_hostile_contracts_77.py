"""Hostile contracts and merge gate, probe 77 (the suites, and the gate as a CI job runs it):

- a suite rule whose value_set lists null where Great Expectations never compares a null (a rule of a column's values
  leaves null rows out; the distinct values drop them): ``expect_column_values_to_not_be_in_set`` of ``[-1, null]``
  ("no -1, nothing missing") passed a label column of nulls, and ``expect_column_distinct_values_to_equal_set`` or
  ``_contain_set`` listing null failed on any data; each is refused when the suite is read;
- a rule comparing a column with itself (column_A and column_B both ``orig_h``, ``orig_w`` meant):
  ``_pair_values_to_be_equal`` passed on any data, as did ``_a_to_be_greater_than_b`` with or_equal (without it, it
  failed on any); and a ``column_list`` naming a column twice, which Great Expectations takes once:
  ``expect_multicolumn_values_to_be_equal`` of ``[h, h]`` passed on any data, ``expect_multicolumn_sum_to_equal`` of
  ``[h, h]`` with sum_total 2 checked h == 2; each is refused when the suite is read, and a pair of two columns is kept;
- ``expect_column_value_lengths_to_equal`` of value 1.5: Great Expectations keeps the float, so no value's length
  equalled it and the rule failed on any data, "observed 3 of 3 rows"; refused when the suite is read, as a range no
  value lies in is, and a whole float (3.0) is kept;
- ``--markdown reports/gate.md`` (the README's and CI's path) holding a file of the user's: refused with "give another
  path, e.g. --markdown reports/gate.md", the path given, which came back refused; the line now says to move the file;
- ``--base main`` in a CI clone (``git clone --depth 1 --branch <pr>``: single-branch) that has not fetched main: the
  line advised ``git fetch origin <branch>``, which in such a clone fetches into FETCH_HEAD alone, so the same line came
  back; the line now gives a fetch that writes a ref, and the base to give after it, which then gates.
"""

import subprocess

import pytest
from gate_repo import commit, git, init, labels_of, write_both_variants, wrong_on
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from winnow.cli import main as winnow
from winnow.contracts import load_suite
from winnow.errors import WinnowError


def _suite(tmp_path, rule: str):
    path = tmp_path / "labels.yaml"
    path.write_text(f"name: labels\nexpectations:\n  - {rule}\n")
    return path


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("kind", "values", "at", "outcome"), [
    ("expect_column_values_to_not_be_in_set", "[-1, null]", 1, "a null passes it"),
    ("expect_column_distinct_values_to_contain_set", "[null, 0]", 0, "it fails on any data"),
    ("expect_column_distinct_values_to_equal_set", "[0, 1, null]", 2, "it fails on any data"),
])
def test_a_value_set_listing_null_where_no_null_is_compared_is_refused(tmp_path, kind, values, at, outcome):
    # before: kept; Great Expectations leaves a column's nulls out of these rules, so not_be_in_set [-1, null] passed a
    # label column of nulls ("observed 0 of 3 rows"), and the distinct-value rules never found the null they listed
    path = _suite(tmp_path, f"{{type: {kind}, description: labels, kwargs: {{column: label, value_set: {values}}}}}")
    with pytest.raises(WinnowError) as refused:
        load_suite(path, parameters={})
    assert str(refused.value) == (
        f"{path}: expectation 1 (labels): value_set[{at}] is null, which Great Expectations never compares (it "
        f"leaves a column's nulls out of this rule), so {outcome}; list values only, and check nulls with "
        "expect_column_values_to_not_be_null")


@pytest.mark.hostile("params")
def test_a_null_where_every_value_passes_anyway_is_kept(tmp_path):
    # expect_column_values_to_be_in_set leaves null rows out too, so a null listed there changes nothing: not refused
    path = _suite(tmp_path, "{type: expect_column_values_to_be_in_set, kwargs: {column: split, value_set: [train, "
                            "null]}}")
    assert load_suite(path, parameters={}).expectations[0]["kwargs"]["value_set"] == ["train", None]


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("rule", "outcome"), [
    ("expect_column_pair_values_to_be_equal, kwargs: {column_A: orig_h, column_B: orig_h}", "passes on anything"),
    ("expect_column_pair_values_a_to_be_greater_than_b, kwargs: {column_A: orig_h, column_B: orig_h, or_equal: true}",
     "passes on anything"),
    ("expect_column_pair_values_a_to_be_greater_than_b, kwargs: {column_A: orig_h, column_B: orig_h}",
     "fails on any data"),
])
def test_a_rule_comparing_a_column_with_itself_is_refused(tmp_path, rule, outcome):
    # before: kept; each row's value equals itself, so the first two passed a table of any heights ("0 of 3 rows")
    path = _suite(tmp_path, f"{{type: {rule}, description: square}}")
    with pytest.raises(WinnowError) as refused:
        load_suite(path, parameters={})
    assert str(refused.value) == (f"{path}: expectation 1 (square): column_A and column_B are both 'orig_h', so it "
                                  f"compares each value with itself and {outcome}; name the two columns it compares")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("kind", ["expect_multicolumn_values_to_be_equal", "expect_multicolumn_sum_to_equal",
                                  "expect_compound_columns_to_be_unique"])
def test_a_column_list_naming_a_column_twice_is_refused(tmp_path, kind):
    # before: Great Expectations took orig_h once: values_to_be_equal of [orig_h, orig_h] passed on any data, and
    # sum_to_equal 2 checked orig_h == 2 where orig_h + orig_h == 2 was written
    extra = ", sum_total: 2" if kind == "expect_multicolumn_sum_to_equal" else ""
    path = _suite(tmp_path, f"{{type: {kind}, description: sides, kwargs: {{column_list: [orig_h, orig_w, orig_h]"
                            f"{extra}}}}}")
    with pytest.raises(WinnowError) as refused:
        load_suite(path, parameters={})
    assert str(refused.value) == (f"{path}: expectation 1 (sides): column_list names 'orig_h' twice, and Great "
                                  "Expectations takes each column once, so it checks another rule than written; name "
                                  "each column once")


@pytest.mark.hostile("params")
def test_a_pair_of_two_columns_is_kept(tmp_path):
    path = _suite(tmp_path, "{type: expect_column_pair_values_to_be_equal, kwargs: {column_A: orig_h, "
                            "column_B: orig_w}}")
    assert load_suite(path, parameters={}).expectations[0]["kwargs"] == {"column_A": "orig_h", "column_B": "orig_w"}


@pytest.mark.hostile("params")
def test_a_fractional_length_to_equal_is_refused_and_a_whole_float_kept(tmp_path):
    # before: kept, and every id of any table failed it ("observed 3 of 3 rows, e.g. ['a', 'b', 'c'], bound = 1.5")
    path = _suite(tmp_path, "{type: expect_column_value_lengths_to_equal, description: ids, kwargs: {column: id, "
                            "value: 1.5}}")
    with pytest.raises(WinnowError) as refused:
        load_suite(path, parameters={})
    assert str(refused.value) == (f"{path}: expectation 1 (ids): value is 1.5, and no length is a fraction, so it "
                                  "fails on any data; give a whole number")
    path.write_text(path.read_text().replace("1.5", "3.0"))
    assert load_suite(path, parameters={}).expectations[0]["kwargs"]["value"] == 3.0


@pytest.mark.hostile("gate")
def test_a_base_branch_a_single_branch_ci_clone_lacks_is_told_a_fetch_that_works(tmp_path, capsys):
    # before: "... (in CI fetch it first: actions/checkout with fetch-depth: 0, or git fetch origin <branch>; ...)";
    # `git fetch origin main` in a clone made with --depth 1 --branch feature writes FETCH_HEAD and no ref, and the
    # same line came back
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    init(project)
    git(project, "checkout", "-qb", "feature")
    write_both_variants(project, labels, wrong_on(labels, [1, 2, *range(100, 160)]))  # class 1 loses 60 images
    commit(project, "feature")
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{project}", str(clone)],
                   check=True, capture_output=True)
    git(clone, "fetch", "-q", "origin", "main")  # the fetch the line gave before: no ref comes of it
    before = files_under(clone)
    code = winnow(["gate", "--base", "main", "--repo", str(clone)])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: --base main: unknown revision: no branch or tag main here (a shallow or single-branch clone, as CI "
        "checks out, holds its own branch alone, and `git fetch origin main` there makes no ref); fetch it as a ref: "
        "git fetch origin main:refs/remotes/origin/main, then give --base origin/main (an experiment: dvc exp pull "
        "origin main)"])
    assert_nothing_left(clone, before)
    git(clone, "fetch", "-q", "origin", "main:refs/remotes/origin/main")  # as the line says
    code = winnow(["gate", "--base", "origin/main", "--repo", str(clone)])
    out, err = capsys.readouterr()
    assert (code, err) == (1, "")
    assert out.splitlines()[-1].startswith("gate: FAIL — ")


@pytest.mark.hostile("gate")
def test_a_report_path_holding_another_file_is_not_offered_as_the_fix(tmp_path, capsys, monkeypatch):
    # before: "...; give another path, e.g. --markdown reports/gate.md", the path given, refused again
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    init(project)
    (project / "reports").mkdir()
    (project / "reports/gate.md").write_text("my notes\n")
    monkeypatch.chdir(project)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--markdown", "reports/gate.md"])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: --markdown reports/gate.md: holds a file that is no gate report, which this would overwrite; move that "
        "file away, or give another path"])
    assert (project / "reports/gate.md").read_text() == "my notes\n"
    assert_nothing_left(project, before)
    (project / "reports/gate.md").rename(project / "reports/notes.md")  # as the line says
    code = winnow(["gate", "--base", "HEAD", "--markdown", "reports/gate.md"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert (project / "reports/gate.md").read_text() == out
