"""Hostile input to dedup, stop 65: copies across splits whose labels disagree, and copies within test. The cases
run the dedup stage's own functions in-process on a few 8x8 images."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from winnow.dedup import dedup_table
from winnow.imageset import pixel_digest
from winnow.leaks import repeated
from winnow.quality import score_table


def copies_table(splits: list[str], copies: dict[int, int], labels: list[int] | None = None) -> pd.DataFrame:
    """dedup's table of random 8x8 images (row ``i`` a pixel copy of row ``j`` for each ``i: j`` of ``copies``),
    ``labels`` by row (default alternating 0/1), ids ``<split>-<row>``, under the default dedup settings."""
    images = np.random.default_rng(0).integers(0, 256, (len(splits), 8, 8, 1), dtype=np.uint8)
    for i, j in copies.items():
        images[i] = images[j]
    manifest = pd.DataFrame({"id": [f"{split}-{k}" for k, split in enumerate(splits)], "split": splits,
                             "label": np.arange(len(splits)) % 2 if labels is None else labels,
                             "digest": pixel_digest(images), "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    return dedup_table(manifest, score_table(images, manifest), radius=6)


@pytest.mark.hostile("intermediates")
def test_a_val_image_whose_train_copy_carries_another_label_is_named(monkeypatch):
    # classes a (0) and b (1): train-1 (b) is a copy of val-8 (a), train-3 (b) of val-9 (b), train-5 (b) of test-10
    # (a) and of test-11 (b). before: "2 label conflicts" and the leak lines, nothing more: train-1 left as a leak,
    # and val-8's label, as likely the wrong one, stayed to pick every checkpoint unnamed
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("dedup", None)
    from dedup import conflict_lines

    table = copies_table(["train"] * 8 + ["val"] * 2 + ["test"] * 2, {1: 8, 3: 9, 5: 10, 11: 10})
    assert table.set_index("id").loc[["train-1", "train-3", "train-5"], "reason"].tolist() == ["leak"] * 3
    assert conflict_lines(table, classes=["a", "b"]) == [
        # test-10 and test-11 disagree among themselves: said once, by the line that was there
        "warning: dedup: 1 group(s) of copies in val and test carry different labels (2 images, e.g. test-10, "
        "test-11): no model scores 100% on them; dedup never changes val or test: correct their labels where the "
        "data comes from",
        "warning: dedup: 1 val/test image(s) carry another label than their train or trusted copies (e.g. val-8 as "
        "'a', a copy as 'b'): one of the labels is wrong, and a wrong val or test label counts a right prediction as "
        "wrong; dedup never changes val or test: check their labels where the data comes from "
        "(data/dedup/groups.parquet: label_conflict)"]


@pytest.mark.hostile("intermediates")
def test_a_test_image_copied_within_test_under_one_label_is_said_to_count_twice(monkeypatch):
    # test-9 is test-7 again and train-1 a copy of it, val-6 is val-4 again, all under one label. before: not a word
    # (no conflict, and copies within one split are no leak), and the test score counted that picture twice
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("dedup", None)
    from dedup import conflict_lines, repeat_line

    table = copies_table(["train"] * 4 + ["val"] * 3 + ["test"] * 4, {1: 7, 6: 4, 9: 7})
    assert conflict_lines(table, classes=["a", "b"]) == []
    assert repeat_line(*repeated(table, "test"), test_images=4) == (
        "warning: dedup: test holds copies of its own images: 2 test image(s) (50.0% of test) in 1 group(s): the "
        "test score counts 1 picture(s) as 2 images; dedup never changes val or test: remove the copies from your "
        "test split (data/dedup/groups.parquet lists them: same group, split test)")


@pytest.mark.hostile("intermediates")
def test_a_val_image_whose_train_copies_carry_two_other_labels_names_copies_not_one_copy(monkeypatch):
    # classes a, b, c: val-4 (a) has train copies train-1 (b) and train-2 (c). before: "val-4 as 'a', a copy as 'b',
    # 'c'", as if one copy carried two labels
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("dedup", None)
    from dedup import conflict_lines

    table = copies_table(["train"] * 4 + ["val"], {1: 4, 2: 4}, labels=[0, 1, 2, 0, 0])
    assert conflict_lines(table, classes=["a", "b", "c"]) == [
        "warning: dedup: 1 val/test image(s) carry another label than their train or trusted copies (e.g. val-4 as "
        "'a', copies as 'b', 'c'): one of the labels is wrong, and a wrong val or test label counts a right prediction "
        "as wrong; dedup never changes val or test: check their labels where the data comes from "
        "(data/dedup/groups.parquet: label_conflict)"]
