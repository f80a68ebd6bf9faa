"""Hostile params for the training thread count: the train stage stops before reading any data."""

import pytest

from hostile_harness import (assert_error_line, assert_nothing_left, default_params, files_under, make_project,
                             run_stage)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("threads", [0, -2, 1.5, "two", True])
def test_train_stage_rejects_a_thread_count_that_is_not_a_positive_whole_number(tmp_path, threads):
    params = default_params()
    params["train"]["threads"] = threads
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    done = run_stage(project, "train", "baseline")
    assert_error_line(done, "train.threads", "whole number >= 1 or null", repr(threads))
    assert_nothing_left(project, before)
