"""Hostile imagefolder cases of the 73rd probe. The ingest stage's ``main`` runs in-process.

- a class whose val or test images are all the source's own (``root/test/c`` with no ``root/train/c``), or that has no
  image left at all (its one file set aside): the refusal no longer tells to lower ingest.val_fraction /
  ingest.test_fraction, which move none of them; a class whose images the carving took still is told so;
- split folders without a train folder (``root/{val,test}``): refused as such, not "no class has train images; ...
  add images of another class" of a set of two classes;
- a split folder of ingest.path that is a dangling link (a DVC link cache not pulled, a drive not mounted) or a link
  loop: refused, not one row and the split carved from the train images without a word;
- files in a folder nested in a class folder (a tool's augmented/ copies) or beside the class folders stopping ingest
  over ingest.max_reject_fraction: the refusal says where they lie and what to do, not only that they "could not be
  read";
- a folder nested deeper than Python's recursion limit inside a class folder (what a copy following a link loop makes):
  its file is a row, not a RecursionError's traceback, and the source stage lists the folder, not "unreadable:
  maximum recursion depth exceeded", one listing whatever changed there;
- a zip written on Windows (backslashes for folders) extracted by Python's zipfile, which keeps ``cat\\0.png`` as a
  file name: the refusal names the files there and says how to extract it, not "no class folders" alone.
"""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_contracts import _stage_module
from test_hostile_ingest import image_folder
from winnow.errors import WinnowError
from winnow.image_files import NESTED
from winnow.source_listing import fingerprint


def project_of(tmp_path, data, **ingest):
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(data), size=None, **ingest)
    return make_project(tmp_path / "project", params)


def refused(project, monkeypatch, *, allowed=frozenset()) -> str:
    """The one line ingest refuses ``project``'s source with; nothing but ``allowed`` left behind."""
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as raised:
        _stage_module("ingest").main()
    assert_nothing_left(project, before, allowed=allowed)
    return str(raised.value)


@pytest.mark.hostile("imagefolder")
def test_a_class_only_in_the_sources_test_folder_is_not_told_to_lower_the_fractions(tmp_path, monkeypatch):
    # before: "...; a class with no images is not a class: add train images, remove the class, or lower
    # ingest.val_fraction / ingest.test_fraction": root/test/c is the source's own test folder, which no fraction moves
    data = tmp_path / "data"
    image_folder(data / "train", {"a": 6, "b": 6})
    image_folder(data / "test", {"a": 2, "b": 2, "c": 2})
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch) == (
        "ingest: class 'c' has no train images (2 in val/test); a class with no images is not a class: add train "
        "images or remove the class")
    image_folder(data / "train", {"c": 6})  # the first fix it gives: read
    _stage_module("ingest").main()
    assert len(pd.read_parquet(project / "data/ingest/manifest.parquet")) == 24


@pytest.mark.hostile("imagefolder")
def test_a_class_whose_one_file_was_set_aside_is_not_told_to_lower_the_fractions(tmp_path, monkeypatch):
    # before: "class 'c' has no images; ... add train images, remove the class, or lower ingest.val_fraction /
    # ingest.test_fraction": the class has no image for any fraction to leave in train
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12, "c": 0})
    (data / "c" / "x.png").write_bytes(b"")
    project = project_of(tmp_path, data, max_reject_fraction=0.5)
    assert refused(project, monkeypatch, allowed={"data/ingest/rejected.csv"}) == (
        "ingest: class 'c' has no images; a class with no images is not a class: add train images or remove the "
        "class (1 files were set aside: see data/ingest/rejected.csv for each file and its reason)")


@pytest.mark.hostile("imagefolder")
def test_a_class_the_carving_emptied_of_train_images_is_still_told_to_lower_the_fractions(tmp_path, monkeypatch):
    # the case the advice is for: 2 images, of which test and val each carve round(0.6) = 1, leaving none to train on
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12, "c": 2})
    project = project_of(tmp_path, data, val_fraction=0.3, test_fraction=0.3)
    assert refused(project, monkeypatch) == (
        "ingest: class 'c' has no train images (2 in val/test); a class with no images is not a class: add train "
        "images, remove the class, or lower ingest.val_fraction / ingest.test_fraction")


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("splits", [("val", "test"), ("test",)])
def test_split_folders_without_a_train_folder_are_refused_as_such(tmp_path, monkeypatch, splits):
    # before: "ingest: no class has train images; a classifier needs at least 2 classes, so add images of another
    # class", of two classes of images, neither the cause (no train folder) nor a fix that reads them
    data = tmp_path / "data"
    for split in splits:
        image_folder(data / split, {"a": 6, "b": 6})
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch) == (
        f"ingest.path: {data} holds split folders ({', '.join(sorted(splits))}) but no train folder, so no image "
        f"would be left to train on; put the train images in {data / 'train'}/<class>/* (ingest carves a val or test "
        "split whose folder is missing from train)")
    image_folder(data / "train", {"a": 6, "b": 6})  # as it says: read
    _stage_module("ingest").main()
    assert set(pd.read_parquet(project / "data/ingest/manifest.parquet")["split"]) == {"train", "val", "test"}


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("link", ["dangling", "loop"])
def test_a_test_split_folder_that_is_a_link_not_followed_is_refused_not_carved_from_train(tmp_path, monkeypatch,
                                                                                          link):
    # before: one row in rejected.csv ("dangling symbolic link: its target does not exist", "symbolic link loop"),
    # 1 of 25 files under ingest.max_reject_fraction 0.05, and the test split carved from the train images unsaid
    data = tmp_path / "data"
    image_folder(data / "train", {"a": 12, "b": 12})
    (data / "test").symlink_to(tmp_path / "unmounted" if link == "dangling" else data / "test",
                               target_is_directory=True)
    project = project_of(tmp_path, data)
    kind = "dangling symbolic link: its target does not exist" if link == "dangling" else "symbolic link loop"
    assert refused(project, monkeypatch) == (
        f"ingest.path: split folder {data / 'test'} cannot be read ({kind}), so the test split would be carved from "
        "the train images instead; restore what it links to (`dvc pull`, a drive to mount), or remove it to have "
        "ingest carve that split from train")
    (data / "test").unlink()  # the second fix it gives: read, the test split carved
    _stage_module("ingest").main()
    assert set(pd.read_parquet(project / "data/ingest/manifest.parquet")["split"]) == {"train", "val", "test"}


@pytest.mark.hostile("imagefolder")
def test_a_train_split_folder_that_is_a_dangling_link_is_refused_as_such(tmp_path, monkeypatch):
    # before: one row, and then "ingest: no class has train images; ... add images of another class"; removing the
    # link is no fix here (no train folder is refused), so it is not offered
    data = tmp_path / "data"
    image_folder(tmp_path / "elsewhere", {"a": 6, "b": 6})
    image_folder(data / "test", {"a": 2, "b": 2})
    (data / "train").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    shutil.rmtree(tmp_path / "elsewhere")
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch) == (
        f"ingest.path: split folder {data / 'train'} cannot be read (dangling symbolic link: its target does not "
        "exist), so no image would be left to train on; restore what it links to (`dvc pull`, a drive to mount)")


@pytest.mark.hostile("imagefolder")
def test_files_never_read_for_where_they_lie_stopping_ingest_are_said_so(tmp_path, monkeypatch):
    # before: "ingest: 16 of 40 files could not be read, above ingest.max_reject_fraction=0.05; see
    # data/ingest/rejected.csv ...", of images that decode: read by none but their place
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12})
    image_folder(data / "a" / "augmented", {"x": 13})
    for i in range(3):
        Image.fromarray(np.full((8, 8), 3 * i, np.uint8)).save(data / f"loose{i}.png")
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch, allowed={"data/ingest/rejected.csv"}) == (
        "ingest: 16 of 40 files could not be read, above ingest.max_reject_fraction=0.05 (13 of them are in folders "
        f"nested inside a class folder, first {data / 'a' / 'augmented' / 'x' / '0.png'}: only files directly inside "
        "a class folder are read; move them up into it, or remove those folders) (3 of them are beside the class "
        f"folders, in no class folder, first {data / 'loose0.png'}: move each into its class folder, or out of the "
        "image folder); see data/ingest/rejected.csv for each file and its reason")
    assert len(pd.read_csv(project / "data/ingest/rejected.csv")) == 16


DEPTH = 1100  # folders one inside the other: past Python's recursion limit (1000), within PATH_MAX (2 bytes a level)


@pytest.fixture
def deep(tmp_path):
    """A two-class image folder whose class a holds folders nested :data:`DEPTH` deep, a PNG at the bottom:
    ``(the folder, the PNG's path)``; removed afterwards without recursion, which shutil.rmtree and pytest's clean-up
    of old temporary folders use (and would fail on)."""
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12})
    parent = os.open(data / "a", os.O_RDONLY)
    try:
        for _ in range(DEPTH):  # by folder descriptors: os.makedirs recurses too
            os.mkdir("n", dir_fd=parent)
            inner = os.open("n", os.O_RDONLY, dir_fd=parent)
            os.close(parent)
            parent = inner
        with open(os.open("x.png", os.O_WRONLY | os.O_CREAT, dir_fd=parent), "wb") as png:
            Image.fromarray(np.full((8, 8), 250, np.uint8)).save(png, "PNG")
    finally:
        os.close(parent)
    yield data, data / "a" / "/".join(["n"] * DEPTH) / "x.png"
    stack = [(str(data / "a" / "n"), False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            os.rmdir(path)
            continue
        stack.append((path, True))
        with os.scandir(path) as scan:
            for entry in scan:
                stack.append((entry.path, False)) if entry.is_dir(follow_symlinks=False) else os.unlink(entry.path)


@pytest.mark.hostile("imagefolder")
def test_a_folder_nested_past_the_recursion_limit_in_a_class_folder_is_a_row_not_a_traceback(deep, tmp_path,
                                                                                               monkeypatch):
    # before: "RecursionError: maximum recursion depth exceeded" and its traceback, from listing the nested folder's
    # files for their rows
    data, bottom = deep
    project = project_of(tmp_path, data)
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    assert pd.read_csv(project / "data/ingest/rejected.csv").values.tolist() == [[str(bottom), NESTED]]
    assert len(pd.read_parquet(project / "data/ingest/manifest.parquet")) == 24


@pytest.mark.hostile("imagefolder")
def test_the_source_stage_lists_a_folder_nested_past_the_recursion_limit(deep):
    # before: {"unreadable": "maximum recursion depth exceeded"}, the same listing whatever was added, edited or removed
    # in the folder: DVC never reran ingest, which kept its images of before
    data, bottom = deep
    listed = fingerprint("imagefolder", str(data))
    assert listed["files"] == 25
    (data / "b" / "0.png").unlink()
    assert fingerprint("imagefolder", str(data))["files"] == 24


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("split", [None, "train"])
def test_a_windows_zip_extracted_with_backslashes_in_its_names_is_told_how_to_extract_it(tmp_path, monkeypatch,
                                                                                         split):
    # before: "ingest.path: <data> has no class folders (expected root/<class>/* or root/<split>/<class>/*)", of a
    # folder holding 12 images named cat\0.png ...: a zip whose folders Windows wrote with backslashes, extracted by
    # shutil.unpack_archive (unzip, which makes them folders, warns "appears to use backslashes as path separators")
    data = tmp_path / "data"
    holder = data / split if split else data
    holder.mkdir(parents=True)
    for name in ("cat", "dog"):
        for i in range(6):
            Image.fromarray(np.full((8, 8), 20 * i + (name == "dog"), np.uint8)).save(holder / f"{name}\\{i}.png")
    project = project_of(tmp_path, data)
    said = ("; their names hold '\\', the folder separator of a zip written on Windows, which Python's zipfile keeps "
            "in the names: extract it with unzip, which makes them folders")
    assert refused(project, monkeypatch) == (
        f"ingest.path: {data} has no class folders, only 12 file(s) (first cat\\0.png) (expected root/<class>/* or "
        f"root/<split>/<class>/*){said}" if split is None else
        f"ingest.path: split folder {holder} holds 12 file(s) (first cat\\0.png) but no class folder, so the train "
        f"split would be empty; put its labelled images in {holder}/<class>/{said}")
