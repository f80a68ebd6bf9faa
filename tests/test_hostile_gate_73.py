"""Hostile inputs to the merge gate, probe 73. The gate runs in-process (:func:`winnow.cli.main`) and its lines are
asserted whole.

- a variant new at the target (listed in its params.yaml) whose metrics file holds a null accuracy: refused as the
  base's gate.files pattern's fault ("its stage writes text ... narrow the pattern to files of numbers, e.g.
  metrics/evaluate/*.json", the pattern itself), the file being held at one revision alone; so was a null in a commit
  gated against itself (--base HEAD --target HEAD), its problem named twice; now the value is named as a value gone
  wrong, once;
- a stray metrics/evaluate/metrics.json new at the target beside a gated file deleted there (metrics/dedup.json):
  "metrics" was read as a variant not gated, every file under metrics/ as its own, and the deletion passed; it is
  refused as without the stray file;
- a class removed at the target (its test images gone): refused, as it must be, but told to "compare them with winnow
  compare", which compares variants over one setting's seeds, never two revisions; the line now says what the gate
  takes (test images added) and what it refuses (any removed).
"""

import json

import pytest
from gate_repo import CLASSES, commit, init, labels_of, write_both_variants, write_variant, wrong_on
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from winnow.cli import main as winnow
from winnow.metrics import metrics_path

REPORT = "reports/gate.md"


def committed(tmp_path, params: dict | None = None):
    """A committed base of baseline and pruned evaluated on 1,000 test images (wrong on 2), its params.yaml
    ``params`` (default: today's)."""
    project = make_project(tmp_path / "project", params or default_params())
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    return init(project)


def refused(project, capsys, *args: str) -> list[str]:
    """The gate's stderr lines against HEAD, once it exits 1 with nothing on stdout and nothing left behind."""
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / REPORT), *args])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert_nothing_left(project, before)
    return err.splitlines()


def null_accuracy(project, variant: str) -> None:
    """``variant``'s evaluate metrics file with its accuracy written as JSON null (a value gone wrong)."""
    path = project / metrics_path(variant)
    path.write_text(json.dumps(json.loads(path.read_text()) | {"accuracy": None}))


@pytest.mark.hostile("gate")
def test_a_null_in_a_new_variants_metrics_is_named_as_a_value_not_blamed_on_the_pattern(tmp_path, capsys):
    # the change adds augmented to variants and commits its evaluate files, its accuracy null (a hand edit). Before:
    # "params.yaml at HEAD: gate.files: metrics/evaluate/augmented.json holds accuracy = None at every revision gated:
    # its stage writes text ... narrow the pattern to files of numbers, e.g. metrics/evaluate/*.json; ... correct them
    # there": the file was held at one revision, so "every revision", and the fix offered was the pattern itself
    project = committed(tmp_path)
    params = default_params()
    make_project(project, params | {"variants": [*params["variants"], "augmented"]})
    labels = labels_of()
    write_variant(project, "augmented", labels, wrong_on(labels, [1, 2]))
    null_accuracy(project, "augmented")
    assert refused(project, capsys) == [
        "error: gated metrics are not all finite numbers: metrics/evaluate/augmented.json at workspace: accuracy = None "
        "(rerun the stage that writes them and commit its outputs)"]


@pytest.mark.hostile("gate")
def test_a_null_in_a_commit_gated_against_itself_is_named_once_as_a_value(tmp_path, capsys):
    # --base HEAD --target HEAD, HEAD's baseline accuracy null. Before: blamed on the pattern as above (one revision,
    # so "every revision gated"), and, once that was mended, named twice, HEAD being on both sides
    project = committed(tmp_path)
    null_accuracy(project, "baseline")
    commit(project, "a null accuracy")
    assert refused(project, capsys, "--target", "HEAD") == [
        "error: gated metrics are not all finite numbers: metrics/evaluate/baseline.json at HEAD: accuracy = None "
        "(rerun the stage that writes them and commit its outputs)"]


@pytest.mark.hostile("gate")
def test_a_stray_file_in_evaluates_folder_cannot_hide_a_gated_file_deleted_at_the_target(tmp_path, capsys):
    # the base gates metrics/dedup.json too; the change deletes it and leaves a file of its own in metrics/evaluate/.
    # Before: "metrics" (metrics/evaluate/metrics.json) was taken for a variant the gate does not pair, every gated
    # path under metrics/ for one of its files, and the gate passed without a word of either file
    gate = default_params()["gate"] | {"files": ["metrics/evaluate/*.json", "metrics/dedup.json"]}
    project = make_project(tmp_path / "project", default_params() | {"gate": gate})
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    (project / "metrics/dedup.json").write_text('{"detection": {"f1": 0.9}}')
    init(project)
    (project / "metrics/dedup.json").unlink()
    (project / "metrics/evaluate/metrics.json").write_text('{"rows": 10}')
    assert refused(project, capsys) == [
        "error: metrics/dedup.json missing at workspace (HEAD holds it): params.yaml gate.files gates it at every "
        "revision; rerun the stage that writes it and commit it at workspace, or take it out of gate.files at HEAD "
        "(the gate takes its settings from HEAD)"]


@pytest.mark.hostile("gate")
def test_a_class_removed_at_the_target_is_not_sent_to_winnow_compare(tmp_path, capsys):
    # the change drops class 9 (its 100 test images) from the data, and evaluates both variants on the other 900.
    # Before: "...; the gate pairs the same images: gate runs of the same data and ingest.split_seed (it carves val
    # and test; seed does not), or compare them with winnow compare": compare sets variants side by side over the
    # seeds of one setting, never two revisions, and leaves out a commit of another data set; what the gate takes
    # (images added, left out) and refuses (images removed) is said instead
    project = committed(tmp_path)
    labels = labels_of(classes=CLASSES[:9])
    for variant in ("baseline", "pruned"):
        write_variant(project, variant, labels, wrong_on(labels, [1, 2], classes=CLASSES[:9]), classes=CLASSES[:9])
    assert refused(project, capsys) == [
        "error: baseline: base and head were tested on different test sets (100 ids at base only, 0 at head only, e.g. "
        "'test-0900'); the gate pairs the same images: gate runs of the same data and ingest.split_seed (it carves val "
        "and test; seed does not); test images may be added (they are left out, not gated), none removed"]
