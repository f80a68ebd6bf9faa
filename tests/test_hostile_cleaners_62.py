"""Hostile cases for the label cleaners, third pass: what the earlier passes left open (data-valuation's row
order, ...). The stage cases build the tiny data/degrade of :func:`test_hostile_cleaners_more._project`, whose
represent embedding puts each class in a cluster of its own, and run the real stage through the harness."""

from __future__ import annotations

import pandas as pd
import pytest

from hostile_harness import run_stage
from test_hostile_cleaners_more import _project


@pytest.mark.hostile("intermediates")
def test_data_valuation_values_the_same_images_in_another_row_order_the_same(tmp_path):
    # before: TracIn dealt its minibatches and kNN-Shapley ranked tied neighbours by row position, so data/degrade's
    # rows reversed (ids, labels and embedding unchanged) moved an image's harm, the budget's confidence, by up to
    # 0.17 and changed a drop (35 drops, 34 reversed) on these 450 images
    flips = {f"train-{c}-{i}": (c + 1) % 3 for c in range(3) for i in range(100, 115)}
    tables = []
    for reverse in (False, True):
        project = _project(tmp_path / str(reverse), [150, 150, 150], noise=2.0, flips=flips, reverse=reverse)
        done = run_stage(project, "data_valuation")
        assert done.returncode == 0, done.stdout + done.stderr
        tables.append(pd.read_parquet(project / "data/data-valuation/decisions.parquet").set_index("id").sort_index())
    decisions, reversed_decisions = tables
    assert len(decisions) == 450
    pd.testing.assert_frame_equal(reversed_decisions, decisions)
