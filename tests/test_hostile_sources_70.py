"""Hostile sources of the 70th stop's probe (the .npz and CIFAR-10 sources beside ingest's own cases):

- an .npz member of Python objects (class names taken from pandas, labels as an object array), which numpy pickles:
  the refusal names the member and how to store it;
- one image saved without its batch axis (``(16, 16, 3)`` or ``(16, 16)`` beside one label, or a label that is a
  single number): the refusal says so, not "16 images" nor "flat rows";
- images channels first (torch's ``(N, C, H, W)``) or last (MATLAB's ``(H, W, C, N)`` and ``(H, W, N)``), labels in
  one row (MATLAB's ``(1, N)``): each refusal says which order it looks like and how to store it;
- a CIFAR-10 label beyond the classes a ``batches.meta`` of another data set names: the refusal names the meta file;
- ``ingest.download: true`` with an empty folder at ``ingest.path``, or one holding the archive itself: the refusal
  says why nothing was fetched, and the fix it gives for the archive works;
- a trusted .npz labelled by class names: the refusal no longer sends the user to ingest.classes, which names the
  classes of the npz source alone.

Each runs the ingest stage's ``main`` in this process and asserts its one message whole (the stage prints it after
``error: ``), with nothing left behind.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_contracts import _stage_module
from test_hostile_ingest import cifar_folder
import winnow.cifar10
from winnow.cifar10 import FOLDER, load_cifar10
from winnow.errors import WinnowError


def refused_ingest(tmp_path, monkeypatch, source: str, path, **ingest) -> str:
    """The message of the ingest stage's refusal to read ``path`` as ``source``; nothing may be left behind."""
    params = default_params()
    params["ingest"].update(source=source, path=str(path), **ingest)
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert_nothing_left(project, before)
    return str(refused.value)


def grey_images(n: int) -> np.ndarray:
    """uint8 ``(n, 8, 8)``, each a grey of its own."""
    return np.repeat(np.arange(0, 10 * n, 10, dtype=np.uint8), 64).reshape(n, 8, 8)


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("member", ["classes", "labels"])
def test_an_npz_member_of_python_objects_is_named_with_how_to_store_it(tmp_path, monkeypatch, member):
    # before: "…/set.npz: not a readable .npz without pickles (ValueError: Object arrays cannot be loaded when
    # allow_pickle=False)": no member named (the module's rule: each refusal names the key), nothing said to do
    arrays = {"images": grey_images(10), "labels": np.arange(10) % 2,
              "classes": pd.Series(["cat", "dog"]).unique()}  # pandas hands back names as an object array
    if member == "labels":
        arrays["labels"] = np.array(["cat", "dog"] * 5, dtype=object)
    np.savez(tmp_path / "set.npz", **arrays)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: not a readable .npz without pickles: member {member!r} is an array of Python objects, "
        "which numpy stores as a pickle and reads only with allow_pickle (a pickle can run any code, so none is read); "
        "store it as a plain array: names as np.array(names, dtype=str), pixels and labels as numbers")


ONE_IMAGE = {
    # before: "…/set.npz: labels has 1 labels for 16 images in images; give one per image"
    "rgb": ((16, 16, 3), np.array([0]), "images has shape (16, 16, 3), read as 16 grey 16x3 images, beside 1 label in "
            "labels: one 16x16 image without its batch axis? store it as np.expand_dims(image, 0), of shape "
            "(1, 16, 16, 3)"),
    # before: "…/set.npz: images holds flat rows of 16 values; store images as (N, H, W[, C]) instead"
    "grey": ((16, 16), np.array([0]), "images has shape (16, 16): flat rows of 16 values, or one 16x16 image without "
             "its batch axis? store images as (N, H, W[, C]) (one image: np.expand_dims(image, 0), of shape "
             "(1, 16, 16))"),
    # before: "…/set.npz: labels must hold one class number per image, got shape () (one-hot rows? store their argmax)"
    "label": ((1, 16, 16, 3), np.array(0), "labels is a single number, not an array of one class number per image; "
              "store the labels as shape (N,) (one image's: np.array([label]))"),
}


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("case", sorted(ONE_IMAGE))
def test_one_image_saved_without_its_batch_axis_is_told_so(tmp_path, monkeypatch, case):
    shape, labels, said = ONE_IMAGE[case]
    np.savez(tmp_path / "set.npz", images=np.full(shape, 7, np.uint8), labels=labels)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == f"{tmp_path / 'set.npz'}: {said}"


OTHER_ORDERS = {
    # before: "…/set.npz: images must be (N, H, W) or (N, H, W, C) with C in 1 or 3 and H, W > 0, got (4, 3, 8, 8)", no more
    "channels first": ((4, 3, 8, 8), np.arange(4) % 2, "images must be (N, H, W) or (N, H, W, C) with C in 1 or 3 and "
                       "H, W > 0, got (4, 3, 8, 8); channels first (N, C, H, W), as torch stores them? store "
                       "images.transpose(0, 2, 3, 1)"),
    # before: the same line, got (8, 8, 3, 4), no more
    "images last": ((8, 8, 3, 4), np.arange(4) % 2, "images must be (N, H, W) or (N, H, W, C) with C in 1 or 3 and H, "
                    "W > 0, got (8, 8, 3, 4); images last (H, W, C, N), as MATLAB stores them? store "
                    "np.moveaxis(images, -1, 0)"),
    # before: "…/set.npz: labels has 4 labels for 8 images in images; give one per image", no more
    "grey images last": ((8, 8, 4), np.arange(4) % 2, "labels has 4 labels for 8 images in images; give one per image "
                         "(images last, (8, 8, 4), as MATLAB stores them? store np.moveaxis(images, -1, 0))"),
    # before: "…/set.npz: labels must hold one class number per image, got shape (1, 4) (one-hot rows? store their
    # argmax)", whose argmax is one number
    "labels in a row": ((4, 8, 8), (np.arange(4) % 2)[None], "labels has shape (1, 4): one row of 4 labels, as MATLAB "
                        "stores them? store them as shape (N,): labels.ravel()"),
}


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("case", sorted(OTHER_ORDERS))
def test_arrays_in_another_axis_order_are_told_how_to_store_them(tmp_path, monkeypatch, case):
    shape, labels, said = OTHER_ORDERS[case]
    np.savez(tmp_path / "set.npz", images=np.full(shape, 7, np.uint8), labels=labels)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == f"{tmp_path / 'set.npz'}: {said}"


@pytest.mark.hostile("cifar10")
def test_a_cifar_label_beyond_the_classes_batches_meta_names_blames_the_meta(tmp_path, monkeypatch, rng):
    # before: "…/data_batch_1: label 2 at row 2 is outside the 2 classes": the batch blamed, where a batches.meta of
    # another data set named too few classes (cifar_folder's batches label 0, 1, 2)
    data = cifar_folder(tmp_path / FOLDER, rng, **{"batches.meta": pickle.dumps({b"label_names": [b"x", b"y"]})})
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", data) == (
        f"{data / 'data_batch_1'}: label 2 at row 2 is outside the 2 classes that {data / 'batches.meta'} names: give "
        "its label_names a name for every class (or remove it for CIFAR-10's ten), or replace the batch if it is "
        "damaged")


@pytest.mark.hostile("cifar10")
def test_download_with_an_empty_folder_at_ingest_path_says_it_fetches_only_where_nothing_is(tmp_path, monkeypatch):
    # before: "ingest.path: …/cifar/data_batch_1 is missing; a cifar-10-batches-py folder holds data_batch_1..5 and
    # test_batch", with ingest.download true and nothing fetched (it fetches only where ingest.path does not exist)
    (tmp_path / "cifar").mkdir()
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", tmp_path / "cifar", download=True) == (
        f"ingest.path: {tmp_path / 'cifar'} is an empty folder, and ingest.download fetches the archive only where "
        "ingest.path does not exist yet; remove the empty folder to download there, or mount the drive if it is an "
        "unmounted drive's mount point")
    assert not (tmp_path / "cifar-10-python.tar.gz").exists()  # nothing fetched



@pytest.mark.hostile("cifar10")
def test_download_with_the_archive_inside_ingest_path_says_where_it_is_read(tmp_path, monkeypatch, rng):
    # before: "ingest.path: …/cifar/data_batch_1 is missing; …", ingest.download true and the archive downloaded into
    # the folder ingest.path names, where it is never looked for (it is looked for beside ingest.path)
    (tmp_path / "cifar").mkdir()
    archive = tmp_path / "cifar" / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            body = pickle.dumps({b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [0, 9]})
            member = tarfile.TarInfo(f"{FOLDER}/{name}")
            member.size = len(body)
            tar.addfile(member, io.BytesIO(body))
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", tmp_path / "cifar", download=True) == (
        f"ingest.path: {tmp_path / 'cifar'} is a folder without CIFAR-10's batches, and ingest.download fetches the "
        f"archive only where ingest.path does not exist yet; the cifar-10-python.tar.gz in it is read by pointing "
        f"ingest.path at {tmp_path / 'cifar' / FOLDER}, beside it")
    # the fix it gives works (this archive stands in for the official one, whose MD5 a test cannot produce offline)
    monkeypatch.setattr(winnow.cifar10, "CIFAR10_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    assert len(load_cifar10(tmp_path / "cifar" / FOLDER, download=True).images) == 12

@pytest.mark.hostile("npz")
def test_a_trusted_npz_labelled_by_names_is_not_sent_to_ingest_classes(tmp_path, monkeypatch):
    # before: "ingest.trusted_path: …/book.npz: labels has labels of type <U1; store class numbers 0..K-1 and the names
    # in a 'classes' array or ingest.classes": ingest.classes names the npz source's classes alone (refused for the
    # other sources), never a trusted set's
    np.savez(tmp_path / "set.npz", images=grey_images(20), labels=np.arange(20) % 2, classes=np.array(["a", "b"]))
    np.savez(tmp_path / "book.npz", images=grey_images(4), labels=np.array(["a", "b"] * 2), classes=np.array(["a", "b"]))
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz", trusted_path=str(tmp_path / "book.npz"),
                          val_fraction=0.2) == (
        f"ingest.trusted_path: {tmp_path / 'book.npz'}: labels has labels of type <U1; store class numbers 0..K-1 and "
        "the names in a 'classes' array")
