"""Hostile inputs to the report, stop 68: the figures of what went in (metrics/ingest.json, metrics/degrade.json)
against the data they count. The project is test_hostile_report_66's: data/ingest of 16 train images of 2 classes;
every expected figure is counted here from what the test writes, never read back from winnow's output."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import make_manifest
from hostile_harness import make_project, refused_line
from test_hostile_report import write_images
from test_hostile_report_66 import dotted_project
from winnow import report_recounts
from winnow.degrade import perturbation_table
from winnow.errors import WinnowError
from winnow.imageset import ImageSet, read_imageset, write_imageset
from winnow.stage import write_table
from winnow.variants import read_rows
from winnow.verdicts import apply_verdicts

INGEST = {"images": 16, "rejected": 1, "split": {"train": 16}, "classes": 2, "exif_oriented": 0}
# data/degrade below: 14 of the 16 train images left, img-0 blurred (kept), img-15 cut by class_subsample
DEGRADE = {"train": {"before": 16, "after": 14}, "perturbed_images": 2, "carrying_images": 1,
           "kind": {"blur": 1, "class_subsample": 1}}


def inputs_project(root, *, ingest: dict, degrade: dict):
    """dotted_project with one rejected file, data/degrade (see DEGRADE) and the two metrics files as given."""
    dotted_project(root)
    pd.DataFrame({"path": ["broken.png"], "reason": "unreadable"}).to_csv(root / "data/ingest/rejected.csv",
                                                                          index=False)
    manifest = make_manifest(14, labels=np.repeat([0, 1], 7))
    planted = perturbation_table([
        {"id": "img-0", "kind": "blur", "original_label": 0, "source_id": None},
        {"id": "img-15", "kind": "class_subsample", "original_label": 1, "source_id": None}])
    write_imageset(root / "data/degrade", np.zeros((14, 8, 8, 1), np.uint8), manifest, ["st.bernard", "pug"],
                   tables={"perturbations.parquet": planted})
    (root / "metrics").mkdir()
    (root / "metrics/ingest.json").write_text(json.dumps(ingest))
    (root / "metrics/degrade.json").write_text(json.dumps(degrade))
    return root


@pytest.mark.hostile("report")
def test_ingest_figures_of_another_run_stop_the_report(tmp_path):
    # found by probing: metrics of another run (metrics/ is git's, data/ DVC's: a `git checkout` of metrics/, then
    # `dvc repro -s report`) read "20 images read (train 20) in 2 classes" above the 16 images the page draws
    root = inputs_project(tmp_path, ingest=INGEST | {"images": 20, "split": {"train": 20}}, degrade=DEGRADE)
    assert refused_line(root, "report") == (
        "error: metrics/ingest.json: images is 20, but data/ingest holds 16: the two are from different runs, or "
        "edited; rerun the ingest stage (dvc repro ingest)")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The data of :func:`inputs_project` as the report reads it: (data/ingest, rejected.csv, data/degrade's
    manifest, its perturbations), once for the module."""
    root = inputs_project(tmp_path_factory.mktemp("inputs"), ingest=INGEST, degrade=DEGRADE)
    return (read_imageset(root / "data/ingest"), pd.read_csv(root / "data/ingest/rejected.csv"),
            read_imageset(root / "data/degrade").manifest, pd.read_parquet(root / "data/degrade/perturbations.parquet"))


@pytest.mark.hostile("report")
@pytest.mark.parametrize("ingest, degrade, problem", [
    (INGEST | {"classes": 5}, DEGRADE,
     "metrics/ingest.json: classes is 5, but data/ingest holds 2: the two are from different runs, or edited; rerun "
     "the ingest stage (dvc repro ingest)"),
    (INGEST | {"rejected": 3}, DEGRADE,
     "metrics/ingest.json: rejected is 3, but data/ingest/rejected.csv holds 1: the two are from different runs, or "
     "edited; rerun the ingest stage (dvc repro ingest)"),
    # "degrade: train split 3,500 → 3,000 images" above a train split of 3,255
    (INGEST, DEGRADE | {"train": {"before": 16, "after": 12}},
     "metrics/degrade.json: train.after is 12, but data/degrade's train split holds 14: the two are from different "
     "runs, or edited; rerun the degrade stage (dvc repro degrade)"),
    (INGEST, DEGRADE | {"train": {"before": 20, "after": 14}},
     "metrics/degrade.json: train.before is 20, but data/ingest's train split holds 16: the two are from different "
     "runs, or edited; rerun the degrade stage (dvc repro degrade)"),
    (INGEST, DEGRADE | {"kind": {"blur": 5, "class_subsample": 1}},
     "metrics/degrade.json: kind.blur is 5, but data/degrade/perturbations.parquet holds 1: the two are from "
     "different runs, or edited; rerun the degrade stage (dvc repro degrade)"),
    (INGEST, DEGRADE | {"carrying_images": 2},
     "metrics/degrade.json: carrying_images is 2, but data/degrade/perturbations.parquet holds 1: the two are from "
     "different runs, or edited; rerun the degrade stage (dvc repro degrade)"),
])
def test_figures_of_what_went_in_that_are_not_the_data_are_refused(written, ingest, degrade, problem):
    ingested, rejected, degraded, planted = written
    with pytest.raises(WinnowError) as refused:
        report_recounts.checked_ingest(ingest, imageset=ingested, rejected=rejected)
        report_recounts.checked_degrade(degrade, ingested=ingested.manifest, degraded=degraded, planted=planted)
    assert str(refused.value) == problem


@pytest.mark.hostile("report")
def test_figures_of_what_went_in_that_are_the_data_pass(written):
    ingested, rejected, degraded, planted = written
    assert report_recounts.checked_ingest(INGEST, imageset=ingested, rejected=rejected) == INGEST
    assert report_recounts.checked_degrade(DEGRADE, ingested=ingested.manifest, degraded=degraded,
                                           planted=planted) == DEGRADE


def reviewed_rows():
    """Pruned's rows of four train images a..d (given 0, 0, 1, 1; pruned had changed none) with four verdicts applied
    as the variants stage applies them: two accepted suggestions, one class of the person's own, one reject."""
    baseline = pd.DataFrame({"id": ["a", "b", "c", "d"], "label": [0, 0, 1, 1]})
    kept = baseline.assign(action="keep", reason="", stage="")
    verdicts = pd.DataFrame({"id": ["a", "b", "c", "d"], "verdict": ["accept", "accept", "relabel", "reject"],
                             "label": [1, 2, 2, 1]})
    return apply_verdicts(kept, verdicts, baseline=baseline)[0]


@pytest.mark.hostile("report")
def test_review_counts_of_another_run_than_prunes_rows_stop_the_report():
    # found by probing: metrics/variants.json (git's) of another run beside data/variants (DVC's) read "People
    # reviewed 12 decisions: 9 confirmed, 3 overruled" above a pruned that 4 verdicts made; the counts only had to
    # add up. 4 verdicts, 1 a class of the person's own: counted from the verdicts above, not from winnow's counts
    rows = reviewed_rows()
    review = {"verdicts": 4, "confirmed": 1, "overruled": 3, "relabelled_by_person": 1}
    assert report_recounts.checked_review({"review": review}, rows=rows, path="metrics/variants.json") == {
        "review": review}
    with pytest.raises(WinnowError) as refused:
        report_recounts.checked_review({"review": {"verdicts": 12, "confirmed": 9, "overruled": 3,
                                                   "relabelled_by_person": 1}}, rows=rows, path="metrics/variants.json")
    assert str(refused.value) == (
        "metrics/variants.json: review.verdicts is 12, but data/variants/pruned/rows.parquet holds 4: the two are from "
        "different runs, or edited; rerun the variants stage (dvc repro variants)")
    # the same count of verdicts, another person's class: "0 relabelled to a class the person chose"
    with pytest.raises(WinnowError) as refused:
        report_recounts.checked_review({"review": review | {"relabelled_by_person": 0}}, rows=rows,
                                       path="metrics/variants.json")
    assert str(refused.value) == (
        "metrics/variants.json: review.relabelled_by_person is 0, but data/variants/pruned/rows.parquet holds 1: the "
        "two are from different runs, or edited; rerun the variants stage (dvc repro variants)")


@pytest.mark.hostile("report")
def test_version_rows_of_images_not_in_the_data_stop_the_report(tmp_path):
    # found by probing: pruned's rows of another run beside data/degrade (t0..t3, given a, b, a, b), one of them
    # relabelling an image other-9 that data/degrade does not hold: the page read "pruned: 5 train images" of 4, a
    # relabel "b → b" (the row's own label taken for the one it was given) and counted it under class b
    project = make_project(tmp_path)
    write_images(project, copies={})
    rows = pd.DataFrame({"id": ["t0", "t1", "t2", "t3", "other-9"], "origin": "degrade", "label": [0, 1, 0, 1, 1],
                         "action": ["keep"] * 4 + ["relabel"], "reason": [""] * 4 + ["0->1: label_issue"],
                         "stage": [""] * 4 + ["confident_learn"]})
    write_table(project / "data/variants/pruned/rows.parquet", rows)
    assert refused_line(project, "report") == (
        "error: data/variants/pruned/rows.parquet: image 'other-9' is not in the degrade imageset; rerun the variants "
        "stage (dvc repro variants)")


# data/degrade of four train images t0..t3 labelled a, b, a, b and a val image v0; pruned as the variants stage would
# write it from them (t2 relabelled to b by a cleaner) is read as it is
DEGRADED = ImageSet(np.zeros((5, 1, 1, 1), np.uint8), pd.DataFrame({
    "id": ["t0", "t1", "t2", "t3", "v0"], "split": ["train"] * 4 + ["val"], "label": [0, 1, 0, 1, 0]}), ["a", "b"])
PRUNED = pd.DataFrame({"id": ["t0", "t1", "t2", "t3"], "origin": "degrade", "label": [0, 1, 1, 1],
                       "action": ["keep", "keep", "relabel", "keep"], "reason": ["", "", "0->1: label_issue", ""],
                       "stage": ["", "", "confident_learn", ""]})


def test_version_rows_of_this_degrade_pass(tmp_path):
    write_table(tmp_path / "pruned/rows.parquet", PRUNED)
    assert read_rows("pruned", root=tmp_path, num_classes=2, imagesets={"degrade": DEGRADED}).equals(PRUNED)


@pytest.mark.hostile("report")
@pytest.mark.parametrize("rows, problem", [
    # rows of another degrade (its seed changed: it had flipped t3 to a, and a cleaner relabelled it back) over the
    # same ids: before, the page drew "relabel b -> b" and counted it under class b
    (PRUNED.assign(label=[0, 1, 1, 1], action=["keep", "keep", "relabel", "relabel"]),
     "image 't3' is relabelled to 'b', the degrade imageset labels it 'b' (1 such row(s)): made from another "
     "degrade"),
    # ... or one that had flipped t1 to a: "Train images per class" counted the old label
    (PRUNED.assign(label=[0, 0, 1, 1]),
     "image 't1' keeps label 'a', the degrade imageset labels it 'b' (1 such row(s)): made from another degrade"),
    # ... or one that held fewer train images: "pruned: 3 train images" over a train split of 4
    (PRUNED.iloc[:3],
     "image 't3' of the degrade imageset's train split has no row (1 such image(s)): made from another degrade"),
    (pd.concat([PRUNED, PRUNED.iloc[[0]].assign(id="v0")], ignore_index=True),
     "image 'v0' is in the val split of the degrade imageset: a variant trains on train images only (a val or test "
     "image trained on flatters the score it is chosen or judged by)"),
])
def test_version_rows_of_another_degrade_over_the_same_ids_stop_the_report(tmp_path, rows, problem):
    write_table(tmp_path / "pruned/rows.parquet", rows)
    with pytest.raises(WinnowError) as refused:
        read_rows("pruned", root=tmp_path, num_classes=2, imagesets={"degrade": DEGRADED})
    assert str(refused.value) == (f"{tmp_path / 'pruned/rows.parquet'}: {problem}; rerun the variants stage (dvc "
                                  "repro variants)")


def test_review_counts_of_a_pruned_no_verdict_touched_pass():
    # the default run: no reason names a review. Before, the recount's sum over no rows was '' and the report stage
    # ended in "ValueError: invalid literal for int() with base 10: ''" (found by the lead's dvc repro)
    rows = pd.DataFrame({"id": ["a", "b", "c"], "reason": ["isolated", "", None]})
    review = {"verdicts": 0, "confirmed": 0, "overruled": 0, "relabelled_by_person": 0}
    assert report_recounts.checked_review({"review": review}, rows=rows, path="metrics/variants.json") == {
        "review": review}
