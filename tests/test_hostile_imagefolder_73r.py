"""Review of the 73rd probe's imagefolder mends: the cases next to the ones they handled. The ingest stage's ``main``
runs in-process.

- a set of two classes whose second has no train image (its images all in the source's test folder, or all carved to
  val/test from too few): refused naming that class and, where the carving took them, the fractions to lower; not
  "only class 'a' has train images; ... add images of another class", which named neither (the mend of "class c has
  no train images" covered three classes or more, where the fault arrives at the next check);
- a split folder of unlabelled images one of which a Linux user named with a backslash: refused as a split with no
  class folder, without "a zip written on Windows ... extract it with unzip", which no zip made;
- a bucket (``memory://``) whose keys hold backslashes where folders were meant: told to upload them again with '/',
  not to extract a zip with unzip (there is none: the keys are the bucket's);
- a file whose name holds a backslash beside class folders is the row any file there is, no refusal;
- the source stage's listing, now walked with a stack, keeps the recursive walk's order (each folder's entries where
  its name sorts, code points not UTF-8 bytes), its links and loops: a change of order changes every fingerprint,
  and DVC would rerun ingest for nothing (the mend's test counted the files only).
"""

import os
import uuid

import fsspec
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_contracts import _stage_module
from test_hostile_ingest import image_folder
from winnow.errors import WinnowError
from winnow.image_files import OUTSIDE
from winnow.source_listing import _local


def project_of(tmp_path, data, **ingest):
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(data), size=None, **ingest)
    return make_project(tmp_path / "project", params)


def refused(project, monkeypatch) -> str:
    """The one line ingest refuses ``project``'s source with; nothing left behind."""
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as raised:
        _stage_module("ingest").main()
    assert_nothing_left(project, before)
    return str(raised.value)


def png(path, value: int) -> None:
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path, "PNG")


@pytest.mark.hostile("ingest")
def test_a_second_class_only_in_the_sources_test_folder_is_named(tmp_path, monkeypatch):
    # before: "ingest: only class 'a' has train images; a classifier needs at least 2 classes, so add images of another
    # class", of a set of two classes whose b lies in root/test alone
    data = tmp_path / "data"
    image_folder(data / "train", {"a": 6})
    image_folder(data / "test", {"a": 2, "b": 2})
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch) == (
        "ingest: only class 'a' has train images (class 'b' has 2, all in val/test); a classifier needs at least 2 "
        "classes, so add train images of class 'b'")
    image_folder(data / "train", {"b": 6})  # as it says: read
    _stage_module("ingest").main()
    assert len(pd.read_parquet(project / "data/ingest/manifest.parquet")) == 16


@pytest.mark.hostile("ingest")
def test_a_second_class_the_carving_emptied_of_train_images_is_told_to_lower_the_fractions(tmp_path, monkeypatch):
    # before: "... add images of another class": b's 2 images were carved 1 to val, 1 to test (round(0.6) each)
    data = image_folder(tmp_path / "data", {"a": 12, "b": 2})
    project = project_of(tmp_path, data, val_fraction=0.3, test_fraction=0.3)
    assert refused(project, monkeypatch) == (
        "ingest: only class 'a' has train images (class 'b' has 2, all in val/test); a classifier needs at least 2 "
        "classes, so add train images of class 'b' or lower ingest.val_fraction / ingest.test_fraction")
    # the second fix it gives, val lowered to leave b one train image beside its test image: read
    project = project_of(tmp_path, data, val_fraction=0.1, test_fraction=0.3)
    _stage_module("ingest").main()
    manifest = pd.read_parquet(project / "data/ingest/manifest.parquet")
    assert sorted(manifest.loc[manifest["split"] == "train", "label"].unique()) == [0, 1]


@pytest.mark.hostile("imagefolder")
def test_a_backslash_in_one_name_of_an_unlabelled_split_folder_is_not_called_a_windows_zip(tmp_path, monkeypatch):
    # before: "...; put its labelled images in <data>/test/<class>/, or remove the folder ...; their names hold '\',
    # the folder separator of a zip written on Windows, ...: extract it with unzip", of 4 images no zip made
    data = tmp_path / "data"
    image_folder(data / "train", {"a": 6, "b": 6})
    (data / "test").mkdir()
    for i, name in enumerate(["0.png", "1.png", "2.png", "a\\b.png"]):
        png(data / "test" / name, 30 + i)
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch) == (
        f"ingest.path: split folder {data / 'test'} holds 4 file(s) (first 0.png) but no class folder, so the test "
        f"split would be carved from the train images instead; put its labelled images in {data / 'test'}/<class>/, "
        "or remove the folder to have ingest carve the split from train")


@pytest.fixture
def bucket():
    """(a fresh ``memory://`` folder's URL, the file system), removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = f"/winnow-{uuid.uuid4().hex}"
    yield f"memory://{root}", fs
    fs.rm(root, recursive=True)


@pytest.mark.hostile("imagefolder")
def test_a_bucket_whose_keys_hold_backslashes_is_told_to_upload_them_again(tmp_path, monkeypatch, bucket):
    # before: "...; their names hold '\', the folder separator of a zip written on Windows, which Python's zipfile
    # keeps in the names: extract it with unzip", of objects an upload from Windows named cat\0.png: no zip to extract
    url, fs = bucket
    local = tmp_path / "one.png"
    png(local, 9)
    for name in ("cat", "dog"):
        for i in range(3):
            fs.pipe(f"{url.removeprefix('memory://')}/{name}\\{i}.png", local.read_bytes())
    project = project_of(tmp_path, url)
    assert refused(project, monkeypatch) == (
        f"ingest.path: {url} has no class folders, only 6 file(s) (first cat\\0.png) (expected root/<class>/* or "
        "root/<split>/<class>/*); their names hold '\\', the folder separator of Windows, which the upload kept in "
        "the keys: upload them again with '/' between the folders")


@pytest.mark.hostile("imagefolder")
def test_a_file_with_a_backslash_in_its_name_beside_class_folders_is_a_row_not_a_refusal(tmp_path, monkeypatch):
    # the Windows-zip refusal looks only where no class folder is: a Linux name holding '\' among class folders is the
    # row of a file outside any class folder, and the rest is read
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12})
    png(data / "a\\extra.png", 99)
    project = project_of(tmp_path, data, max_reject_fraction=0.1)
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    assert pd.read_csv(project / "data/ingest/rejected.csv").values.tolist() == [[str(data / "a\\extra.png"), OUTSIDE]]
    assert len(pd.read_parquet(project / "data/ingest/manifest.parquet")) == 24


@pytest.mark.hostile("imagefolder")
def test_the_source_listing_keeps_the_recursive_walks_order_links_and_loops(tmp_path):
    # the stack walk must list as the recursion did, or every data set's fingerprint changes and DVC reruns ingest:
    # a folder's files where its name sorts (train/cat/... before train/cat.png, though '.' sorts before '/'), names
    # by code point (U+DCFF, a name's undecodable byte 0xff, before U+E000, whose UTF-8 bytes sort first), a link in a
    # class folder listed as the link, a split folder linking to another listed as a loop, hidden files left out
    data = tmp_path / "data"
    (data / "train" / "cat" / "sub").mkdir(parents=True)
    (data / "train" / "dog").mkdir()
    for path in ("cat/0.png", "cat/sub/x.png", "cat.png", "cat/.DS_Store", "dog/\ue000.png"):
        (data / "train" / path).write_bytes(b"x")
    with open(os.fsencode(data / "train" / "dog") + b"/\xff.png", "wb") as undecodable:
        undecodable.write(b"x")
    (data / "train" / "cat" / "up").symlink_to(data / "train", target_is_directory=True)
    (data / "val").symlink_to(data / "train", target_is_directory=True)
    listed = [(name, "a file" if state[:1].isdigit() else state) for name, state in _local(data)]
    assert listed == [("train/cat/0.png", "a file"), ("train/cat/sub/x.png", "a file"),
                      ("train/cat/up", f"link to '{data / 'train'}'"), ("train/cat.png", "a file"),
                      ("train/dog/\udcff.png", "a file"), ("train/dog/\ue000.png", "a file"), ("val", "loop")]
