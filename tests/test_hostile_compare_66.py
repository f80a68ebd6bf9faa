"""Hostile inputs to compare and the merge gate found at stop 66."""

import json

import pytest
from gate_repo import init, labels_of, write_variant
from hostile_harness import default_params, make_project, run_stage
from test_hostile_gate import _with_digests, digested_repo

from winnow import compare
from winnow.cli import main as winnow
from winnow.compare_runs import select_runs
from winnow.metrics import PER_CLASS_METRICS, predictions_path, summary_path


def _summaries(project, scores: dict[str, float]) -> None:
    """Each variant's evaluate summary: classes 0-9 with 50 test images each at the variant's score on every metric,
    and class 10, which evaluate knew and the test split holds no image of (support 0, every metric 0, as
    winnow.metrics.summarise writes it)."""
    for variant, score in scores.items():
        per_class = {str(c): {**{m: score for m in PER_CLASS_METRICS}, "support": 50} for c in range(10)}
        per_class["10"] = {**{m: 0.0 for m in PER_CLASS_METRICS}, "support": 0}
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(json.dumps({"per_class": per_class}))


@pytest.mark.hostile("compare")
def test_a_class_without_test_images_is_left_out_of_the_paired_test_across_classes(tmp_path):
    """pruned scores 0.01 above baseline on each of the 10 tested classes: the same change in every pair is no evidence
    (paired_test). Before: class 10, without test images, paired its two 0s as an 11th class, and the stage wrote
    p < 0.0001 (t 10.0, CI +0.0071 … +0.0111, n 11) for every metric."""
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    _summaries(project, {"baseline": 0.80, "pruned": 0.81})
    done = run_stage(project, "compare")
    assert done.returncode == 0, done.stderr
    text = (project / "reports/compare.md").read_text()
    for metric in PER_CLASS_METRICS:
        section = text.split(f"## {metric}\n")[1].split("\n## ")[0]
        assert "| 10 | 0.0000 | 0.0000 |" in section  # the table still lists the class evaluate knew
        assert ("_Left out of the test and of the average and std rows: 10 (no test image: its 0s are not measured), "
                "as evaluate's macro figures leave it out._") in section
        assert ("| baseline | pruned | 0.0100 | inf (no spread) | n/a (the same change in every pair) | n/a (the "
                "same change in every pair) | n/a (the same change in every pair) | 10 |") in section


def _record(name: str, *, seed: int, model: str) -> dict:
    """A run as winnow.experiments reads it from dvc exp show: params, baseline's metrics, its inputs."""
    return {"experiment": name, "rev": name, "params": {"seed": seed, "train": {"model": model}},
            "metrics": {"metrics/evaluate/baseline.json": {"per_class": {"0": {"f1": 0.9}, "1": {"f1": 0.8}}}},
            "inputs": {"stages/train.py": "1"}}


@pytest.mark.hostile("compare")
def test_compare_takes_the_setting_with_the_most_seeds_not_the_most_runs():
    """The commit's setting at seeds 0, 1, 2, and `dvc exp run -S train.model=cnn_small` run four times at seed 0.
    Before: the four runs outweighed the three seeds, and compare showed one run of cnn_small ("Variants over 1
    run(s) (seeds 0)"), leaving the commit's seeds out as other settings."""
    records = [_record("HEAD", seed=0, model="lenet5"), _record("exp-s1", seed=1, model="lenet5"),
               _record("exp-s2", seed=2, model="lenet5"),
               *(_record(f"exp-c{i}", seed=0, model="cnn_small") for i in range(4))]
    runs, note = select_runs(records, variants=["baseline"])
    assert [r["experiment"] for r in runs] == ["HEAD", "exp-s1", "exp-s2"]
    assert note == "left out 4 run(s) with other settings (train.model): exp-c0, exp-c1, exp-c2, exp-c3"


@pytest.mark.hostile("gate")
def test_a_base_whose_predictions_predate_pixel_digests_is_gated_with_a_warning(tmp_path, capsys):
    """The base's predictions come from an evaluate before the digests (stop 60), the head's hold them: the pixels cannot
    be compared. Before: the check was skipped without a word, and a head that re-exported the test images under the
    same names passed as if they had been checked."""
    project = make_project(tmp_path / "project")
    labels = labels_of()
    write_variant(project, "baseline", labels, labels.copy())
    init(project)
    write_variant(project, "baseline", labels, labels.copy())
    _with_digests(project, "baseline", [f"{i:016x}" for i in range(len(labels))])
    assert winnow(["gate", "--base", "HEAD", "--repo", str(project)]) == 0
    out = capsys.readouterr().out
    assert "gate: PASS" in out
    assert ("- warning: baseline: the predictions at HEAD name no pixel digest (evaluate wrote none before they were "
            "added), so the gate cannot tell whether a test image's pixels changed under the same id and pairs them by "
            "id and label alone; rerun evaluate there to have the pixels checked") in out.splitlines()


@pytest.mark.hostile("compare")
def test_compare_takes_the_code_with_the_most_seeds_not_the_most_runs():
    """The commit's code at seeds 0, 1, 2, and `dvc exp run` four times at seed 0 while its code was edited (other
    inputs, the same params). Before: the four runs of other code outweighed the three seeds, and compare showed one."""
    edited = [{**_record(f"exp-e{i}", seed=0, model="lenet5"), "inputs": {"stages/train.py": "2"}} for i in range(4)]
    records = [_record("HEAD", seed=0, model="lenet5"), _record("exp-s1", seed=1, model="lenet5"),
               _record("exp-s2", seed=2, model="lenet5"), *edited]
    runs, note = select_runs(records, variants=["baseline"])
    assert [r["experiment"] for r in runs] == ["HEAD", "exp-s1", "exp-s2"]
    assert note == "left out 4 run(s) of other code or inputs (stages/train.py): exp-e0, exp-e1, exp-e2, exp-e3"


@pytest.mark.hostile("gate")
def test_a_gated_metric_past_floats_range_fails_with_one_line(tmp_path, capsys):
    """A gated metrics file whose accuracy is a 400-digit integer (a hand edit; JSON reads it exactly). Before:
    math.isfinite raised OverflowError, and the gate ended in a traceback."""
    project = make_project(tmp_path / "project")
    labels = labels_of()
    write_variant(project, "baseline", labels, labels.copy())
    init(project)
    path = project / "metrics/evaluate/baseline.json"
    path.write_text(path.read_text().replace('"accuracy": 1.0', '"accuracy": 1' + "0" * 400, 1))
    assert winnow(["gate", "--base", "HEAD", "--repo", str(project)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "error: gated metrics are not all finite numbers: metrics/evaluate/baseline.json at workspace: accuracy = "
        "1000000000000000000000000000000000000... (rerun the stage that writes them and commit its outputs)"]


@pytest.mark.hostile("gate")
def test_an_ungated_headline_past_floats_range_is_named_in_a_readable_line(tmp_path, capsys):
    """gate.files leaves the evaluate metrics out, so the check beside the predictions reads the 400-digit accuracy.
    Before: the one line held all 401 digits (the gated files' check, 95f59c8, cut it to 40 characters)."""
    params = default_params()
    params["gate"]["files"] = ["metrics/other.json"]
    project = make_project(tmp_path / "project", params)
    labels = labels_of()
    write_variant(project, "baseline", labels, labels.copy())
    (project / "metrics/other.json").write_text('{"x": 1}')
    init(project)
    path = project / "metrics/evaluate/baseline.json"
    path.write_text(path.read_text().replace('"accuracy": 1.0', '"accuracy": 1' + "0" * 400, 1))
    assert winnow(["gate", "--base", "HEAD", "--repo", str(project)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: metrics/evaluate/baseline.json at workspace: accuracy is 1000000000000000000000000000000000000... but "
        "its predictions give 1.000000; rerun evaluate and commit both files"]


@pytest.mark.hostile("gate")
def test_predictions_whose_lines_hold_more_fields_than_the_header_fail_with_one_line(tmp_path, capsys):
    """The head's predictions.csv lost probability from its header (a hand edit), its lines still four fields. Before:
    pandas read the first field as an index, every column one place off, and the gate said "990 repeated ids, first
    '0'", the labels read as the ids."""
    project = make_project(tmp_path / "project")
    labels = labels_of()
    write_variant(project, "baseline", labels, labels.copy())
    init(project)
    path = project / predictions_path("baseline")
    path.write_text(path.read_text().replace("id,label,predicted,probability\n", "id,label,predicted\n", 1))
    assert winnow(["gate", "--base", "HEAD", "--repo", str(project)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: metrics/evaluate/baseline/predictions.csv at workspace: its lines hold more fields than the header "
        "(id, label, predicted), so every column would be read one place off; rerun evaluate"]


@pytest.mark.hostile("compare")
def test_compare_sizes_a_setting_by_its_seeds_of_one_code():
    """The commit's setting at seeds 0, 1 and, with its code edited, 2, 3; cnn_small at seeds 0, 1, 2 of one code.
    Before: the commit's setting counted 4 seeds, outweighed cnn_small's 3, and compare showed 2 runs of one code
    (HEAD, exp-s1): fewer seeds than the setting it left out."""
    edited = [{**_record(f"exp-e{s}", seed=s, model="lenet5"), "inputs": {"stages/train.py": "2"}} for s in (2, 3)]
    records = [_record("HEAD", seed=0, model="lenet5"), _record("exp-s1", seed=1, model="lenet5"), *edited,
               *(_record(f"exp-c{s}", seed=s, model="cnn_small") for s in range(3))]
    runs, note = select_runs(records, variants=["baseline"])
    assert [r["experiment"] for r in runs] == ["exp-c0", "exp-c1", "exp-c2"]
    assert note == "left out 4 run(s) with other settings (train.model): HEAD, exp-s1, exp-e2, exp-e3"


@pytest.mark.hostile("gate")
def test_a_prediction_without_its_digest_fails_with_one_line(tmp_path, capsys):
    """Both revisions' predictions hold pixel digests; one line of the head's lost its last field (the digest). Before:
    pandas read it as a blank digest, and the gate said "1 test images have other pixels at head under the same id",
    of pixels nobody changed (and a blank at both revisions passed unchecked, without 245deb0's warning)."""
    project = digested_repo(tmp_path / "project")
    path = project / predictions_path("baseline")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1].rsplit(",", 1)[0], *lines[2:]]) + "\n")
    assert winnow(["gate", "--base", "HEAD", "--repo", str(project)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: metrics/evaluate/baseline/predictions.csv at workspace: 1 row(s) without a digest, first id "
        "'test-0000'; rerun evaluate"]


# A new user's first `winnow compare` (README: "Comparing versions, seeds and the merge gate"), before any seeds were
# queued: one run of their own small data set, whose per-class F1 of two variants often tie (a class of 15 test
# images has 16 possible recalls).

def _summary(f1: dict[str, float]) -> dict:
    return {"per_class": {c: {"f1": v, "precision": v, "recall": v, "accuracy": v} for c, v in f1.items()}}


@pytest.mark.hostile("compare")
def test_one_run_whose_variants_tie_on_a_class_claims_no_p_value_nor_a_zero_width_interval():
    # the probe's run: baseline and balanced both at F1 0.6667 on circle (other models, 15 test images), differing
    # on cross; before, circle's row read "1.0000 (identical)" with the 95% CI 0.0000 to 0.0000 from that one
    # draw while cross's read n/a: a certainty one run cannot give
    run = {"baseline": _summary({"circle": 0.6667, "cross": 0.8000}),
           "balanced": _summary({"circle": 0.6667, "cross": 0.7500})}
    _, tests = compare.seed_summary([run], metric="f1")
    table = compare.tests_markdown(tests, index="row", single="one run")
    undefined = " | ".join(["n/a (one run)"] * 4)
    assert f"| circle | baseline | balanced | 0.0000 | {undefined} | 1 |" in table.splitlines()
    assert f"| cross | baseline | balanced | -0.0500 | {undefined} | 1 |" in table.splitlines()
    assert "identical" not in table


@pytest.mark.hostile("compare")
def test_two_runs_that_tie_every_time_still_read_identical():
    # the same tie at two seeds is the t interval's zero-spread limit, as before (pruned equal to baseline)
    runs = [{"baseline": _summary({"a": 0.5, "b": 0.7}), "pruned": _summary({"a": 0.5, "b": 0.7})}] * 2
    _, tests = compare.seed_summary(runs, metric="f1")
    table = compare.tests_markdown(tests, index="row", single="one run")
    assert "| a | baseline | pruned | 0.0000 | 0.0000 | 1.0000 (identical) | 0.0000 | 0.0000 | 2 |" in table.splitlines()
