"""Review 71's cases beside the mends of probe 71 (test_hostile_variants_71.py, test_hostile_score_71.py):

- a variant's rows whose label column is text or booleans: refused as the decision files' labels are since probe 71,
  not read as numbers ("0.0" was a ValueError traceback where training cast it; booleans were told "made from another
  degrade");
- data/ingest holding an image data/degrade lacks and did not remove (a file added to the source, only ingest rerun):
  refused naming degrade, as a redrawn split is; an image degrade's log records removing is no error;
- the budget's record of the cleaner files it chose among, checked against the files of pruned.cleaners: a record
  lacking one of them was no check of it, and one naming another file hashed that file and said "the its stage";
- an original size that data/ingest holds past what an image file holds, or not a whole size: refused by degrade naming
  ingest, not by score naming degrade, whose rerun copied it again; a text column of sizes at score, a traceback.

Stage cases run the real script in this process (test_hostile_threshold_64's helper) on a copy of review_project.py's
project or on a throwaway one of a few small images; the rows cases call the library the stages call."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, edit_table, files_under, undamaged_params
from review_project import write_project
from test_hostile_budget import budget_stage
from test_hostile_score_71 import _project
from test_hostile_threshold_64 import _stage_in_process
from test_hostile_variants_71 import DECISIONS, _column, _refused
from winnow import variants
from winnow.degrade import perturbation_table
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset

ROWS = "data/variants/pruned/rows.parquet"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return write_project(tmp_path_factory.mktemp("variants71r") / "project")


@pytest.fixture
def project(made, tmp_path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "project"))


def _add_to_ingest(project: Path, image_id: str, split: str) -> None:
    """data/ingest with one image more, ``image_id`` of class cat in ``split``, that data/degrade lacks."""
    ingested = read_imageset(project / "data/ingest")
    manifest = ingested.manifest.drop(columns="digest")
    manifest = pd.concat([manifest, manifest.iloc[[0]].assign(id=image_id, split=split)], ignore_index=True)
    extra = np.random.default_rng(7).integers(0, 256, (1, *ingested.images.shape[1:]), dtype=np.uint8)
    write_imageset(project / "data/ingest", np.concatenate([np.array(ingested.images), extra]), manifest,
                   ingested.classes)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("change", "kind"), [
    # before: passed read_rows (pd.to_numeric read "0.0" as 0), then "ValueError: invalid literal for int() with base
    # 10: '0.0'", a traceback, where learnt_ids cast the labels (evaluate, balance, gan-synthesize)
    (lambda labels: labels.map(lambda label: f"{label}.0"), "str"),
    # before: "image 'train-08' keeps label 'dog', the degrade imageset labels it 'owl' (4 such row(s)): made from
    # another degrade; rerun the variants stage": booleans read as classes 0 and 1
    (lambda labels: labels > 0, "bool"),
], ids=["text", "booleans"])
def test_variant_rows_whose_labels_are_text_or_booleans_are_refused_as_no_class_indices(project, monkeypatch, capsys,
                                                                                       change, kind):
    assert _stage_in_process(project, "variants", monkeypatch, capsys).returncode == 0
    _column(project / ROWS, "label", change)
    with pytest.raises(WinnowError) as refused:
        variants.learnt_ids("pruned")
    assert str(refused.value) == (f"{ROWS}: label holds {kind} values, not class indices; rerun the variants stage "
                                  "(dvc repro variants)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("split", ["train", "val"])
def test_an_image_ingest_read_anew_that_degrade_lacks_is_refused_naming_degrade(project, monkeypatch, capsys, split):
    # a file added to the source, and only ingest reran. Before: "variants: oracle 13 train images, baseline 12 train
    # images, pruned 10 train images", exit 0 (the check compared the splits of degrade's images alone)
    _add_to_ingest(project, "new-0", split)
    assert _refused(project, "variants", monkeypatch, capsys) == (
        f"error: data/degrade: 1 image(s) of data/ingest now are not here, and degrade removed none of them (first: id "
        f"'new-0', a {split} image there): made before ingest read the images anew; rerun the degrade stage (dvc "
        "repro degrade)")


@pytest.mark.hostile("intermediates")
def test_an_image_degrade_removed_is_no_image_it_lacks(project, monkeypatch, capsys):
    # degrade's log records removing gone-0 (subsample), as degrade writes it: oracle has it, baseline does not
    _add_to_ingest(project, "gone-0", "train")
    log = perturbation_table([{"id": "gone-0", "kind": "subsample", "params": '{"keep": 0.9}', "source_id": None,
                               "original_label": 0}])
    log.to_parquet(project / "data/degrade/perturbations.parquet", index=False)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.splitlines() == ["variants: oracle 13 train images, baseline 12 train images, pruned 10 train "
                                        "images"]


def _budget_off(project: Path, monkeypatch, capsys) -> None:
    """The budget stage's own decisions file (budget off: every decision of the cleaners), written in this process (what
    it printed read away)."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["budget"]["enabled"] = False
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / DECISIONS).unlink()
    monkeypatch.chdir(project)
    budget_stage().main()
    capsys.readouterr()


def _records(change):
    """A change for :func:`edit_table`: the decisions' record of cleaner files as ``change`` (of a dict) returns it."""
    def rewrite(table):
        records = dict(table.attrs)
        table.attrs = {**records, "cleaner_files": change(dict(records["cleaner_files"]))}
        return table

    return rewrite


@pytest.mark.hostile("intermediates")
def test_a_record_of_cleaner_files_lacking_one_it_chose_among_is_refused(project, monkeypatch, capsys):
    # before: exit 0: only the files the record names were compared, so one without threshold's flags (another tool's
    # copy of the file) applied its drops whatever threshold had written since
    _budget_off(project, monkeypatch, capsys)
    edit_table(project / DECISIONS, _records(lambda files: {k: v for k, v in files.items() if "threshold" not in k}))
    _column(project / "data/threshold/flags.parquet", "dark", lambda dark: dark.index == 1)
    assert _refused(project, "variants", monkeypatch, capsys) == (
        f"error: {DECISIONS}: records no bytes of data/threshold/flags.parquet, whose decisions it chose among; rerun "
        "the budget stage (dvc repro budget)")


@pytest.mark.hostile("intermediates")
def test_a_record_naming_a_file_no_cleaner_writes_checks_the_cleaners_files_alone(project, monkeypatch, capsys):
    # before: "chosen among the decisions of data/degrade/images.npy as it was before the its stage wrote it anew
    # (its bytes differ now)": whatever file the record named was hashed, however large, and named as no stage's
    _budget_off(project, monkeypatch, capsys)
    edit_table(project / DECISIONS, _records(lambda files: {**files, "data/degrade/images.npy": "0" * 64}))
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.splitlines() == ["variants: oracle 12 train images, baseline 12 train images, pruned 9 train "
                                        "images"]


def _sizes_project(root: Path, change) -> Path:
    """A project of 12 small images, all train, two classes, whose data/ingest manifest's orig_w is as ``change`` (a
    function of the column) returns it; degrade copies data/ingest (degrade.enabled false)."""
    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    _project(root, images, undamaged_params())
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet").drop(columns=["digest"])
    manifest["orig_w"] = change(manifest["orig_w"])
    write_imageset(root / "data/ingest", images, manifest, ["a", "b"])
    shutil.rmtree(root / "data/degrade")
    return root


@pytest.mark.hostile("score")
@pytest.mark.parametrize(("size", "problem"), [
    (1e20, "of an original size past 2,147,483,647 pixels a side, more than an image file holds, first 'i003' (8 x "
           "1e+20)"),
    (0.0, "without a whole original size of at least 1 pixel, first 'i003' (8 x 0.0)"),
], ids=["past_a_file", "zero"])
def test_an_original_size_data_ingest_holds_wrong_is_refused_by_degrade_naming_ingest(tmp_path, monkeypatch, capsys,
                                                                                      size, problem):
    # before: degrade copied it, exit 0, and score refused it naming data/degrade/manifest.parquet and "rerun the
    # degrade stage", whose rerun copied it again: the fix the line named did not work
    root = _sizes_project(tmp_path, lambda widths: widths.astype(np.float64).mask(widths.index == 3, size))
    assert _refused(root, "degrade", monkeypatch, capsys) == (
        f"error: data/ingest/manifest.parquet: 1 image(s) {problem}; rerun the ingest stage (dvc repro ingest)")
    assert not (root / "data/degrade").exists()


@pytest.mark.hostile("score")
def test_original_sizes_as_text_are_refused_by_score_not_a_traceback(tmp_path, monkeypatch, capsys):
    # before: "ValueError: could not convert string to float: 'x'", a traceback (and "9" as text passed)
    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    root = _project(tmp_path, images, undamaged_params())
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet").drop(columns=["digest"])
    manifest["orig_w"] = manifest["orig_w"].astype(str).mask(manifest.index == 3, "x")
    write_imageset(root / "data/degrade", images, manifest, ["a", "b"])
    before = files_under(root)
    done = _stage_in_process(root, "score", monkeypatch, capsys)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        "error: data/degrade/manifest.parquet: orig_w holds str values, not sizes in pixels; rerun the degrade stage "
        "(dvc repro degrade)"]
    assert_nothing_left(root, before)
