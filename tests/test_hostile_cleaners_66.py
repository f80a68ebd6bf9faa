"""Hostile cases for the label cleaners, sixth pass: a warning's figures must be those of the images it speaks of.

Each case writes a tiny data/degrade whose represent embedding puts every class in a cluster of its own
(:func:`test_hostile_cleaners_more._project`) and calls the stage's ``main`` in-process.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_contracts import _stage_module
from test_hostile_cleaners_more import _project


@pytest.mark.hostile("intermediates")
def test_val_images_of_a_class_no_train_image_has_do_not_make_a_small_val_read_as_an_echo(tmp_path, monkeypatch,
                                                                                           capsys):
    # classes a and b have 10 train and 5 val images each, c none in train and 60 in val (degrade's class_removal
    # on a small set); 2 of a's val images sit in b's cluster, so the probe is right on 8 of the 10 val images it is
    # measured on, against 100% of train. 80% of 10 is within 3 standard errors (0.126 each) of 100%: no evidence
    # that the features carry the train labels. Before, the warning's error was counted over all 70 val images
    # (0.048) and said "its features carry the train labels ... embed with features that never saw these labels"
    b = 4 * np.eye(3, 8)[1]
    monkeypatch.chdir(_project(tmp_path / "p", [10, 10, 0], val=[5, 5, 60], same={"val-0-0": b, "val-0-1": b}))

    _stage_module("confident_learn").main()

    out = capsys.readouterr().out
    judge = json.loads(open("metrics/confident_learn.json").read())["judge"]
    assert (judge["val_accuracy"], judge["val_images"]) == (0.8, 10)
    assert "out of fold the judge agrees" not in out
    assert out.startswith("confident-learn: 0 issues among 20 train images; keep 20, drop 0, relabel 0; the probe "
                          "judge is right on 80.0% of val images")
