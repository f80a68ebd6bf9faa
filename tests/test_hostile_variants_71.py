"""Hostile variants cases of probe 71: what the variants stage reads beside the budget's decisions, damaged or stale.

- the budget's decisions with a ``label`` column of text (another tool's copy of the file): refused as no class
  indices, not compared as text (a relabel of a dog to "1" was pruned's "1->1"); a label cleaner's ``suggested_label``
  of text alike, at the budget ("2.0" was a traceback);
- the budget's decisions with a null or boolean ``given_label``: refused as the label cleaners' given labels are, not
  called decisions of other labels (null) nor read as classes 0 and 1 (booleans);
- data/degrade of the splits before ingest drew them anew (only ingest reran): refused naming degrade, not written as
  baseline and pruned of the old train split beside oracle of the new one (an image moved into val), nor without an
  image ingest moved into train;
- the budget's decisions chosen among a cleaner's file that cleaner wrote anew since (it reran alone): refused, as the
  budget records each file's bytes, not applied as the decisions of the cleaner's file now.

On the project of review_project.py (train-00..11, cat/dog/owl four each; the budget drops train-00 and train-02 and
relabels train-04 to owl and train-06 to cat), made once for the module; each case on a copy, its stage run in this
process (test_hostile_threshold_64's helper)."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from hostile_harness import assert_error_line, assert_nothing_left, edit_table, files_under
from review_project import write_project
from test_hostile_threshold_64 import _stage_in_process
from test_hostile_budget import budget_stage
from winnow.imageset import read_imageset, write_imageset

DECISIONS = "data/budget/decisions.parquet"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return write_project(tmp_path_factory.mktemp("variants71") / "project")


@pytest.fixture
def project(made, tmp_path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "project"))


def _refused(project: Path, stage: str, monkeypatch, capsys) -> str:
    """Run ``stage`` in this process on ``project``: its one ``error:`` line, nothing left behind."""
    before = files_under(project)
    line = assert_error_line(_stage_in_process(project, stage, monkeypatch, capsys))
    assert_nothing_left(project, before)
    return line


def _column(path: Path, column: str, change) -> None:
    """Rewrite ``column`` of the parquet table at ``path`` as ``change`` (a function of the column) returns it, the
    table's metadata (the budget's records) kept."""
    def rewrite(table):
        records = dict(table.attrs)
        table = table.assign(**{column: change(table[column])})
        table.attrs = records
        return table

    edit_table(path, rewrite)


def _ingest_split(project: Path, image_id: str, split: str) -> None:
    """data/ingest rewritten as ingest rerun alone after a redraw of its splits leaves it: ``image_id`` in ``split``."""
    ingested = read_imageset(project / "data/ingest")
    manifest = ingested.manifest.drop(columns="digest")
    manifest.loc[manifest["id"] == image_id, "split"] = split
    write_imageset(project / "data/ingest", np.array(ingested.images), manifest, ingested.classes)


@pytest.mark.hostile("intermediates")
def test_budget_decisions_whose_labels_are_text_are_refused_not_compared_as_text(project, monkeypatch, capsys):
    # before: with the column as text and train-04's relabel to its own class dog, "1", pruned relabelled it "1->1"
    # (text "1" is not the label 1, so no relabel to the label it has), exit 0; train@pruned then refused the rows
    # naming the variants stage, whose rerun wrote them again
    _column(project / DECISIONS, "label", lambda labels: labels.astype(str).replace("2", "1"))
    assert _refused(project, "variants", monkeypatch, capsys) == (
        f"error: {DECISIONS}: label holds str values, not class indices; rerun the budget stage (dvc repro budget)")


@pytest.mark.hostile("intermediates")
def test_a_label_cleaners_suggested_labels_as_text_are_refused_by_the_budget(project, monkeypatch, capsys):
    # before: a traceback in the budget (cleaner_decisions' int("2.0")), budget off or on
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["budget"]["enabled"] = False
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / DECISIONS).unlink()
    issues = "data/confident-learn/label_issues.parquet"
    _column(project / issues, "suggested_label", lambda labels: labels.map(lambda label: f"{label}.0"))
    assert _refused(project, "budget", monkeypatch, capsys) == (
        f"error: {issues}: suggested_label holds str values, not class indices; rerun the confident-learn stage (dvc "
        "repro confident-learn)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("change", "problem"), [
    # before: "1 decision(s) were made on other labels or pixels than data/degrade's now (first: id 'train-02', label
    # nan then, 0 now): made before degrade changed the data"
    (lambda given: given.astype(float).mask(given.index == 1), "row 1 has no given_label"),
    # before: read as classes 0 and 1, and pruned written, exit 0
    (lambda given: given.astype(bool), "given_label holds bool values, not class indices"),
])
def test_budget_decisions_whose_given_labels_are_no_class_indices_are_refused_as_such(project, monkeypatch, capsys,
                                                                                      change, problem):
    _column(project / DECISIONS, "given_label", change)
    assert _refused(project, "variants", monkeypatch, capsys) == (
        f"error: {DECISIONS}: {problem}; rerun the budget stage (dvc repro budget)")


@pytest.mark.hostile("intermediates")
def test_a_degrade_of_the_splits_before_ingest_drew_them_anew_is_refused_naming_degrade(project, monkeypatch, capsys):
    # train-05 is a val image of data/ingest now (ingest.val_fraction changed, and only ingest reran). Before:
    # "oracle 11 train images, baseline 12 train images, pruned 10", exit 0, and train@baseline then refused the rows
    # naming the variants stage, whose rerun alone wrote them again
    _ingest_split(project, "train-05", "val")
    assert _refused(project, "variants", monkeypatch, capsys) == (
        "error: data/degrade: 1 image(s) are in another split of data/ingest now (first: id 'train-05', train here, "
        "val there): made before ingest split the images anew; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
def test_a_degrade_of_the_splits_before_ingest_moved_a_val_image_into_train_is_refused(project, monkeypatch, capsys):
    # val-0 is a train image of data/ingest now. Before: exit 0, baseline and pruned without it beside oracle with it
    _ingest_split(project, "val-0", "train")
    assert _refused(project, "variants", monkeypatch, capsys) == (
        "error: data/degrade: 1 image(s) are in another split of data/ingest now (first: id 'val-0', val here, train "
        "there): made before ingest split the images anew; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
def test_decisions_chosen_among_flags_threshold_wrote_anew_since_are_refused_not_applied(project, monkeypatch, capsys):
    # the budget's own file (off: every decision of the cleaners), then threshold reruns alone with other cuts: train-00
    # is flagged no more, train-01 is. Before: pruned still dropped train-00 as dark and kept train-01, exit 0
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["budget"]["enabled"] = False
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / DECISIONS).unlink()
    monkeypatch.chdir(project)
    budget_stage().main()  # in this process: a second one would spend seconds importing torch
    flags = "data/threshold/flags.parquet"
    _column(project / flags, "dark", lambda dark: dark.index == 1)
    _column(project / flags, "any", lambda flagged: flagged.index == 1)
    assert _refused(project, "variants", monkeypatch, capsys) == (
        f"error: {DECISIONS}: chosen among the decisions of {flags} as it was before the threshold stage wrote it anew "
        "(its bytes differ now); rerun the budget stage (dvc repro budget)")
