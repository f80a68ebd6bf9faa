"""Review 71s of review 71's mends (test_hostile_variants_71r.py): the variants stage's check of data/degrade against
data/ingest, from the other side.

- an image data/degrade holds that data/ingest lacks now (a file deleted from the source, only ingest rerun): refused
  naming degrade, as an image ingest read anew that degrade lacks is (before: baseline and pruned held it, oracle did
  not, "oracle 11, baseline 12 train images", exit 0), in the train and the val split;
- the copies degrade adds (a duplicate perturbation's ``mode: add``) are ids data/ingest lacks by design: the images a
  real degrade run writes, removals and added copies together, pass the check with its log read as the variants stage
  reads it (a false alarm there would stop every pipeline that plants duplicates).

The stage case runs the real script in this process (test_hostile_threshold_64's helper) on a copy of
review_project.py's project; the degrade case runs the library the degrade stage runs, on a small imageset, and hands
its log to the check as the variants stage does."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review_project import write_project
from test_hostile_variants_71 import _refused
from winnow.degrade import degrade
from winnow.groundtruth import DUPLICATE_KINDS, REMOVAL_KINDS
from winnow.imageset import ImageSet, pixel_digest, read_imageset, write_imageset
from winnow.origin_checks import check_same_splits


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return write_project(tmp_path_factory.mktemp("variants71s") / "project")


@pytest.fixture
def project(made, tmp_path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "project"))


def _delete_from_ingest(project: Path, image_id: str) -> None:
    """data/ingest as ingest rerun alone writes it after the file of ``image_id`` left the source."""
    ingested = read_imageset(project / "data/ingest")
    keep = (ingested.manifest["id"] != image_id).to_numpy()
    write_imageset(project / "data/ingest", np.array(ingested.images)[keep],
                   ingested.manifest.drop(columns="digest")[keep].reset_index(drop=True), ingested.classes)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("image_id", "split"), [("train-09", "train"), ("val-1", "val")])
def test_an_image_degrade_holds_that_ingest_deleted_is_refused_naming_degrade(project, monkeypatch, capsys, image_id,
                                                                              split):
    # before: "variants: oracle 11 train images, baseline 12 train images, pruned 10 train images", exit 0: an id
    # data/ingest lacks was taken for a copy degrade added, whatever degrade's log said
    _delete_from_ingest(project, image_id)
    assert _refused(project, "variants", monkeypatch, capsys) == (
        f"error: data/degrade: 1 image(s) here are not in data/ingest now, and degrade added none of them (first: id "
        f"{image_id!r}, a {split} image here): made before ingest read the images anew; rerun the degrade stage (dvc "
        "repro degrade)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("specs", [
    [{"kind": "subsample", "keep": 0.5}, {"kind": "exact_duplicate", "fraction": 0.1, "mode": "add"}],
    [{"kind": "class_removal", "classes": ["c"]}, {"kind": "near_duplicate", "fraction": 0.1, "low": 0.8, "high": 1.2,
                                                   "mode": "add"}],
    [{"kind": "class_subsample", "classes": ["a"], "keep": 0.3}, {"kind": "exact_duplicate", "fraction": 0.1,
                                                                  "mode": "overwrite"}],
], ids=["subsample_and_added_copies", "class_removal_and_added_near_copies", "class_subsample_and_overwriting_copies"])
def test_what_a_real_degrade_run_removes_and_adds_passes_the_check(specs):
    # the check's other side: a degrade run's removed images and added copies are ids the two imagesets do not share,
    # each logged: without the log's duplicate ids read, the added copies would be refused as images ingest deleted
    n = 120
    images = np.random.default_rng(0).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    split = np.where(np.arange(n) < 90, "train", np.where(np.arange(n) < 105, "val", "test"))
    manifest = pd.DataFrame({"id": [f"i{i:03d}" for i in range(n)], "split": split, "label": np.arange(n) % 3,
                             "source": "s", "orig_h": 8, "orig_w": 8, "orig_mode": "RGB",
                             "digest": pixel_digest(images)})
    ingested = ImageSet(images=images, manifest=manifest, classes=["a", "b", "c"])
    degraded, log = degrade(ingested, perturbations=specs, seed=0)
    kinds = set(log["kind"])
    assert kinds & set(REMOVAL_KINDS) and kinds & set(DUPLICATE_KINDS)  # both sides taken, so the case is a case
    check_same_splits(degraded, ingested, log=log)  # the log as the variants stage hands it on
