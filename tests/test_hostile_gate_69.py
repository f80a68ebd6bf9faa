"""Hostile inputs to the merge gate, probe 69: a variant the base's params.yaml lists but never evaluated, a small class
that pooled head runs halve by exactly the images the collapse rule names, gate.files taking in a file its stage
writes text into, a variant new at the target named by --variants. The gate runs in-process
(:func:`winnow.cli.main`, :func:`winnow.gate_table.paired_rows`) and its lines are asserted whole."""

import pandas as pd
import pytest
from gate_repo import init, labels_of, write_both_variants, write_variant, wrong_on
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from winnow.cli import main as winnow
from winnow.gate_table import GateSettings, paired_rows


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


@pytest.mark.hostile("gate")
def test_a_small_class_that_three_pooled_head_runs_halve_losing_exactly_3_images_regresses():
    # class a, 11 test images: the three base runs recognise 4, 7 and 7 of them (6 a run, recall 6/11), the three head
    # runs 3 each (recall 3/11): halved from 0.5 or more, 3 images lost, which the README's rule says regresses
    # whatever its p. Before: the pooled images lost summed the runs' shares to 2.9999999999999996, short of 3, every
    # head run alone too, and the class passed as "drop not significant" (p adj 0.13)
    base = [[0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0], [1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1]]
    head = [[1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1], [0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0]]

    def run(right):  # class b's 100 images are right in every run; an image of a missed is predicted b
        return pd.DataFrame({"id": [f"test-{i:03d}" for i in range(111)], "label": ["a"] * 11 + ["b"] * 100,
                             "predicted": ["a" if r else "b" for r in right] + ["b"] * 100})

    table = paired_rows([run(r) for r in base], [run(r) for r in head], variant="baseline",
                        settings=GateSettings.from_params(default_params()["gate"]))
    row = table[(table["class"] == "a") & (table["metric"] == "recall")].iloc[0]
    assert (row["base"], row["head"], row["verdict"], row["collapsed"]) == (
        pytest.approx(6 / 11), pytest.approx(3 / 11), "REGRESSED", True)


@pytest.mark.hostile("gate")
def test_gate_files_matching_a_file_its_stage_writes_text_into_names_the_pattern_not_a_rerun(tmp_path, capsys):
    # gate.files ["metrics/*.json", ...], as params.yaml's comment ("metrics files") reads, takes in budget's
    # metrics/budget.json, which holds true/false, lists and text beside its numbers at every revision. Before: "error:
    # gated metrics are not all finite numbers: metrics/budget.json at HEAD: enabled = True, cleaners = ['threshold'],
    # ... (rerun the stage that writes them and commit its outputs)": a rerun writes them again, and no change passed
    gated = default_params()["gate"] | {"files": ["metrics/*.json", "metrics/evaluate/*.json"]}
    project = make_project(tmp_path / "project", default_params() | {"gate": gated})
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1]))
    (project / "metrics/budget.json").write_text(
        '{"enabled": true, "cleaners": ["threshold", "dedup"], "judge": {"split": "val"}, "winner": "none", '
        '"spent": 3}')
    init(project)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / "reports/gate.md")])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: params.yaml at HEAD: gate.files: metrics/budget.json holds enabled = True, cleaners = ['threshold', "
        "'dedup'], judge.split = 'val' and 1 more at every revision gated: its stage writes text, true/false, null or "
        "lists beside its numbers, so it is no metrics file to gate; narrow the pattern to files of numbers, e.g. "
        "metrics/evaluate/*.json; the gate takes its settings from HEAD: correct them there"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_variant_new_at_the_target_named_by_variants_is_said_to_be_new_not_gone(tmp_path, capsys):
    # the change adds pruned to params.yaml's variants and evaluates it; `--variants pruned` asks the gate to gate it.
    # Before: "... missing at HEAD (the variant is gone there: pass --variants to gate the others)", untrue (it never
    # was at HEAD) and advice the user had followed
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline"]})
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, [1]))
    init(project)
    make_project(project, default_params() | {"variants": ["baseline", "pruned"]})
    write_variant(project, "pruned", labels, wrong_on(labels, [1]))
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--variants", "pruned"])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: metrics/evaluate/pruned/predictions.csv missing at HEAD (pruned is new at workspace, nothing at HEAD to "
        "compare it with: name the others in --variants instead: baseline); the gate pairs every variant's test "
        "predictions at both revisions: run `dvc repro evaluate` and commit metrics/evaluate/ at each"])
    assert_nothing_left(project, before)
