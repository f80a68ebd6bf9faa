"""Hostile inputs to ingest, fourth pass (stop 63): a trusted set that is a split folder of the data set itself or is
not there; a JPEG whose last few bytes were never written; a FIFO given as the trusted set, the .npz or a CIFAR-10
batch; a file beside CIFAR-10's batches whose name is not UTF-8; ingest.path an empty folder (an unmounted drive)
where the source stage listed images; a FIFO at represent.file, which the source stage lists; a URL for a source that
reads a local file beside a trusted set; an .npz whose name is not UTF-8.

Each case runs ``stages/ingest.py`` through the harness (see :mod:`test_hostile_ingest`, whose helpers it
reuses) and asserts the one ``error:`` line with nothing left behind, or the exact rows and counts; the JPEG case
reads its folder with :func:`winnow.image_files.load_imagefolder` in this process, and the empty folder's runs the
source stage, whose listing ingest depends on.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hostile_harness import assert_error_line, assert_nothing_left, default_params, make_project, run_stage
from test_hostile_image_decode import UNWRITTEN, decoded
from test_hostile_ingest import assert_ingested, cifar_folder, image_folder, rejected, run_ingest
from winnow.cifar10 import FOLDER
from winnow.image_files import load_imagefolder


def split_folders(root: Path) -> Path:
    """``root/{train,val,test}/{a,b}/<i>.png``: 10, 4 and 4 grey 8x8 images a class (:func:`image_folder`'s)."""
    for split, count in (("train", 10), ("val", 4), ("test", 4)):
        image_folder(root / split, {"a": count, "b": count})
    return root


def split_folders_of_two_sizes(root: Path) -> Path:
    """:func:`split_folders` with one 9x8 image among the 8x8 ones: read with ingest.size null the data set is refused
    ("2 different sizes"), so a refusal of the trusted path instead shows it came before the data set was read."""
    data = split_folders(root)
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(data / "train" / "a" / "tall.png")
    return data


def inside_line(trusted: Path, data: Path) -> str:
    """The error: line refusing ingest.trusted_path ``trusted`` inside ingest.path ``data``."""
    return (f"error: ingest.trusted_path: {trusted} is inside ingest.path ({data}), whose images ingest reads as the "
            "data set; the trusted split must be images held out from the data it judges: move them out of "
            "ingest.path")


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("split", ["test", "train"])
def test_a_trusted_path_inside_ingest_path_is_refused(tmp_path, split):
    # before: ingest.trusted_path at root/test passed with "8 of its 8 images are pixel-identical to images of
    # ingest.path; dedup drops their train copies as leaks" (of none): the budget chose the cleaning on the test
    # images; at root/train dedup would drop the whole train split as leaks
    data = split_folders(tmp_path / "data")
    project, before, done = run_ingest(tmp_path, "imagefolder", data, trusted_path=str(data / split))
    assert assert_error_line(done) == inside_line(data / split, data)
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_a_trusted_path_inside_ingest_path_is_refused_before_the_data_set_is_read(tmp_path):
    # before: the refusal came after every image of ingest.path was decoded (an hour of a large set), here after
    # "ingest.size: the images of <root> have 2 different sizes", whose fix led only to the trusted path's refusal
    data = split_folders_of_two_sizes(tmp_path / "data")
    project, before, done = run_ingest(tmp_path, "imagefolder", data, trusted_path=str(data / "test"), size=None)
    assert assert_error_line(done) == inside_line(data / "test", data)
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_a_trusted_path_that_does_not_exist_is_refused_before_the_data_set_is_read(tmp_path):
    # before: 02921e4 compared the paths before the source was read, but a trusted path mistyped was said not to exist
    # only after every image of ingest.path was decoded (an hour of a large set), here after "ingest.size: the images
    # of <root> have 2 different sizes", whose fix led only to this line
    data = split_folders_of_two_sizes(tmp_path / "data")
    missing = tmp_path / "trusted"
    project, before, done = run_ingest(tmp_path, "imagefolder", data, trusted_path=str(missing), size=None)
    assert assert_error_line(done) == (f"error: ingest.trusted_path: {missing} does not exist; give a folder "
                                       "root/<class>/<image files> or an .npz with images + labels (optional classes)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize(("source", "url", "what"), [("npz", "s3://bucket/set.npz", "file"),
                                                    ("cifar10", "gs://bucket/cifar-10-batches-py", "folder")])
def test_a_url_for_a_local_source_beside_a_trusted_path_is_refused_as_local_only(tmp_path, source, url, what):
    # before: with ingest.trusted_path set, the paths compared before the source is read looked for ingest.path's
    # backend first: "needs s3fs, which is not installed: pip install s3fs", whose install led only to this refusal
    trusted = image_folder(tmp_path / "trusted", {"a": 2, "b": 2})
    project, before, done = run_ingest(tmp_path, source, url, trusted_path=str(trusted))
    assert assert_error_line(done) == (f"error: ingest.path: {url}: source {source} reads a local {what}; copy it "
                                       "here (dvc import-url or the cloud's own tool), or use source imagefolder for "
                                       "a folder at a URL")
    assert_nothing_left(project, before)


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("unwritten", [4, 32, 63])
def test_a_jpeg_whose_last_bytes_were_never_written_is_a_row_and_one_padded_after_its_end_is_read(tmp_path, unwritten):
    # before: a zero-filled end was looked for only from 64 bytes on (the WebP encoder's zeros), and a 32x32 JPEG
    # whose last 32 bytes were zeros was read with a quarter of its pixels garbage, unsaid
    photo = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(photo).save(out, "JPEG", quality=90)
    jpeg = out.getvalue()
    for name, data in (("a/cut.jpg", jpeg[:-unwritten] + bytes(unwritten)), ("a/padded.jpg", jpeg + bytes(unwritten)),
                       ("b/whole.jpg", jpeg)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    loaded = load_imagefolder(tmp_path, size=None)
    assert loaded.rejected == [(f"{tmp_path}/a/cut.jpg", UNWRITTEN)]
    assert loaded.ids.tolist() == ["a/padded.jpg", "b/whole.jpg"]
    np.testing.assert_array_equal(loaded.images[0], decoded(jpeg))


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("param", ["trusted_path", "path"])
def test_a_fifo_given_as_the_trusted_set_or_the_npz_is_one_line(tmp_path, param):
    # before: a FIFO at ingest.trusted_path was opened as an .npz, whose open waits for a writer: ingest hung for
    # ever; one at ingest.path (source npz) "does not exist"
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    fifo = tmp_path / "set.npz"
    os.mkfifo(fifo)
    paths = {"source": "imagefolder", "path": data, "trusted_path": str(fifo)} if param == "trusted_path" else \
        {"source": "npz", "path": fifo}
    project, before, done = run_ingest(tmp_path, paths.pop("source"), paths.pop("path"), **paths)
    line = assert_error_line(done)
    assert line == {
        "trusted_path": f"error: ingest.trusted_path: {fifo} is neither a folder nor a regular file (a FIFO, socket or "
                        "device); give a folder root/<class>/<image files> or an .npz with images + labels (optional "
                        "classes)",
        "path": f"error: ingest.path: {fifo} is not a regular file (a FIFO, socket or device); expected an .npz file",
    }[param]
    assert_nothing_left(project, before)


@pytest.mark.hostile("cifar10")
@pytest.mark.parametrize("name", ["data_batch_1", "batches.meta"])
def test_a_fifo_among_the_cifar_batches_is_named_as_such(tmp_path, name):
    # before: a FIFO at data_batch_1 "is missing" (the npz source's FIFO was "does not exist" until e4a7057), and one
    # at batches.meta was passed over: the 18 images were read under CIFAR-10's own class names, not the folder's
    root = cifar_folder(tmp_path / FOLDER, np.random.default_rng(0))
    (root / name).unlink()
    os.mkfifo(root / name)
    project, before, done = run_ingest(tmp_path, "cifar10", root, size=None)
    assert assert_error_line(done) == (f"error: ingest.path: {root / name} is not a regular file (a FIFO, socket or "
                                       f"device); a {FOLDER} folder holds data_batch_1..5 and test_batch")
    assert_nothing_left(project, before)


@pytest.mark.hostile("cifar10")
def test_a_file_beside_the_cifar_batches_whose_name_is_not_utf8_is_a_row(tmp_path, rng):
    # before: its row's path held a surrogate escape, and building rejected.csv ended ingest in a traceback
    # (UnicodeEncodeError: 'utf-8' codec can't encode character '\udcff')
    data = cifar_folder(tmp_path / FOLDER, rng)
    with open(os.fsencode(data) + b"/notes-\xff.txt", "wb") as note:
        note.write(b"a note")
    project, _, done = run_ingest(tmp_path, "cifar10", data, max_reject_fraction=0.5, val_fraction=0.2)
    assert_ingested(done)
    assert rejected(project) == {f"{data}/notes-\\xff.txt": "not read: a CIFAR-10 folder's batches are data_batch_1..5 "
                                                             "and test_batch"}
    assert json.loads((project / "metrics/ingest.json").read_text())["split"] == {"test": 3, "train": 12, "val": 3}


@pytest.mark.hostile("ingest")
def test_an_empty_folder_at_ingest_path_keeps_the_last_listing_as_a_missing_one_does(tmp_path):
    # before: a folder with nothing to read (a drive's mount point once unmounted, a clone's data/raw beside its
    # .gitkeep) was listed as 0 files, so `dvc repro` of an experiment on training reran ingest, which stopped on
    # "has no class folders" (its outputs removed by DVC), where a missing folder keeps the last listing
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(data))
    project = make_project(tmp_path / "project", params)
    assert run_stage(project, "source").returncode == 0
    listed = (project / "data/source.json").read_text()
    assert json.loads(listed)["ingest.path"]["files"] == 12
    for folder in ("a", "b"):
        (data / folder).rename(tmp_path / folder)
    (data / ".gitkeep").write_text("")
    done = run_stage(project, "source")
    assert done.returncode == 0, done.stderr
    assert ("warning: source: ingest.path cannot be read here (an empty folder, nothing to read: an unmounted drive, "
            "or a clone without the raw data?); kept its last listing, so ingest does not rerun for it and its outputs "
            "stay those of the files it last read") in done.stdout.splitlines()
    assert (project / "data/source.json").read_text() == listed


@pytest.mark.hostile("represent")
def test_the_source_stage_lists_a_fifo_at_represent_file_without_reading_it(tmp_path):
    # before: the listing hashed represent.file's bytes, and a FIFO's open waits for a writer: the source stage, which
    # every dvc repro runs, hung for ever before represent could refuse the FIFO in one line
    fifo = tmp_path / "embeddings.npy"
    os.mkfifo(fifo)
    params = default_params()
    params["represent"].update(source="file", file=str(fifo))
    project = make_project(tmp_path / "project", params)
    done = run_stage(project, "source", timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads((project / "data/represent-source.json").read_text())["represent.file"]["files"] == 1


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("param", ["path", "trusted_path"])
def test_an_npz_whose_name_is_not_utf8_is_read(tmp_path, param):
    # before: set-\xff.npz, as ingest.path or as the trusted set, ended ingest in a traceback (UnicodeEncodeError:
    # surrogates not allowed) where the splits are carved from its ids, which hold the file's name
    npz = Path(os.fsdecode(os.fsencode(tmp_path) + b"/set-\xff.npz"))
    labels = np.arange(30) % 2 if param == "path" else np.array([0, 1, 0, 1])
    np.savez(npz, images=(np.arange(len(labels))[:, None, None] * 8 + np.zeros((8, 8), np.int64)).astype(np.uint8),
             labels=labels, classes=np.array(["a", "b"]))
    paths = {"source": "npz", "path": npz} if param == "path" else \
        {"source": "imagefolder", "path": image_folder(tmp_path / "data", {"a": 6, "b": 6}), "trusted_path": str(npz)}
    project, before, done = run_ingest(tmp_path, paths.pop("source"), paths.pop("path"), **paths)
    assert_ingested(done)
    ids = pd.read_parquet(project / "data/ingest/manifest.parquet")["id"]
    prefix = "set-\\xff-all-" if param == "path" else "trusted/set-\\xff-all-"
    assert sorted(i for i in ids if i.startswith(prefix)) == [f"{prefix}{i:05d}" for i in range(len(labels))]


@pytest.mark.hostile("imagefolder")
def test_an_empty_val_split_is_said_at_ingest_not_minutes_later(tmp_path):
    # before: ingest.val_fraction 0 on a folder without a val split said nothing; represent ran, and train or a
    # label cleaner refused minutes later ("set ingest.val_fraction above 0")
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    project, _, done = run_ingest(tmp_path, "imagefolder", data, val_fraction=0.0, test_fraction=0.5)
    assert_ingested(done)
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: ingest: the val")] == [
        "warning: ingest: the val split is empty (ingest.val_fraction 0, and the source names no val image): "
        "checkpoints, the relabel gate and the cleaning budget are judged on it, and train and the label cleaners "
        "stop without it; set ingest.val_fraction above 0 (score, threshold and dedup run without one)"]
    assert set(pd.read_parquet(project / "data/ingest/manifest.parquet")["split"]) == {"train", "test"}
