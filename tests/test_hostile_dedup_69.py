"""Hostile cases for dedup (probe 69): copies across splits that a chain of pHash links had joined, where the image in
the middle of the chain leaves the group. The library the stage calls, in-process, on hand-set pHashes."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from winnow.dedup import dedup_table
from winnow.dedup_counts import dedup_metrics
from winnow.leaks import leaks_kept
from winnow.thumbnails import Looks


def chained(splits: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four images in manifest order, pHashes (bits set) 0: none, 1: bit 0, 2: bits 0, 3, 4, 3: bits 1, 2. At radius
    2 image 0 resembles images 1 and 3, which lie 3 bits apart; image 2 is 2 bits from image 1 only (3 from image 0,
    5 from image 3), so it joins the group but resembles neither end; pHash alone (min_correlation null) links the
    group's members in row order, 0-1, 1-2, 2-3, so image 3 is linked through image 2 alone."""
    manifest = pd.DataFrame({"id": [f"{split}-{k}" for k, split in enumerate(splits)], "split": splits,
                             "label": 0, "digest": [f"d{k}" for k in range(4)]})
    scores = pd.DataFrame({"id": manifest["id"], "phash": np.array([0, 0b1, 0b11001, 0b110], np.uint64)})
    return manifest, scores


@pytest.fixture
def leak_lines(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("dedup", None)
    from dedup import leak_lines

    return leak_lines


@pytest.mark.hostile("intermediates")
def test_a_train_image_kept_beside_its_val_copy_by_drop_leaks_false_is_reported(leak_lines):
    # train-0 is kept (keep first) and val-3 lies 2 bits from it. before: train-2 left the group (it resembles no image
    # kept), val-3 went to a group of its own, and no line said that train holds a copy of a val image: leaks 0
    manifest, scores = chained(["train", "train", "train", "val"])
    table = dedup_table(manifest, scores, radius=2, keep="first", drop_leaks=False)
    assert table.loc[3, "group"] == table.loc[0, "group"]
    assert leak_lines(dedup_metrics(table)["leaks"], drop_leaks=False, test_images=0, kept=leaks_kept(table)) == [
        "warning: dedup: train copies of val images: 2 train image(s) in 1 group(s) with 1 val image(s); 1 of them "
        "kept in train because dedup.drop_leaks is false (the other 1 removed as duplicates of those): the val score "
        "is flattered by images the model trained on"]


@pytest.mark.hostile("intermediates")
def test_a_test_copy_of_a_val_image_linked_through_a_train_image_that_left_is_reported(leak_lines):
    # val-0 and test-3 lie 2 bits apart; train-1 goes as val-0's leak, train-2 leaves. before: test-3 went to a group of
    # its own and "test holds copies of val images" was never said
    manifest, scores = chained(["val", "train", "train", "test"])
    table = dedup_table(manifest, scores, radius=2, keep="first", drop_leaks=True)
    assert table["group"].tolist() == [0, 0, 1, 0]
    assert table["kept"].tolist() == [True, False, True, True]
    assert leak_lines(dedup_metrics(table)["leaks"], drop_leaks=True, test_images=1)[-1] == (
        "warning: dedup: test holds copies of val images: 1 test image(s) (100.0% of test) in 1 group(s) with 1 val "
        "image(s); val picks every checkpoint, so the test score is flattered. dedup never changes val or test: remove "
        "the copies from your test split (data/dedup/groups.parquet lists them: same group, splits val and test)")


@pytest.mark.hostile("intermediates")
def test_near_copies_that_leave_a_group_together_are_grouped_by_their_own_pHashes():
    # pHashes 0, bits 0/3/4, bit 0, bits 0/3/4 at radius 2: train-1 and train-3 are equal, 3 bits from test-0 (which
    # keeps the group, drop_leaks), so both leave; train-2 (1 bit from test-0) goes as its leak. pHash alone links
    # the group in row order, 0-1, 1-2, 2-3, so the two were joined only through train-2. before: each a group of its
    # own, "unique", both kept in train (of 2,000 such, all stayed) under a warning that they were grouped among
    # themselves
    ids = ["test-0", "train-1", "train-2", "train-3"]
    manifest = pd.DataFrame({"id": ids, "split": ["test", "train", "train", "train"], "label": 0,
                             "digest": [f"d{k}" for k in range(4)]})
    scores = pd.DataFrame({"id": ids, "phash": np.array([0, 0b11001, 0b1, 0b11001], np.uint64)})
    table = dedup_table(manifest, scores, radius=2, keep="first", drop_leaks=True)
    assert table["kept"].tolist() == [True, True, False, False]
    assert table["reason"].tolist() == ["eval_copy", "kept", "leak", "near_duplicate"]
    assert table.loc[3, "group"] == table.loc[1, "group"] != table.loc[0, "group"]


@pytest.mark.hostile("intermediates")
def test_embedding_copies_that_leave_a_group_are_grouped_by_their_own_distance():
    # 2-d embeddings on the unit circle, at angles in units of a (cosine distance 0.02, the radius): test-0 at 0,
    # 11 train images between 0.5a and 0.7a, train-12 at 1.2a, train-13 at 2.1a, 11 train images between 2.6a and
    # 2.8a, val-25 at 3.3a. train-12 and train-13 lie 0.9a apart (cosine distance 0.016) and resemble neither
    # test-0 nor val-25, so both leave; each has 11 nearer images, so neither is among the other's 10 nearest.
    # before: each a group of its own, "unique", both kept in train
    a = np.arccos(1 - 0.02)
    angles = np.concatenate([[0], np.linspace(0.5, 0.7, 11), [1.2, 2.1], 2.1 + np.linspace(0.5, 0.7, 11), [3.3]]) * a
    splits = ["test", *["train"] * 24, "val"]
    manifest = pd.DataFrame({"id": [f"{split}-{k}" for k, split in enumerate(splits)], "split": splits, "label": 0,
                             "digest": [f"d{k}" for k in range(26)]})
    scores = pd.DataFrame({"id": manifest["id"], "phash": np.arange(26, dtype=np.uint64)})
    table = dedup_table(manifest, scores, radius=None, keep="first", drop_leaks=True,
                        embedding=np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32),
                        embedding_radius=0.02, embedding_confirm=False)
    assert table.loc[[12, 13], "reason"].tolist() == ["kept", "embedding_duplicate"]
    assert table.loc[12, "group"] == table.loc[13, "group"]
    assert int(table["kept"][table["split"] == "train"].sum()) == 1


@pytest.mark.hostile("intermediates")
def test_confirmed_embedding_copies_that_leave_a_group_are_grouped_by_their_own_distance():
    # the case above with thumbnails confirming (embedding_confirm true): zero-mean 3-d thumbnails at the same angles,
    # so two correlate as their embeddings' cosine, min_correlation 0.98 (1 - the radius). before: train-12 and
    # train-13 (correlation 0.984) each "unique", both kept in train
    a = np.arccos(1 - 0.02)
    angles = np.concatenate([[0], np.linspace(0.5, 0.7, 11), [1.2, 2.1], 2.1 + np.linspace(0.5, 0.7, 11), [3.3]]) * a
    splits = ["test", *["train"] * 24, "val"]
    manifest = pd.DataFrame({"id": [f"{split}-{k}" for k, split in enumerate(splits)], "split": splits, "label": 0,
                             "digest": [f"d{k}" for k in range(26)]})
    scores = pd.DataFrame({"id": manifest["id"],
                           "phash": np.arange(26, dtype=np.uint64) * np.uint64(0x0F0F0F0F0F0F0F0F)})
    embedding = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    plane = np.array([[1, -1, 0], [1, 1, -2]]) / np.sqrt([[2], [6]])  # two orthonormal zero-mean directions
    looks = Looks(whole=(embedding @ plane).astype(np.float32), crop=None, grid=(1, 3), flip=False)
    table = dedup_table(manifest, scores, radius=None, keep="first", drop_leaks=True, embedding=embedding,
                        embedding_radius=0.02, embedding_confirm=True, looks=looks, min_correlation=0.98)
    assert table.loc[[12, 13], "reason"].tolist() == ["kept", "embedding_duplicate"]
    assert table.loc[12, "group"] == table.loc[13, "group"]
    assert int(table["kept"][table["split"] == "train"].sum()) == 1
