"""Hostile leftovers of review 75a (of the data-valuation mend that counts a class whose val images all have all-zero
rows as thin):

- every val image with an all-zero representation, data_valuation among no pruned.cleaners: the mend left this one
  case out of its rule (knn_shapley's own refusal), so the stage stopped the default dvc repro for a cleaner whose
  decisions go nowhere, where 3 such val images of 4 warned and went on; now every class is thin, as there;
- every class thin because its val images have all-zero rows (the same, data_valuation among pruned.cleaners): the
  refusal advised more val images alone ("raise ingest.val_fraction"), which would be all-zero rows too; it now asks
  for val images the representation answers, as the mend's per-class warning does.

The cases run the stage's ``main`` in this process on the clusters' project of tests/test_hostile_cleaners_more.py
(:func:`_project`), each class a cluster of its own in an 8-d embedding."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under
from test_hostile_cleaners_more import _project
from test_hostile_threshold_64 import _stage_in_process

MORE = ("a value is measured against val images of the valued image's class; give the val split at least 2 images of "
        "each class that the representation answers (raise ingest.val_fraction; see represent.source)")


def _silent(root, *, val: list[int], silent: dict[int, int], cleaners: list[str]):
    """Two classes of 30 train images and ``val[c]`` val images, the first ``silent[c]`` of class c with an all-zero
    row in the represent embedding; pruned.cleaners ``cleaners``."""
    project = _project(root, [30, 30], val=val,
                       same={f"val-{c}-{i}": np.zeros(8) for c, n in silent.items() for i in range(n)})
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"] = cleaners
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    return project


@pytest.mark.hostile("represent")
def test_a_val_split_all_of_all_zero_rows_stops_no_pipeline_that_reads_no_valuation(tmp_path, monkeypatch, capsys):
    # before: "error: valuation: every one of the 6 val images has an all-zero feature row, ..." and exit 1, the
    # default dvc repro stopped at a stage whose decisions no variant reads; 3 such val images of 4 (every class thin)
    # warned and went on
    project = _silent(tmp_path / "p", val=[3, 3], silent={0: 3, 1: 3}, cleaners=["threshold", "dedup"])
    done = _stage_in_process(project, "data_valuation", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    why = ("the val split's 6 image(s) hold fewer than 2 of every class with train images (6 have an all-zero "
           f"representation), and {MORE}")
    assert done.stdout.splitlines() == [
        f"warning: data-valuation: {why}. data_valuation is not among pruned.cleaners, so it values no image and the "
        "pipeline goes on"]
    assert len(pd.read_parquet(project / "data/data-valuation/decisions.parquet")) == 0  # every image kept
    metrics = json.loads((project / "metrics/data_valuation.json").read_text())
    assert metrics["undecided"] == {"images": 60, "why": why}


@pytest.mark.hostile("represent")
@pytest.mark.parametrize(("val", "silent", "said"), [
    ([1, 3], {1: 3}, "the val split's 4 image(s) hold fewer than 2 of every class with train images (3 have an "
                     "all-zero representation)"),
    ([3, 3], {0: 3, 1: 3}, "the val split's 6 image(s) hold fewer than 2 of every class with train images (6 have an "
                           "all-zero representation)"),
], ids=["one-class-silent", "all-silent"])
def test_every_class_thin_by_all_zero_rows_is_told_to_give_val_images_the_representation_answers(
        tmp_path, monkeypatch, capsys, val, silent, said):
    # before: "...; give the val split at least 2 images of each class (raise ingest.val_fraction)": more val images of
    # a class the representation answers none of are all-zero rows too (and all-silent was knn_shapley's line)
    project = _silent(tmp_path / "p", val=val, silent=silent, cleaners=["threshold", "dedup", "data_valuation"])
    before = files_under(project)
    done = _stage_in_process(project, "data_valuation", monkeypatch, capsys)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"error: data-valuation: {said}, and {MORE}"]
    assert_nothing_left(project, before)
