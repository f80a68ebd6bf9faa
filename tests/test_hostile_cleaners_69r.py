"""Hostile cases for the label cleaners, stop 69 review: what measured_val leaves out of measuring the judge is
counted in the cleaner's metrics, as data-valuation's metrics count it, not only printed."""

from __future__ import annotations

import json

import pytest

from test_contracts import _stage_module
from test_hostile_cleaners_69 import _repeating_val


@pytest.mark.hostile("intermediates")
def test_the_val_images_left_out_of_measuring_the_judge_are_counted_in_its_metrics(tmp_path, monkeypatch):
    # 6 val pictures twice each, val-1-5 (a copy of val-1-4) labelled a: the second copy of each of the other 5
    # pictures (5 repeats) and both copies of the picture labelled two ways (2 conflicts) are left out, and 5 pictures
    # measure the judge. Before: "val_images": 5, and only the stage's printed lines said why
    project = _repeating_val(tmp_path / "p", copies=2, labels=[0] * 6 + [1] * 5 + [0])
    monkeypatch.chdir(project)

    # embedding-clean, the cheaper: confident-learn puts measured_val's counts into its judge block the same way
    _stage_module("embedding_clean").main()

    judge = json.loads(open("metrics/embedding_clean.json").read())["judge"]
    assert {key: judge[key] for key in ("val_images", "val_copies_left_out", "val_repeats_left_out",
                                        "val_conflicts_left_out")} == {
        "val_images": 5, "val_copies_left_out": 0, "val_repeats_left_out": 5, "val_conflicts_left_out": 2}
