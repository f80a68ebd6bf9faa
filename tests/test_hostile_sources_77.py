"""Hostile sources of the 77th stop's probe (image folders, the trusted set, an .npz given as either):

- one class named two ways in two split folders (``train/Cat`` beside ``test/cat``, or ``café`` typed as one code point
  in train and as ``e`` + a combining accent in test): the Unicode pair was told to "merge them into one folder", which
  moves test images into train, and the case pair was warned of so and then refused as "class 'cat' has no train
  images ... add train images or remove the class"; now each is refused naming the two folders and the rename that
  makes them one class, which is then read;
- an image folder zipped (a label book sent as book.zip) given as the trusted set or as the .npz: every member was read
  whole, then refused as "member 'book/cat/0.png' is not an .npy array (82 raw bytes)"; now told it is a zip of image
  files, to extract and give as a folder, before any member is read;
- one image file given as the trusted set: told "not an .npz archive" and shown the layouts of arrays; now told it is an
  image file, and that a set of them is a folder of class folders;
- ingest.path (or ingest.trusted_path) a folder holding the pipeline's outputs (the project's ``data``, the project
  itself): the first run read the images and wrote data/ingest inside the image folder, the next read it as a class
  folder and was refused as "class 'ingest' has no images ... remove the class" (and the source stage's listing, which
  holds data/source.json, changed with every run); now refused by the params check, naming the output;
- ingest.path or ingest.trusted_path holding a line break (a YAML block scalar, ``path: |``): the refusal that it does
  not exist printed the break, one error on two lines; now refused by the params check, the path escaped.

Each runs the ingest stage's ``main`` in this process and asserts its one message whole (the stage prints it after
``error: ``), with nothing left behind.
"""

from __future__ import annotations

import shutil
import unicodedata
import zipfile

import numpy as np
import pandas as pd
import pytest

from hostile_harness import ROOT, default_params, make_project
from test_contracts import _stage_module
from test_hostile_imagefolder_73r import refused
from test_hostile_ingest import image_folder


def project_of(tmp_path, **ingest):
    """A project whose ingest reads ``ingest`` (over the defaults, source imagefolder at the source's size)."""
    params = default_params()
    params["ingest"].update({"source": "imagefolder", "size": None, **ingest})
    return make_project(tmp_path / "project", params)


NFC, NFD = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize(("trained", "tested", "how"), [
    ("Cat", "cat", "but for letter case"), (NFC, NFD, "under Unicode normalisation or but for spaces")])
def test_one_class_named_two_ways_in_two_split_folders_is_told_the_rename(tmp_path, monkeypatch, trained, tested, how):
    # before, the case pair: a warning to "merge its folders into one", then "ingest: class 'cat' has no train images
    # (2 in val/test); a class with no images is not a class: add train images or remove the class"; the Unicode pair:
    # "...; merge them into one folder or rename one", a merge moving the test images into train
    data = tmp_path / "data"
    image_folder(data / "train", {trained: 6, "dog": 6})
    image_folder(data / "test", {tested: 2, "dog": 2}, shape=(8, 8))
    project = project_of(tmp_path, path=str(data))
    assert refused(project, monkeypatch) == (
        f"ingest.path: class folders {data / 'test' / tested} and {data / 'train' / trained} have names equal {how} "
        f"({ascii(tested)} and {ascii(trained)}), the test and the train split's only folders of that name, so they "
        "would be read as two classes, each missing from the other's split; name the class alike in every split "
        f"folder: rename {data / 'test' / tested} to {ascii(trained)}")
    (data / "test" / tested).rename(data / "test" / trained)  # as it says: one class, read
    _stage_module("ingest").main()
    manifest = pd.read_parquet(project / "data/ingest/manifest.parquet")
    # val carved from train: round(0.1 * 6) = 1 image of each class
    assert manifest.groupby(["split", "label"]).size().to_dict() == {
        ("test", 0): 2, ("test", 1): 2, ("train", 0): 5, ("train", 1): 5, ("val", 0): 1, ("val", 1): 1}


@pytest.mark.hostile("imagefolder")
def test_a_case_pair_sharing_a_split_folder_is_still_two_classes(tmp_path, monkeypatch, capsys):
    # the refusal above is of a pair each of whose names lacks a folder in the other's split; train/{A,a} beside
    # test/{A,a} are a letter set's two classes, warned of as before (one pair, named in its own split folder)
    data = tmp_path / "data"
    image_folder(data / "train", {"A": 6, "a": 6})
    image_folder(data / "test", {"A": 2, "a": 2})
    monkeypatch.chdir(project_of(tmp_path, path=str(data)))
    _stage_module("ingest").main()
    assert capsys.readouterr().out.splitlines()[0] == (
        f"warning: ingest.path: 1 pair(s) of class folders have names equal but for letter case (first "
        f"{data / 'test' / 'A'} and {data / 'test' / 'a'}): each read as a class of its own, though macOS and Windows "
        "hold such a pair as one folder; if a pair is one class, merge its folders into one")


def zipped_book(tmp_path):
    """A label book root/<class>/*.png (2 classes of 2 images) zipped as book.zip, the folder inside it."""
    book = image_folder(tmp_path / "book", {"cat": 2, "dog": 2})
    with zipfile.ZipFile(tmp_path / "book.zip", "w") as archive:
        for path in sorted(book.rglob("*.png")):
            archive.write(path, path.relative_to(tmp_path))
    shutil.rmtree(book)
    return tmp_path / "book.zip"


ZIPPED = ("a zip of image files (4, first 'book/cat/0.png'), not an .npz of arrays; extract it and give the folder of "
          "class folders it holds (root/<class>/<image files>), as ingest.path of source imagefolder or as "
          "ingest.trusted_path")


@pytest.mark.hostile("ingest")
def test_a_zipped_image_folder_given_as_the_trusted_set_is_told_to_extract_it(tmp_path, monkeypatch):
    # before: "ingest.trusted_path: …/book.zip: member 'book/cat/0.png' is not an .npy array (82 raw bytes); every
    # member of an .npz is one array (np.savez writes them so)", every member read whole first
    data = image_folder(tmp_path / "data", {"cat": 10, "dog": 10})
    project = project_of(tmp_path, path=str(data), trusted_path=str(zipped_book(tmp_path)))
    assert refused(project, monkeypatch) == f"ingest.trusted_path: {tmp_path / 'book.zip'}: {ZIPPED}"


@pytest.mark.hostile("npz")
def test_a_zipped_image_folder_given_as_the_npz_is_told_to_extract_it(tmp_path, monkeypatch):
    # before: "…/book.zip: member 'book/cat/0.png' is not an .npy array (82 raw bytes); ..."
    project = project_of(tmp_path, source="npz", path=str(zipped_book(tmp_path)))
    assert refused(project, monkeypatch) == f"{tmp_path / 'book.zip'}: {ZIPPED}"


@pytest.mark.hostile("ingest")
def test_one_image_file_given_as_the_trusted_set_is_told_it_is_an_image(tmp_path, monkeypatch):
    # before: "ingest.trusted_path: …/0.png: not an .npz archive (no zip file and no .npy array); an .npz holds
    # 'images' + 'labels' ...", the layouts of arrays of a user who gave the one picture
    data = image_folder(tmp_path / "data", {"cat": 10, "dog": 10})
    picture = image_folder(tmp_path / "book", {"cat": 1}) / "cat" / "0.png"
    project = project_of(tmp_path, path=str(data), trusted_path=str(picture))
    assert refused(project, monkeypatch) == (
        f"ingest.trusted_path: {picture}: an image file (PNG), not an .npz archive of arrays; give the folder of class "
        "folders it belongs in (root/<class>/<image files>), as ingest.path of source imagefolder or as "
        "ingest.trusted_path")


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("key", "value", "output"), [
    ("path", "data", "an output of the source stage (data/source.json)"),
    ("trusted_path", "data", "an output of the source stage (data/source.json)"),
    ("path", ".", "an output of the evaluate@oracle stage (metrics/evaluate/oracle/summary.json)")])
def test_an_image_folder_holding_the_pipelines_outputs_is_refused(tmp_path, monkeypatch, key, value, output):
    # before (ingest.path: data, the project's data/ holding the images' class folders): the first run read them and
    # wrote data/ingest there; the next read data/ingest as a class folder, "ingest: class 'ingest' has no images; a
    # class with no images is not a class: add train images or remove the class (5 files were set aside ...)"
    project = make_project(tmp_path / "project")
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")  # the outputs are dvc.yaml's
    image_folder(project / "data", {"cat": 10, "dog": 10})
    elsewhere = image_folder(tmp_path / "images", {"cat": 10, "dog": 10})
    ingest = {"path": str(elsewhere), key: value}
    params = default_params()
    params["ingest"].update(source="imagefolder", size=None, **ingest)
    make_project(project, params)
    assert refused(project, monkeypatch) == (
        f"params.yaml: ingest.{key}: {value} holds {output}, which ingest would read beside the images (a class "
        "folder, or a file beside them) and every run writes anew; keep the images in a folder of their own outside "
        "the pipeline's outputs (data/raw)")


@pytest.mark.hostile("params")
def test_an_image_folder_inside_the_projects_data_folder_is_read(tmp_path, monkeypatch):
    # the check is of folders holding an output: data/raw, beside data/ingest, holds none
    project = make_project(tmp_path / "project")
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    image_folder(project / "data" / "raw", {"cat": 10, "dog": 10})
    make_project(project, {**default_params(), "ingest": {**default_params()["ingest"], "source": "imagefolder",
                                                          "path": "data/raw", "size": None}})
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    assert len(np.load(project / "data/ingest/images.npy", mmap_mode="r")) == 20


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("key", "tail"), [("path", "\n"), ("trusted_path", "\nbook")])
def test_a_source_path_holding_a_line_break_is_refused_in_one_line(tmp_path, monkeypatch, key, tail):
    # before (a YAML block scalar, `trusted_path: |`, keeps the break): "error: ingest.trusted_path: /…/book\n does not
    # exist; give ...", one error printed on two lines, the path looked for with the break in it
    data = image_folder(tmp_path / "data", {"cat": 10, "dog": 10})
    project = project_of(tmp_path, **{"path": str(data), key: "book" + tail})
    assert refused(project, monkeypatch) == (
        f"params.yaml: ingest.{key}: \"book\\n{tail[1:]}\" holds the control character '\\n', which no path typed on "
        "one line holds (a YAML block scalar keeps its line break); write the path on one line, as a plain or quoted "
        "string")
