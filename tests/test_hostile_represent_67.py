"""Hostile edits between represent and the stages that read its outputs (stop 67): images moved between train and
val since the judge learnt them. In-process on test_represent's blobs (48 images of 12x12): no training."""

from __future__ import annotations

import numpy as np
import pytest

from test_represent import blobs
from winnow import represent
from winnow.errors import WinnowError
from winnow.imageset import ImageSet
from winnow.stage import write_json

RERUN = "; rerun the represent stage (dvc repro represent)"


def _judged(folder, data: ImageSet) -> None:
    """data/represent as the judge source writes it for ``data`` (features made up: only the record is read)."""
    folder.mkdir()
    np.save(folder / "embeddings.npy", np.arange(len(data) * 3, dtype=np.float32).reshape(len(data), 3) + 1)
    write_json(folder / "ids.json", data.manifest["id"].tolist())
    write_json(folder / represent.MADE_FROM, represent.made_from(data, source="judge"))


@pytest.mark.hostile("represent")
def test_images_moved_between_train_and_val_since_the_judge_learnt_them_are_refused(tmp_path):
    data = blobs()
    _judged(tmp_path / "represent", data)
    manifest = data.manifest.copy()
    val = manifest.index[manifest["split"] == "val"][0]
    manifest.loc[[3, val], "split"] = ["val", "train"]  # img-3 (train) and the first val image swap sides
    moved = ImageSet(data.images, manifest, data.classes)
    # before: the same ids, pixels and labels, so read as if nothing had changed, and the cleaning was judged on a
    # val split holding an image the judge learnt
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(tmp_path / "represent", ["img-0"], data=moved)
    assert str(refused.value) == (f"{tmp_path}/represent: 2 image(s) moved between train and val since its judge "
                                  "learnt them, first 'img-3' (train then, val now): the judge learnt images val now "
                                  "holds to judge the cleaning" + RERUN)
    # a label-free source learnt no split: the same move leaves it usable
    (tmp_path / "represent" / represent.MADE_FROM).unlink()
    write_json(tmp_path / "represent" / represent.MADE_FROM, represent.made_from(data, source="selfsup"))
    assert represent.read_representation(tmp_path / "represent", ["img-0"], data=moved).tolist() == [[1.0, 2.0, 3.0]]

