"""Hostile inputs to the report's versions table (issue 21 item 4): what it pairs image by image and the
review counts it shows; each case runs the real report stage on a project holding only what it reads."""

import pandas as pd
import pytest

from hostile_harness import assert_error_line, assert_nothing_left, files_under, run_stage
from test_report_versions import BASELINE_ERRORS, wrong_on, write_project

VERSIONS = ("baseline", "pruned")


def project(tmp_path, **kw):
    return write_project(tmp_path, {v: wrong_on(BASELINE_ERRORS) for v in VERSIONS}, **kw)


@pytest.mark.hostile("report")
def test_a_version_without_its_test_predictions_stops_the_report(tmp_path):
    root = project(tmp_path)
    (root / "metrics/evaluate/pruned/predictions.csv").unlink()
    before = files_under(root)
    done = run_stage(root, "report")
    assert_error_line(done, "metrics/evaluate/pruned/predictions.csv: not found", "rerun the evaluate@pruned stage")
    assert_nothing_left(root, before)


@pytest.mark.hostile("report")
def test_predictions_of_other_test_images_are_not_paired_with_baseline(tmp_path):
    root = project(tmp_path)
    path = root / "metrics/evaluate/pruned/predictions.csv"
    table = pd.read_csv(path, dtype=str)
    table.loc[0, "id"] = "elsewhere"
    table.to_csv(path, index=False)
    before = files_under(root)
    done = run_stage(root, "report")
    assert_error_line(done, "metrics/evaluate/pruned/predictions.csv against baseline: base and head were tested on "
                            "different test sets (1 ids at base only, 1 at head only",
                      "rerun `dvc repro evaluate` so that every version is tested on the same test split")
    assert_nothing_left(root, before)


@pytest.mark.hostile("report")
def test_a_prediction_of_a_class_the_model_does_not_have_stops_the_report(tmp_path):
    root = project(tmp_path)
    path = root / "metrics/evaluate/pruned/predictions.csv"
    table = pd.read_csv(path, dtype=str)
    table.loc[5, "predicted"] = "wolf"
    table.to_csv(path, index=False)
    before = files_under(root)
    done = run_stage(root, "report")
    assert_error_line(done, "metrics/evaluate/pruned/predictions.csv: class 'wolf' is not one of the 3 classes "
                            "evaluated", "rerun the evaluate@pruned stage")
    assert_nothing_left(root, before)


@pytest.mark.hostile("report")
def test_a_review_count_that_is_not_a_count_stops_the_report(tmp_path):
    root = project(tmp_path, review={"verdicts": 12, "confirmed": "nine", "overruled": 3, "relabelled_by_person": 0})
    before = files_under(root)
    done = run_stage(root, "report")
    assert_error_line(done, "metrics/variants.json: review.confirmed is 'nine', not a count",
                      "rerun the variants stage")
    assert_nothing_left(root, before)
