"""Hostile inputs to the merge gate, review of probe 69's mends: a class that pooled head runs make take exactly the
images the precision collapse names, a variant named by --variants that the gate cannot pair, gate.files taking in a
CSV its stage writes. The gate runs in-process (:func:`winnow.gate_table.paired_rows`, :func:`winnow.cli.main`) and
its lines are asserted whole."""

import pandas as pd
import pytest
from gate_repo import init, labels_of, write_both_variants, write_variant, wrong_on
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from winnow.cli import main as winnow
from winnow.gate_table import GateSettings, paired_rows


def run(a_right, b_taken):
    """One run's predictions of 6 test images of class a and 100 of b: the first ``a_right`` of a's and the first
    ``b_taken`` of b's predicted a, the rest b."""
    return pd.DataFrame({"id": [f"test-{i:03d}" for i in range(106)], "label": ["a"] * 6 + ["b"] * 100,
                         "predicted": ["a" if i < a_right else "b" for i in range(6)]
                         + ["a" if i < b_taken else "b" for i in range(100)]})


def false_positives_of_a(base_runs, head_runs) -> pd.Series:
    """The gate's false-positive row of class a over the pooled ``base_runs`` and ``head_runs`` (:func:`run`)."""
    table = paired_rows(base_runs, head_runs, variant="baseline",
                        settings=GateSettings.from_params(default_params()["gate"]))
    return table[(table["class"] == "a") & (table["metric"] == "false_positives")].iloc[0]


@pytest.mark.hostile("gate")
def test_a_class_whose_precision_three_pooled_head_runs_halve_taking_exactly_3_more_images_regresses():
    # class a, 6 test images: the base run predicts a once, right (precision 1.0); the three head runs predict a for
    # 0, 1 and 6 of a's images and for 2, 2 and 5 of b's (pooled precision 7/16 = 0.44, 3 of b's images newly taken,
    # half a's 6 test images): the README's rule says it regresses whatever its p, though no head run alone does (the
    # first two take 2, the third keeps precision 6/11). Before: 16/3 - 7/3 came out 2.9999999999999996, short of 3,
    # and the row passed as "rise not significant" (p adj 0.36)
    row = false_positives_of_a([run(1, 0)], [run(0, 2), run(1, 2), run(6, 5)])
    assert (row["base"], row["head"], row["verdict"], row["collapsed"]) == (0.0, pytest.approx(0.5), "REGRESSED", True)


def pruned_unevaluated_at_the_base(tmp_path):
    """A project whose committed base lists baseline and pruned but holds only baseline's evaluate; the workspace
    evaluates both."""
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    labels = labels_of()
    write_variant(project, "baseline", labels, wrong_on(labels, [1]))
    init(project)
    write_variant(project, "pruned", labels, wrong_on(labels, [1]))
    return project


@pytest.mark.hostile("gate")
def test_a_variant_named_by_variants_that_the_base_lists_unevaluated_is_told_to_be_left_out_not_to_pass_variants(
        tmp_path, capsys):
    # the base's params.yaml lists baseline and pruned, only baseline's evaluate committed there; the head evaluates
    # both, and the user gates them by name. Before: "...; pass --variants to gate the others)", to a user who had
    # passed --variants (10849506 mended this for a variant new at the target alone; "gone there" and "left over"
    # said the same)
    project = pruned_unevaluated_at_the_base(tmp_path)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--variants", "baseline", "pruned"])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: metrics/evaluate/pruned/predictions.csv missing at HEAD (its params.yaml there lists the variant, so "
        "it is not new: its evaluate did not run or its outputs were not committed; leave it out of --variants); the "
        "gate pairs every variant's test predictions at both revisions: run `dvc repro evaluate` and commit "
        "metrics/evaluate/ at each"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_gate_files_matching_the_predictions_csv_evaluate_writes_names_the_pattern_not_a_rerun(tmp_path, capsys):
    # gate.files ["metrics/evaluate/**/*"], "everything evaluate writes", takes in each variant's predictions.csv.
    # Before: "error: gated metrics are not all finite numbers: metrics/evaluate/baseline/predictions.csv at HEAD: not
    # valid JSON (...) (rerun the stage that writes them and commit its outputs)": a rerun writes a CSV again, and no
    # change could pass (a2c40d51 mended this for text inside a JSON file alone)
    gated = default_params()["gate"] | {"files": ["metrics/evaluate/**/*"]}
    project = make_project(tmp_path / "project", default_params() | {"gate": gated})
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1]))
    init(project)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / "reports/gate.md")])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: params.yaml at HEAD: gate.files: metrics/evaluate/baseline/predictions.csv holds no JSON at any "
        "revision gated (its stage writes another format), and the gate reads metrics JSON alone; narrow the pattern "
        "to JSON files, e.g. metrics/evaluate/*.json; the gate takes its settings from HEAD: correct them there"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_class_whose_precision_three_pooled_head_runs_halve_exactly_regresses():
    # class a, 6 test images: the base run predicts a for 2 of them and 1 of b's (precision 2/3); the three head runs
    # predict a for 0, 1 and 6 of a's images and 2, 2 and 10 of b's: pooled 7 of 21, precision 1/3, exactly half, with
    # 14/3 - 1 more of b's images taken a run, over half a's 6 test images. No head run alone collapses it (the first
    # two take 1 more, the third keeps precision 6/16). Before: the pooled precision, the mean right over the mean
    # taken, came out 0.33333333333333337, above half of 2/3, and the row was no collapse ("rise not significant")
    row = false_positives_of_a([run(2, 1)], [run(0, 2), run(1, 2), run(6, 10)])
    assert (row["base"], row["head"], row["verdict"], row["collapsed"]) == (
        pytest.approx(1 / 6), pytest.approx(14 / 18), "REGRESSED", True)


@pytest.mark.hostile("gate")
def test_the_one_variant_named_by_variants_that_the_gate_cannot_pair_is_not_told_to_be_left_out(tmp_path, capsys):
    # the base lists baseline and pruned, only baseline's evaluate committed there; `--variants pruned` alone. Before
    # (cc66c131): "leave it out of --variants", which leaves --variants naming nothing (argparse refuses it bare); the
    # variant the gate can pair is baseline
    project = pruned_unevaluated_at_the_base(tmp_path)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--variants", "pruned"])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        "error: metrics/evaluate/pruned/predictions.csv missing at HEAD (its params.yaml there lists the variant, so "
        "it is not new: its evaluate did not run or its outputs were not committed; name the others in --variants "
        "instead: baseline); the gate pairs every variant's test predictions at both revisions: run `dvc repro "
        "evaluate` and commit metrics/evaluate/ at each"])
    assert_nothing_left(project, before)
