"""Hostile edits between represent and the stages that read its outputs (stop 67): images moved between train and
val since the judge learnt them; a user's file that cannot say which pixels its rows were made from. In-process on
test_represent's blobs (48 images of 12x12): no training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from test_represent import blobs
from winnow import represent
from winnow.embedding_file import read_embedding_file
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
    # found by review: a val image moved to train alone was refused as if val now held an image the judge learnt
    manifest = data.manifest.copy()
    manifest.loc[val, "split"] = "train"
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(tmp_path / "represent", ["img-0"], data=ImageSet(data.images, manifest,
                                                                                       data.classes))
    assert str(refused.value) == (f"{tmp_path}/represent: 1 image(s) moved between train and val since its judge "
                                  f"learnt them, first {manifest.loc[val, 'id']!r} (val then, train now): the judge "
                                  "chose its checkpoint on images train now holds" + RERUN)
    # a judge's record written before splits were recorded cannot tell such a move: refused, naming the stage to rerun
    record = represent.made_from(data, source="judge")
    del record["splits"]
    write_json(tmp_path / "represent" / represent.MADE_FROM, record)
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(tmp_path / "represent", ["img-0"], data=data)
    assert str(refused.value) == (f"{tmp_path}/represent/made_from.json: records no split of the train and val images "
                                  "its judge learnt from (an earlier winnow's record), so images moved between train "
                                  "and val since cannot be told" + RERUN)
    # a label-free source learnt no split: the same move leaves it usable
    (tmp_path / "represent" / represent.MADE_FROM).unlink()
    write_json(tmp_path / "represent" / represent.MADE_FROM, represent.made_from(data, source="selfsup"))
    assert represent.read_representation(tmp_path / "represent", ["img-0"], data=moved).tolist() == [[1.0, 2.0, 3.0]]


UNCHECKED = ("warning: represent.file: {path}: no digest column says which pixels each row was made from, so rows "
             "made before a change to degrade (its seed or perturbations: the same ids, other pixels) are read as the "
             "images now; write a .parquet with data/degrade/manifest.parquet's digest column beside id to have them "
             "checked\n")


@pytest.mark.hostile("represent")
def test_a_users_file_that_cannot_say_which_pixels_its_rows_were_made_from_is_read_with_a_warning(tmp_path, capsys):
    data = blobs()
    ids, digests = data.manifest["id"].to_numpy(), represent._digests(data).to_numpy()
    features = np.arange(len(data) * 2, dtype=np.float32).reshape(len(data), 2)
    table = pd.DataFrame({"id": ids, "a": features[:, 0], "b": features[:, 1]})
    table.to_parquet(tmp_path / "mine.parquet")
    np.save(tmp_path / "mine.npy", features)
    write_json(tmp_path / "ids.json", ids.tolist())
    # before: read without a word, though degrade rerun with another seed keeps every id and replaces the pixels
    for name in ("mine.parquet", "mine.npy"):
        np.testing.assert_array_equal(read_embedding_file(tmp_path / name, ids, digests), features)
        assert capsys.readouterr().out == UNCHECKED.format(path=tmp_path / name)
    # with the manifest's digests beside the ids, each row is checked against its pixels: nothing to warn of
    table.assign(digest=digests).to_parquet(tmp_path / "mine.parquet")
    np.testing.assert_array_equal(read_embedding_file(tmp_path / "mine.parquet", ids, digests), features)
    assert capsys.readouterr().out == ""
