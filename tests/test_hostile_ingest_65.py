"""Hostile inputs to ingest, fifth pass (stop 65): a split folder of an image folder with no class folder in it
(an empty ``test/``, or a download's unlabelled test images straight inside it); split folders named otherwise
(``Training/`` and ``Testing/``), read as class folders holding folders.

Each case runs ``stages/ingest.py`` through the harness (see :mod:`test_hostile_ingest`, whose helpers it reuses)
and asserts the one ``error:`` line with nothing left behind.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_ingest import image_folder, run_ingest


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("loose", [0, 3])
def test_a_split_folder_without_class_folders_is_refused_not_carved_from_train(tmp_path, loose):
    # before: root/test empty (or holding unlabelled images, set aside as "not in a class folder") passed, and
    # ingest carved the test split from train: 2 train images a class became the test set every result is measured on
    data = tmp_path / "data"
    for split, count in (("train", 10), ("val", 4)):
        image_folder(data / split, {"a": count, "b": count})
    (data / "test").mkdir()
    for i in range(loose):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(data / "test" / f"unlabelled-{i}.png")
    project, before, done = run_ingest(tmp_path, "imagefolder", data)
    held = "3 file(s) (first unlabelled-0.png) but no class folder" if loose else "no class folder"
    assert assert_error_line(done) == (
        f"error: ingest.path: split folder {data / 'test'} holds {held}, so the test split would be carved from the "
        f"train images instead; put its labelled images in {data / 'test'}/<class>/, or remove the folder to have "
        "ingest carve the split from train")
    assert_nothing_left(project, before)


@pytest.mark.hostile("imagefolder")
def test_split_folders_named_otherwise_are_named_as_such_not_classes_to_remove(tmp_path):
    # a Kaggle MRI set's root/{Training,Testing}/<class>/: before, "class folder .../Testing has no files directly
    # inside it; a class with no images is not a class: add its images or remove the folder", and removing it deleted
    # the test split (the next run carved one from Training)
    data = tmp_path / "data"
    for split in ("Training", "Testing"):
        image_folder(data / split, {"glioma": 5, "notumor": 5})
    project, before, done = run_ingest(tmp_path, "imagefolder", data)
    assert assert_error_line(done) == (
        f"error: ingest.path: class folder {data / 'Testing'} holds folders (2, first glioma) and no files: if it is a "
        "split folder, name it train, val or test (root/{train,val,test}/<class>/*); if a class, move its images up out "
        "of them")
    assert_nothing_left(project, before)
