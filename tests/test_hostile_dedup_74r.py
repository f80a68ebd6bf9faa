"""Hostile dedup and variants, review of probe 74's mends:

- score.iqr_factor or min_relative_spread edited (the odd_size and odd_aspect_ratio fences), the score stage rerun, then
  a reader of dedup's groups run alone, in a data set whose train images are all of one original size (MNIST, CIFAR,
  the default run's near copies): the groups' score record refused them, though those settings score every such image
  alike and dedup rerun keeps the very copies it kept. The record now leaves the fences' settings out where the train
  images share one size; the percentiles are still refused, and so are the fences where the sizes differ;
- pruned's record of the pixels its decisions were made on (and balanced's and augmented's of pruned's) kept as JSON in
  the parquet file's metadata, stored three times over: a pruned of 1,000,000 train images was a 187 MB file that
  pyarrow refuses to read ("Exceeded size limit"), every reader saying "rerun the variants stage", which wrote it so
  again. The record is a ``digest`` column of the rows now, as the cleaners' tables record theirs (10 MB);
- that column holding no digest (another tool's numbers): refused in one line naming the image, as the record in the
  metadata was;
- a degrade log whose copies are another data set's: refused only after dedup had made every group (its pHash, thumbnail
  and embedding searches: minutes on a large set), where the groups were scored against the log. Now refused before
  the search.

Stage cases run the real script in this process on a throwaway project of a few 16x16 images; the others call the
library the stage calls."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under, make_project, planted_log, undamaged_params
from test_hostile_dedup_74 import LOG, _jittered_project, _kept, _log, _scored
from test_hostile_dedup_more import dedup_project
from test_hostile_quality_70 import _refused
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
    write_imageset(project / "data/degrade", imageset.images, manifest, imageset.classes,
                   tables=planted_log(project / "data/degrade"))
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


@pytest.mark.hostile("intermediates")
def test_pruned_of_a_million_train_images_is_read_with_its_pixel_record(tmp_path):
    # before: write_variant put the 1,000,000 digests into the file's metadata (187 MB), and read_rows refused the file
    # the variants stage had just written: "not a readable parquet file (Couldn't deserialize thrift:
    # TProtocolException: Exceeded size limit); rerun the variants stage (dvc repro variants)"
    from winnow.variants import read_rows, write_variant

    n = 1_000_000
    ids = pd.Series(np.arange(n)).astype(str).radd("train-").to_numpy(object)
    digests = pd.Series(np.arange(n)).map("{:016x}".format).to_numpy(object)
    rows = pd.DataFrame({"id": ids, "origin": "degrade", "label": 0, "action": "keep", "reason": "", "stage": "baseline"})
    write_variant("pruned", rows, root=tmp_path, cleaners=["dedup"], pixels=pd.DataFrame({"id": ids, "digest": digests}))
    read = read_rows("pruned", root=tmp_path, num_classes=1)
    assert read["id"].tolist() == ids.tolist()
    assert read["digest"].tolist() == digests.tolist()


@pytest.mark.hostile("training")
@pytest.mark.usefixtures("one_torch_thread")
def test_train_refuses_pruned_whose_pixel_record_holds_no_digests(tmp_path, monkeypatch, capsys):
    # pruned as the variants stage writes it, its digest column then rewritten as numbers (another tool's): refused as
    # the record in the file's metadata was when it held no digest per image, naming the variants stage
    from review_project import write_project
    from test_hostile_augment_73r import _trained

    project = write_project(tmp_path / "project")
    assert _stage_in_process(project, "variants", monkeypatch, capsys).returncode == 0
    path = project / "data/variants/pruned/rows.parquet"
    rows = pd.read_parquet(path)
    assert rows["digest"].map(type).eq(str).all()
    rows.assign(digest=np.arange(len(rows)) + 7).to_parquet(path)
    before = files_under(project)
    assert _trained("pruned", monkeypatch, capsys) == (1, (
        f"error: data/variants/pruned/rows.parquet: records pixels 7 of image {rows['id'].iloc[0]!r}, not a pixel "
        "digest; rerun the variants stage (dvc repro variants)\n"))
    assert_nothing_left(project, before)
    assert not (project / "models").exists()


@pytest.mark.hostile("intermediates")
def test_a_degrade_log_of_another_data_set_is_refused_before_the_search(tmp_path, monkeypatch, capsys):
    # before: the same line, after dedup_images had grouped every image (the search's work thrown away)
    project = dedup_project(tmp_path / "project", splits=["train"] * 6 + ["val", "test"], copies={1: 0})
    _log(project, "cifar-00017", "cifar-00003")

    def searched(*args, **kwargs):
        raise AssertionError("dedup searched for copies before refusing the log")

    monkeypatch.setattr("winnow.dedup.dedup_images", searched)
    assert _refused(project, "dedup", monkeypatch, capsys) == (
        f"error: {LOG}: image 'cifar-00017': exact_duplicate names an image data/degrade does not hold (a log of "
        "another data set?); degrade copies its own train images; rerun the degrade stage (dvc repro degrade)")
