"""Hostile inputs to the merge gate, probe 71. The gate runs in-process (:func:`winnow.cli.main`) and its lines are
asserted whole.

- a gated metrics file missing at the target, taken out of the target's gate.files as the refusal advised: the same
  refusal came back, as the gate reads gate.files at the base; the line now says where to take it out;
- a base's gate.tolerances without an accuracy entry: the refusal told the user to add a recall pattern, which matches
  no accuracy; it now gives an accuracy entry.
"""

import pytest
import yaml
from gate_repo import init, labels_of, write_both_variants, wrong_on
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from winnow.cli import main as winnow

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
    params = default_params() | {"gate": gate | {"files": ["metrics/evaluate/*.json"]}}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
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
