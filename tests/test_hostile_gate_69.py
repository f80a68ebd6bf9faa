"""Hostile inputs to the merge gate, probe 69: a variant the base's params.yaml lists but never evaluated. The gate runs
in-process (:func:`winnow.cli.main`) and its lines are asserted whole."""

import pytest
from gate_repo import init, labels_of, write_variant, wrong_on
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from winnow.cli import main as winnow


@pytest.mark.hostile("gate")
def test_a_variant_the_bases_params_list_without_predictions_there_is_refused_not_passed_as_new(tmp_path, capsys):
    # the base's params.yaml lists baseline and pruned, but only baseline's evaluate was committed there; the head
    # evaluates pruned wrong on every third test image (accuracy 0.67). Before: "pruned: new at workspace, nothing at
    # HEAD to compare with (not gated)" and "gate: PASS", though the base lists pruned and so its predictions are
    # missing there, which the README says fails (a variant the change adds to params.yaml is still new:
    # test_gate_compare.py's test_a_variant_new_at_head_is_listed_not_gated)
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, [1]))
    init(project)
    write_variant(project, "pruned", labels, wrong_on(labels, list(range(0, 1000, 3))))
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / "reports/gate.md")])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: metrics/evaluate/pruned/predictions.csv missing at HEAD (its params.yaml there lists the variant, so "
        "it is not new: its evaluate did not run or its outputs were not committed; pass --variants to gate the "
        "others); the gate pairs every variant's test predictions at both revisions: run `dvc repro evaluate` and "
        "commit metrics/evaluate/ at each"])
    assert_nothing_left(project, before)
