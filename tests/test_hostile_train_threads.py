"""Hostile params for the training thread count: the train stage stops before reading any data."""

import pytest

from hostile_harness import (assert_error_line, assert_nothing_left, default_params, files_under, make_project,
                             run_stage)


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("threads", "why"), [
    (0, "0 is below 1"),
    (-2, "-2 is below 1"),
    (1.5, "1.5 is not an integer; allowed: null or an integer in [1, 1024]"),
    ("two", '"two" is a string, not null or an integer in [1, 1024]'),
    (True, "true is a boolean, not null or an integer in [1, 1024]"),
    (100_000, "100000 is above 1024"),  # before: torch segfaulted (exit 139, no word)
    (2**31, "2147483648 is above 1024"),  # before: a traceback, "Overflow when unpacking long"
])
def test_train_stage_rejects_a_thread_count_that_is_not_a_positive_whole_number(tmp_path, threads, why):
    params = default_params()
    params["train"]["threads"] = threads
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    done = run_stage(project, "train", "baseline")
    assert assert_error_line(done) == f"error: params.yaml: train.threads: {why}"
    assert_nothing_left(project, before)
