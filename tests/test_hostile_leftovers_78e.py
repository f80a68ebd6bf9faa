"""Hostile leftovers of probe 78, found in review:

- dedup's embedding search read one image per set of equal pixels whatever the embedding said of the others, so a
  user's embedding (represent.source) giving equal pixels different rows lost the pairs of every row but the first:
  a test image near the second train copy's row alone was no leak, both train copies kept (exit 0). Only rows equal
  to their set's first stand for it now.
- a 12-bit JPEG (a medical scanner's) was told it was "cut short or damaged in its header ... copy it again from its
  source", and "never written" with padding after its end: a copy fails the same way. Pillow reads 8-bit JPEGs only.
"""

from __future__ import annotations


import numpy as np
import pytest

from conftest import require_faiss
from test_hostile_image_decode_78 import encoded
from test_hostile_ingest import image_folder
from test_hostile_embdedup_78 import _table
from winnow.dedup import dedup_table
from winnow.image_damage import UNWRITTEN
from winnow.image_files import load_imagefolder


@pytest.mark.parametrize("knn", ["numpy", "faiss"])
def test_equal_pixels_the_embedding_gives_different_rows_are_each_searched(knn):
    if knn == "faiss":
        require_faiss()
    # train-0 and train-1 hold equal pixels; the user's embedding (of their captions, say) puts only train-1 beside
    # test-0 (cosine distance 0.00005, embedding_radius 0.01)
    ids = ["train-0", "train-1", "test-0", "other"]
    manifest, scores = _table(ids, splits=["train", "train", "test", "train"], digests=["a", "a", "b", "c"],
                              phashes=[1, 1, 1 << 40, 1 << 20])
    embedding = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0.01, 0], [0, 0, 0, 1]], np.float32)
    table = dedup_table(manifest, scores, radius=None, keep="first", embedding=embedding, embedding_radius=0.01,
                        embedding_confirm=False, knn=knn)
    # before: train-0 kept, train-1 its exact_duplicate, test-0 unique: the leak kept in train
    assert table["reason"].tolist() == ["leak", "leak", "eval_copy", "unique"]
    assert table["kept"].tolist() == [False, False, True, True]


@pytest.mark.hostile("imagefolder")
def test_a_12_bit_jpeg_is_named_so_not_told_to_be_copied_again(tmp_path):
    data = image_folder(tmp_path / "data", {"a": 3, "b": 3})
    jpeg = encoded(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8), "JPEG", quality=90)
    frame = jpeg.index(b"\xff\xc0")  # its frame header: marker, length, then the bits per sample
    deep = jpeg[:frame] + b"\xff\xc1" + jpeg[frame + 2:frame + 4] + bytes([12]) + jpeg[frame + 5:]
    (data / "a" / "scan.jpg").write_bytes(deep)
    (data / "a" / "padded.jpg").write_bytes(deep + bytes(512))  # a camera's padding after its end marker
    # an 8-bit JPEG whose end was never written from its frame header's bits on is still said so
    (data / "a" / "unwritten.jpg").write_bytes(jpeg[:frame + 4] + bytes(len(jpeg) - frame - 4))
    loaded = load_imagefolder(data, size=None)
    assert len(loaded.ids) == 6
    deep_row = ("a 12-bit JPEG (as medical scanners and some cameras write), which Pillow does not read: convert it to "
                "an 8-bit JPEG or a PNG")
    # before: "cut short or damaged in its header: it starts as a JPEG file, but its 854 bytes hold no header Pillow
    # can read (an interrupted copy or download?); copy it again from its source", and UNWRITTEN of the padded one
    assert dict(loaded.rejected) == {str(data / "a" / "scan.jpg"): deep_row, str(data / "a" / "padded.jpg"): deep_row,
                                     str(data / "a" / "unwritten.jpg"): UNWRITTEN}
