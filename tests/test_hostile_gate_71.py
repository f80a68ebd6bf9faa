"""Hostile inputs to the merge gate, probe 71. The gate runs in-process (:func:`winnow.cli.main`) and its lines are
asserted whole.

- a gated metrics file missing at the target, taken out of the target's gate.files as the refusal advised: the same
  refusal came back, as the gate reads gate.files at the base; the line now says where to take it out;
- a base's gate.tolerances without an accuracy entry: the refusal told the user to add a recall pattern, which matches
  no accuracy; it now gives an accuracy entry;
- a base's gate.alpha below today's bound of 1e-4, written when 1e-300 was allowed: refused, so no change could pass,
  the one raising it included; it is held to the bound with a note, as a tolerance above the cap is;
- three head runs a side over 10,000 test images whose accuracy fell 0.00503, beyond its tolerance 0.005: the table
  and the FAIL line showed "-0.0050" beside tolerance 0.005 and REGRESSED; the change shows the digits that tell;
- a gate.tolerances key of the change holding a line break, a fake "gate: PASS" and "<!--": the settings note wrote
  them raw into the pull-request comment; they are escaped as typed;
- a class '<!-- x' new at the change, and a metrics file metrics/<!--.json new there: their notes opened an HTML
  comment that hid the rest of the pull-request comment, the verdict included;
- a --markdown report whose write fails (a full disk): stdout had already printed the report, "gate: PASS" last,
  before the error line; the report is written first;
- two base seeds, the second noisy on other classes, against one head run that lost 30 of a class's 100 images: the
  phi the base seeds measured passed the drop that either base seed alone failed; one head run is tested alone too;
- test images added to a class the base has (rows appended, files added to a class folder), beside a class renamed:
  refused as "different test sets", advising the same data and split seed; they are left out with a note, as a new
  class's images are, and the images both revisions hold are gated.
"""

import errno
from functools import partial

import numpy as np
import pandas as pd
import pytest
from gate_repo import CLASSES, gated, init, labels_of, notes_of, write_both_variants, write_variant, wrong_on
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from winnow.cli import main as winnow
from winnow.gate_report import report
from winnow.gate_table import GateSettings, paired_rows

REPORT = "reports/gate.md"


def committed(tmp_path, gate: dict):
    """A committed base of baseline and pruned evaluated on 1,000 test images, its params.yaml's gate ``gate``."""
    project = make_project(tmp_path / "project", default_params() | {"gate": gate})
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    return project


def refused(project, capsys) -> list[str]:
    """The gate's stderr lines against HEAD, once it exits 1 with nothing on stdout and nothing left behind."""
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / REPORT)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert_nothing_left(project, before)
    return err.splitlines()



def predictions(labels: np.ndarray, wrong: list[int]) -> pd.DataFrame:
    """One run's predictions of the 1,000 test images ``labels`` (gate_repo's), wrong on the indices ``wrong``."""
    return pd.DataFrame({"id": [f"test-{i:04d}" for i in range(1000)], "label": labels,
                         "predicted": wrong_on(labels, wrong)})

@pytest.mark.hostile("gate")
def test_a_gated_file_gone_at_the_target_is_told_to_leave_the_bases_gate_files(tmp_path, capsys):
    # the base gates metrics/extra.json too; the change deletes it and takes it out of its own gate.files, as the
    # refusal advised. Before: "... commit it at workspace, or take it out of gate.files" came back unchanged: the gate
    # takes gate.files from the base, so the change's own params.yaml can never lift it
    gate = default_params()["gate"] | {"files": ["metrics/evaluate/*.json", "metrics/extra.json"]}
    project = committed(tmp_path, gate)
    (project / "metrics" / "extra.json").write_text('{"rows": 10}')
    init(project)
    (project / "metrics" / "extra.json").unlink()
    make_project(project, default_params() | {"gate": gate | {"files": ["metrics/evaluate/*.json"]}})
    assert refused(project, capsys) == [
        "error: metrics/extra.json missing at workspace (HEAD holds it): params.yaml gate.files gates it at every "
        "revision; rerun the stage that writes it and commit it at workspace, or take it out of gate.files at HEAD (the "
        "gate takes its settings from HEAD)"]


@pytest.mark.hostile("gate")
def test_tolerances_without_an_accuracy_entry_are_told_to_add_one_for_accuracy(tmp_path, capsys):
    # the base's gate.tolerances name recall and false positives, no accuracy. Before: "no pattern matches accuracy
    # ...; add e.g. 'per_class.*.recall: 0.02'", an entry that matches no accuracy: added, the same line came back
    gate = default_params()["gate"] | {"tolerances": {"per_class.*.recall": 0.02, "per_class.*.false_positives": 0.02}}
    project = init(committed(tmp_path, gate))
    assert refused(project, capsys) == [
        "error: params.yaml at HEAD: gate.tolerances: no pattern matches accuracy (the gate tests accuracy and "
        "per_class.<class>.recall); add e.g. 'accuracy: 0.005'; the gate takes its settings from HEAD: correct them "
        "there"]


@pytest.mark.hostile("gate")
def test_a_base_alpha_below_todays_bound_is_held_to_it_not_refused(tmp_path, capsys):
    # the base's gate.alpha is 1e-5, allowed when it was written (the bound was 1e-300 until it became 1e-4); the change
    # raises it to 0.05 and loses 30 of class 1's 100 test images. Before: "error: params.yaml at HEAD: gate.alpha:
    # 1e-05 is below 0.0001; ... correct them there": the gate takes its settings from the base, so every change was
    # refused for good, the one raising alpha too. Now the base's alpha is held to 1e-4, as its tolerances are held to
    # 0.25: the drop (30 lost, none gained, p = 2^(-30/1.57) < 1e-5, under 1e-4 after Holm over 10 classes) regresses
    gate = default_params()["gate"]
    project = init(committed(tmp_path, gate | {"alpha": 1e-5}))
    make_project(project, default_params())  # the workspace's params.yaml raises it to 0.05
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2, *range(100, 130)]))
    code, out = gated(project, capsys, "--variants", "baseline")
    assert code == 1
    lines = out.splitlines()
    assert notes_of(out) == [
        "- gate settings: HEAD's gate.alpha 1e-05 is below 0.0001; 0.0001 used",
        "- gate settings: HEAD's; workspace's differ in gate.alpha and judge the changes after it is merged (a change "
        "cannot loosen its own gate)"]
    assert lines[-1].startswith("gate: FAIL — 3 regression(s): baseline all (accuracy) -0.0300 (p adj ")


@pytest.mark.hostile("gate")
def test_a_drop_just_beyond_its_tolerance_shows_the_digits_that_put_it_there():
    # CIFAR-10's 10,000 test images, three runs a side as the README advises: the base runs lose 0, 1 and 1 image, the
    # head runs 50, 51 and 52 spread over the classes: accuracy falls by (153 - 2) / 30,000 = 0.005033, beyond its
    # tolerance 0.005, and significant (p adj < 1e-4). Before: the row and the FAIL line read "-0.0050" beside tolerance
    # 0.005 and REGRESSED, a drop the tolerance seemed to allow
    labels = labels_of(1000)

    def run(lost: int) -> pd.DataFrame:  # wrong on the first ``lost`` of 6 images a class, class by class
        rows = [c * 1000 + k for k in range(6) for c in range(10)][:lost]
        return pd.DataFrame({"id": [f"test-{i:05d}" for i in range(len(labels))], "label": labels,
                             "predicted": wrong_on(labels, rows)})

    settings = GateSettings.from_params(default_params()["gate"])
    table = paired_rows([run(0), run(1), run(1)], [run(50), run(51), run(52)], variant="baseline", settings=settings)
    text, passed = report(table, [], base=["a0", "a1", "a2"], target=["b0", "b1", "b2"], settings=settings)
    lines = text.splitlines()
    assert not passed
    cells = [line.split(" | ") for line in lines if line.startswith("| baseline | all (accuracy) |")]
    assert [(row[6], row[10], row[11]) for row in cells] == [("-0.00503", "0.005", "**REGRESSED** |")]
    assert lines[-1] == "gate: FAIL — 1 regression(s): baseline all (accuracy) -0.00503 (p adj < 0.0001)"


@pytest.mark.hostile("gate")
def test_a_targets_gate_key_cannot_write_a_line_or_markup_into_the_comment(tmp_path, capsys):
    # the change adds to its own gate.tolerances a key holding a line break, a fake verdict and a comment opener; the
    # gate ignores the target's settings but names the keys that differ. Before: the note broke into a line of its own,
    # "gate: PASS — all good", above the real verdict, and "<!--" hid the rest of the pull-request comment, the real
    # verdict included
    project = init(committed(tmp_path, default_params()["gate"]))
    key = "per_class.*.recall\n\ngate: PASS — all good <!--"
    gate = default_params()["gate"]
    make_project(project, default_params() | {"gate": gate | {"tolerances": gate["tolerances"] | {key: 0.01}}})
    code, out = gated(project, capsys)
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith(("- ", "gate: "))] == [
        "- gate settings: HEAD's; workspace's differ in gate.tolerances.per_class.*.recall\\u000a\\u000agate: PASS — "
        "all good &lt;!-- and judge the changes after it is merged (a change cannot loosen its own gate)",
        "gate: PASS — 2 variant(s), 42 paired tests, no significant drop beyond its tolerance"]
    assert "<!--" not in out


@pytest.mark.hostile("gate")
def test_a_class_or_metrics_file_the_change_names_cannot_hide_the_verdict_of_the_comment(tmp_path, capsys):
    # the change adds a class '<!-- x' (ingest takes the name: no control or invisible character) and a metrics file
    # metrics/<!--.json that gate.files' wildcard takes in, and sends 40 of class 1's images to class 2. Before: each
    # note wrote "<!--" raw, and the pull-request comment showed nothing after it, the FAIL line included
    gate = default_params()["gate"] | {"files": ["metrics/evaluate/*.json", "metrics/*.json"]}
    project = committed(tmp_path, gate)
    (project / "metrics" / "ingest.json").write_text('{"rows": 1000}')
    init(project)
    (project / "metrics" / "<!--.json").write_text('{"rows": 100}')
    classes = [*CLASSES, "<!-- x"]
    labels = np.concatenate([labels_of(), np.full(100, "<!-- x", dtype=object)])
    write_variant(project, "baseline", labels, wrong_on(labels, [1, 2, *range(100, 140)], classes=classes),
                  classes=classes)
    code, out = gated(project, capsys, "--variants", "baseline")
    assert code == 1
    assert notes_of(out) == [
        "- baseline: class '&lt;!-- x' is new at workspace: its 100 test images have nothing at HEAD to compare with "
        "(not gated); the others are, and those it takes count as its false positives",
        "- metrics/&lt;!--.json: new at workspace, nothing at HEAD (checked at workspace only)"]
    assert "<!--" not in out
    assert out.splitlines()[-1].startswith("gate: FAIL — 3 regression(s): baseline all (accuracy) -0.0400 (p adj ")


@pytest.mark.hostile("gate")
def test_a_report_that_cannot_be_written_leaves_no_verdict_on_stdout(tmp_path, capsys, monkeypatch):
    # the disk fills as the gate writes --markdown. Before: stdout had printed the whole report, "gate: PASS" last,
    # then came the error line and status 1: a log read "gate: PASS" of a gate that failed
    from winnow import stage

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    project = init(committed(tmp_path, default_params()["gate"]))
    monkeypatch.setattr(stage, "write_text", full)
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / REPORT)])
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()) == (1, "", [
        f"error: gate: {project / REPORT}: No space left on device [ENOSPC]; free space, or fix the path or its "
        "permissions, then rerun"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
def test_a_second_noisy_base_seed_cannot_pool_away_a_drop_the_one_head_run_shows():
    # base seed a1 right on every test image, a second base seed a2 wrong on 15 images of each class 0-8; the one head
    # run loses 30 of class 9's 100 images (recall 1.0 -> 0.7, not halved). Against a1 alone it regresses (30 lost,
    # none gained: p = 2^(-30/1.57), 2e-5 after Holm over 10 classes). Before: with a2 pooled in, phi measured on the
    # other classes' tables (15 lost, none gained: phi 15) took it to "drop not significant" at p adj 1, so adding a
    # base seed passed the drop; the rule that a drop every head run shows alone regresses held only for several head
    # runs
    labels = labels_of()

    run = partial(predictions, labels)

    settings = GateSettings.from_params(default_params()["gate"])
    noisy = [c * 100 + k for c in range(9) for k in range(15)]
    table = paired_rows([run([]), run(noisy)], [run(list(range(900, 930)))], variant="baseline", settings=settings)
    row = table[(table["class"] == "9") & (table["metric"] == "recall")].iloc[0]
    assert (row["base"], row["head"], row["verdict"]) == (1.0, 0.7, "REGRESSED")
    assert row["p_adj"] == pytest.approx(10 * 2 ** (-30 / 1.57))


@pytest.mark.hostile("gate")
def test_test_images_added_to_a_class_the_base_has_are_left_out_and_the_rest_gated(tmp_path, capsys):
    # the change appends 10 images of class 3 to the data (an .npz's rows appended, as the README advises, or files
    # added to a class folder: ingest keeps every other image's split) and renames class 0 to zero; its model loses 30
    # of class 1's 100 images. Before: "error: baseline: base and head were tested on different test sets (0 ids at
    # base only, 10 at head only, e.g. 'test-1000'); the gate pairs the same images: gate runs of the same data and
    # ingest.split_seed ...", advice that fits no such change: no change adding data could pass. Now the added images
    # are left out with a note, as a new class's are, and the images both hold are gated: class 1's drop fails
    project = init(committed(tmp_path, default_params()["gate"]))
    names = {"0": "zero"}
    labels = np.concatenate([labels_of(), np.full(10, "3", dtype=object)])
    predicted = wrong_on(labels, [1, 2, *range(100, 130)])
    write_variant(project, "baseline", np.array([names.get(c, c) for c in labels], dtype=object),
                  np.array([names.get(c, c) for c in predicted], dtype=object),
                  classes=[names.get(c, c) for c in CLASSES])
    code, out = gated(project, capsys, "--variants", "baseline")
    assert code == 1
    assert notes_of(out) == [
        "- baseline: class '0' at HEAD is 'zero' at workspace (every one of its test images): gated under HEAD's name",
        "- baseline: test images new at workspace: 10 of class '3' (e.g. 'test-1000'): nothing at HEAD to compare "
        "them with (not gated); the others are"]
    recall = [line.split(" | ")[2:7] for line in out.splitlines() if line.startswith("| baseline | 1 |")]
    assert recall == [["100", "30", "1.0000", "0.7000", "-0.3000"]]
    assert out.splitlines()[-1].startswith("gate: FAIL — 3 regression(s): baseline all (accuracy) -0.0300 (p adj ")
