"""Hostile params for early stopping: a patience that is not a whole number of epochs >= 1 (or null) stops
the stage that trains with it before it reads any data."""

import pytest

from hostile_harness import (assert_error_line, assert_nothing_left, default_params, files_under, make_project,
                             run_stage)


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("stage", "section", "patience", "why"), [
    (("train", "baseline"), ("train",), 0, "train.patience: 0 is below 1"),
    (("train", "baseline"), ("train",), "5", 'train.patience: "5" is a string, not null or an integer >= 1 '
                                             "(write numbers without quotes)"),
    (("confident_learn",), ("confident_learn", "train"), 2.5,
     "confident_learn.train.patience: 2.5 is not an integer; allowed: null or an integer >= 1"),
    (("embedding_clean",), ("embedding_clean", "train"), -1, "embedding_clean.train.patience: -1 is below 1"),
], ids=["train_zero", "train_quoted", "confident_learn_fraction", "embedding_clean_negative"])
def test_a_stage_refuses_a_patience_that_is_not_a_whole_number_of_epochs(tmp_path, stage, section, patience, why):
    params = default_params()
    target = params
    for key in section:
        target = target[key]
    target["patience"] = patience
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    done = run_stage(project, *stage)
    assert assert_error_line(done) == f"error: params.yaml: {why}"
    assert_nothing_left(project, before)
