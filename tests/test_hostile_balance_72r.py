"""Hostile inputs around balance's and the writes' mends of stop 72, reviewed (72r):

- a folder a stage replaces at the end of its work that is a mount point (data/degrade, balanced's Data Docs folder
  reports/contracts/balanced): refused as the write began, after the work (degrade's damage, every balanced copy);
  now refused by the check of the outputs, before any work, with the line the write gives; a folder written into
  (plots/balance) is still filled;
- pruned's rows made of other pruned.cleaners than params.yaml lists, read by augment-search (the third stage that
  starts from pruned; balance and gan-synthesize refuse them): balance's policy was chosen on the old decisions'
  images, exit 0; now refused before the search, as they refuse it;
- a balanced copy equal to a train image of another class that balance.max_images left out of balanced: refused as
  "held under two labels", where balanced holds it under the copy's label alone; now balanced is written;
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under, imagefolder_project
from test_augment import _stage
from test_hostile_balance_more import balance_project
from test_hostile_faults_72 import _files, _ingest_stage, _mounted
from test_hostile_search_more import search_project
from winnow.errors import WinnowError
from winnow.imageset import read_imageset
from winnow.stage import run
from winnow.variants import read_rows, write_variant

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)


@pytest.mark.hostile("interrupted")
def test_a_replaced_imageset_folder_that_is_a_mount_point_stops_degrade_before_its_work(tmp_path, monkeypatch, capsys):
    # before (d4bbc491): the check of the outputs let every folder output be a mount point, and data/degrade was
    # refused only by write_imageset's atomic_folder, after degrade had read data/ingest and damaged its images
    project, params = imagefolder_project(tmp_path)
    params["degrade"]["perturbations"] = []  # the default's name classes these three folders lack
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["stages/ingest.py"])
    run(_ingest_stage().main)
    stage = _stage("degrade")
    monkeypatch.setattr("sys.argv", ["stages/degrade.py"])
    run(stage.main)
    last, before = _files(project), files_under(project)
    capsys.readouterr()
    _mounted(monkeypatch, tmp_path, project / "data/degrade")
    reads = []
    monkeypatch.setattr(stage, "read_imageset", lambda *args, **kwargs: reads.append(args))
    with pytest.raises(SystemExit) as ended:
        run(stage.main)
    assert (ended.value.code, capsys.readouterr()) == (1, (
        "", "error: data/degrade: is a mount point, which the new folder written beside it cannot be renamed over; "
            "mount the folder it lies in (data) instead, then rerun\n"))
    assert reads == []  # refused before data/ingest was read
    assert _files(project) == last
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_balanced_data_docs_folder_that_is_a_mount_point_stops_balance_before_the_copies(tmp_path, monkeypatch,
                                                                                         capsys):
    # before (d4bbc491): every copy was made and checked, then the contract's Data Docs (atomic_folder) were refused;
    # plots/balance, mounted too, is written into and no obstacle
    labels = np.repeat([0, 1], [4, 2])
    project = balance_project(tmp_path / "project", _images(len(labels)), labels, policy={"ops": ["noise"], "n": 1})
    monkeypatch.chdir(project)
    for folder in ("reports/contracts/balanced", "plots/balance"):
        (project / folder).mkdir(parents=True, exist_ok=True)
    _mounted(monkeypatch, tmp_path, project / "reports/contracts/balanced", project / "plots/balance")
    stage = _stage("balance")
    made = []
    monkeypatch.setattr(stage, "balanced_augment", lambda *args, **kwargs: made.append(args))
    monkeypatch.setattr("sys.argv", ["stages/balance.py"])
    before = files_under(project)
    with pytest.raises(SystemExit) as ended:
        run(stage.main)
    assert (ended.value.code, capsys.readouterr()) == (1, (
        "", "error: reports/contracts/balanced: is a mount point, which the new folder written beside it cannot be "
            "renamed over; mount the folder it lies in (reports/contracts) instead, then rerun\n"))
    assert made == []
    assert sorted(os.listdir(project / "reports/contracts/balanced")) == []
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_augment_search_refuses_pruned_of_other_cleaners_than_params_lists(tmp_path, monkeypatch):
    # pruned written by the variants stage under pruned.cleaners [dedup]; params.yaml lists threshold, dedup and
    # embedding_clean. Before: the short trainings ran on the dedup decisions' images and policy.json was written
    # as balance's policy, exit 0 (balance and gan-synthesize, reading the same rows, refuse them)
    project = search_project(tmp_path / "project", val_labels=[0, 1])
    monkeypatch.chdir(project)
    write_variant("pruned", read_rows("pruned"), cleaners=["dedup"])
    before = files_under(project)
    stage = _stage("augment_search")
    with pytest.raises(WinnowError) as refused:
        stage.main()
    assert str(refused.value) == (
        "data/variants/pruned/rows.parquet: made of the decisions of pruned.cleaners dedup, but params.yaml lists "
        "dedup, embedding_clean, threshold now; rerun the variants stage (dvc repro variants)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_copy_equal_to_an_image_max_images_left_out_is_no_conflict(tmp_path, monkeypatch):
    # class a 6 images, b 2, max_images 8: a cut to 4, b given 2 copies under [flip]. Which of a's are left out is
    # the seed's draw among a's images, whatever their pixels: read from a first run, then b's two images made the
    # mirror images of those two. Before: "balance.policy: 2 of 2 augmented copies equal a train image of another
    # class pixel for pixel (...), so balanced would hold those images under two labels; ...", though balanced held
    # neither a image
    labels, images = np.repeat([0, 1], [6, 2]), _images(8)
    policy = {"ops": ["flip"], "n": 1}
    first = balance_project(tmp_path / "first", images, labels, policy=policy)
    monkeypatch.chdir(first)
    _with_max_images(first, 8)
    _stage("balance").main()
    rows = read_rows("balanced")
    left_out = rows.loc[rows["reason"] == "balance:max_images", "id"].tolist()
    assert len(left_out) == 2
    images[6:] = images[[int(name[1:]) for name in left_out], :, ::-1]
    project = balance_project(tmp_path / "project", images, labels, policy=policy)
    monkeypatch.chdir(project)
    _with_max_images(project, 8)
    _stage("balance").main()  # before: raised
    rows = read_rows("balanced")
    assert rows.loc[rows["reason"] == "balance:max_images", "id"].tolist() == left_out
    copies = read_imageset("data/variants/balanced/extra")
    assert copies.manifest["source_id"].tolist() == ["i6", "i7"]
    assert copies.labels.tolist() == [1, 1]
    assert (copies.images == images[[int(name[1:]) for name in left_out]]).all()


def _with_max_images(project: Path, max_images: int) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["balance"]["max_images"] = max_images
    (project / "params.yaml").write_text(yaml.safe_dump(params))
