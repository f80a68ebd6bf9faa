"""Hostile dedup and variants, review of probe 74's mends:

- score.iqr_factor or min_relative_spread edited (the odd_size and odd_aspect_ratio fences), the score stage rerun, then
  a reader of dedup's groups run alone, in a data set whose train images are all of one original size (MNIST, CIFAR,
  the default run's near copies): the groups' score record refused them, though those settings score every such image
  alike and dedup rerun keeps the very copies it kept. The record now leaves the fences' settings out where the train
  images share one size; the percentiles are still refused, and so are the fences where the sizes differ.

Stage cases run the real script in this process on a throwaway project of a few 16x16 images; the others call the
library the stage calls."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under, make_project, undamaged_params
from test_hostile_dedup_74 import _jittered_project, _kept, _scored
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset
from winnow.judged_rows import read_filters

GROUPS = "data/dedup/groups.parquet"
FENCES = {"iqr_factor": 1.5, "min_relative_spread": 0.5}


def _rescored(project: Path, score: dict) -> dict:
    """params.yaml's score section edited to ``score`` and the score stage's table rewritten under it (dvc repro -s
    score); the params as they are now."""
    params = undamaged_params()
    params["score"] |= score
    make_project(project, params)
    _scored(project, params["score"])
    return params


@pytest.mark.hostile("intermediates")
def test_groups_of_one_image_size_are_read_after_a_fence_edit(tmp_path, monkeypatch, capsys):
    # keep best_quality chose i0 over its near copy i1, every train image 16x16 originally; then score.iqr_factor and
    # min_relative_spread edited and score rerun: before, read_filters (the label cleaners', the budget's) refused the
    # groups ("kept each group's copy by quality scores made at other settings ... (iqr_factor 3 then, 1.5 now;
    # min_relative_spread 0.1 then, 0.5 now)"), where dedup rerun keeps i0 again
    project = _jittered_project(tmp_path / "project")
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    assert _kept(project) == ["i0"]
    stale = pd.read_parquet(project / GROUPS)
    params = _rescored(project, FENCES)
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    read = read_filters(manifest, params=params)[1]
    assert read["kept"].tolist() == [True, False, True, True, True, True]
    # the reason, measured: dedup rerun under the new fences writes the same groups
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    pd.testing.assert_frame_equal(pd.read_parquet(project / GROUPS), stale)


@pytest.mark.hostile("intermediates")
def test_groups_of_one_image_size_are_still_refused_after_a_percentile_edit(tmp_path, monkeypatch, capsys):
    # the record keeps the percentiles, which move the dark and light scores of other pixels (i1 kept at 50/95)
    project = _jittered_project(tmp_path / "project")
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    params = _rescored(project, {"dark_percentile": 50.0, **FENCES})
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=params)
    assert str(refused.value) == (
        f"{GROUPS}: kept each group's copy by quality scores made at other settings than params.yaml's score section "
        "(dark_percentile 99 then, 50 now); rerun the dedup stage (dvc repro dedup)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_groups_of_train_images_of_other_sizes_are_refused_after_a_fence_edit(tmp_path, monkeypatch, capsys):
    # i3 was a 16x40 file (its odd_size and odd_aspect_ratio scores then differ from the others' by the fences): the
    # fences' settings stay in the record, and an edit of them is refused as before
    project = _jittered_project(tmp_path / "project")
    imageset = read_imageset(project / "data/degrade")
    manifest = imageset.manifest.drop(columns="digest")
    manifest.loc[3, "orig_w"] = 40
    write_imageset(project / "data/degrade", imageset.images, manifest, imageset.classes)
    _scored(project, undamaged_params()["score"])
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    params = _rescored(project, {"iqr_factor": 1.5})
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=params)
    assert str(refused.value) == (
        f"{GROUPS}: kept each group's copy by quality scores made at other settings than params.yaml's score section "
        "(iqr_factor 3 then, 1.5 now); rerun the dedup stage (dvc repro dedup)")
    assert_nothing_left(project, before)
