"""Review of the 70th stop's mends to the .npz and CIFAR-10 sources (tests/test_hostile_sources_70.py), cases next to
the ones they handle:

- one image's one-hot label row ``(1, K)``: told to ravel it as a MATLAB row of K labels (K labels for 1 image); now
  the one-hot line, whose argmax fix is read;
- square grey images ``(N, H, H)`` beside H labels: told they looked stored images last, and the ``np.moveaxis`` it
  gave made H images of NxH that were read; now no such advice;
- MATLAB's ``(H, W, C, N)`` with N 1 or 3 (read as is, as H images): the images-last advice, as for other N;
- one torch image ``(3, H, W)`` beside one label, and one flat row ``(784,)``: told "1 labels for 3 images" and the
  shape alone; now each says it may be one image without its batch axis, and how to store it;
- each call the refusals of this family advise (``transpose``, ``moveaxis``, ``expand_dims``, ``ravel``,
  ``argmax``, ``[None]``) stores a file that is read, with the pixels meant;
- a single .npy array of Python objects given as the .npz: numpy's "Object arrays cannot be loaded" (read whole
  first); now the single-array line, unread;
- an .npz whose 'images' is cut short beside a 'classes' of Python objects: blamed on 'classes' (the first member of
  objects, not the member numpy failed on), and without one named by no member; now the member read when it failed;
- ``ingest.path`` naming the CIFAR-10 archive itself, or (download off) a folder that holds it: told to set
  ``ingest.download: true``, which refused it as well, or "data_batch_1 is missing"; now where it is read, and that
  fix works;
- a negative CIFAR-10 label: blamed on the class names (a batches.meta to give more of, or to add), which no name
  fixes; now "below 0" and the batch to replace; and the reviewed line for a label past CIFAR-10's ten without a
  batches.meta, which its tests left unasserted, asserted whole.

Refusals run the ingest stage's ``main`` and assert its one message whole, with nothing left behind.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import zipfile

import numpy as np
import pytest

from test_hostile_ingest import cifar_folder
from test_hostile_sources_70 import refused_ingest
import winnow.cifar10
from winnow.cifar10 import ARCHIVE, FOLDER, load_cifar10
from winnow.npz_files import load_npz


def pixels(*shape: int) -> np.ndarray:
    """uint8 of ``shape``, values running 0..250 in order, so a wrong axis order reads other pixels."""
    return (np.arange(np.prod(shape)) % 251).astype(np.uint8).reshape(shape)


@pytest.mark.hostile("npz")
def test_one_images_one_hot_label_row_is_not_told_to_ravel(tmp_path, monkeypatch):
    # before: "labels has shape (1, 10): one row of 10 labels, as MATLAB stores them? store them as shape (N,):
    # labels.ravel()", which makes 10 labels for the one image
    onehot = np.eye(10, dtype=np.int64)[[3]]
    np.savez(tmp_path / "set.npz", images=pixels(1, 8, 8, 3), labels=onehot, classes=np.array(list("abcdefghij")))
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: labels must hold one class number per image, got shape (1, 10) (one-hot rows? store "
        "their argmax)")
    np.savez(tmp_path / "fixed.npz", images=pixels(1, 8, 8, 3), labels=onehot.argmax(axis=1),
             classes=np.array(list("abcdefghij")))
    assert load_npz(tmp_path / "fixed.npz").labels.tolist() == [3]


@pytest.mark.hostile("npz")
def test_square_grey_images_with_as_many_labels_as_a_row_has_pixels_get_no_axis_advice(tmp_path, monkeypatch):
    # before: "labels has 8 labels for 20 images in images; give one per image (images last, (20, 8, 8), as MATLAB
    # stores them? store np.moveaxis(images, -1, 0))": moved, 8 "images" of 20x8 were read without a word
    np.savez(tmp_path / "set.npz", images=pixels(20, 8, 8), labels=np.arange(8) % 2)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: labels has 8 labels for 20 images in images; give one per image")


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("n", [1, 3])
def test_matlab_images_last_with_one_or_three_images_are_told_to_move_the_axis(tmp_path, monkeypatch, n):
    # before: "labels has 3 labels for 8 images in images; give one per image" (and 1 for 8): (8, 8, 3, N) with N
    # in 1 or 3 reads as 8 images of 8x3 with N channels, and the images-last advice was given for other N alone
    matlab, labels = pixels(8, 8, 3, n), np.arange(n) % 2
    np.savez(tmp_path / "set.npz", images=matlab, labels=labels)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: labels has {n} labels for 8 images in images; give one per image (images last, "
        f"(8, 8, 3, {n}), as MATLAB stores them? store np.moveaxis(images, -1, 0))")
    np.savez(tmp_path / "fixed.npz", images=np.moveaxis(matlab, -1, 0), labels=labels)
    assert np.array_equal(load_npz(tmp_path / "fixed.npz").images, np.stack([matlab[..., i] for i in range(n)]))


@pytest.mark.hostile("npz")
def test_one_torch_image_without_its_batch_axis_is_told_so(tmp_path, monkeypatch):
    # before: "labels has 1 labels for 3 images in images; give one per image" of one (3, 8, 8) torch image
    torch = pixels(3, 8, 8)
    np.savez(tmp_path / "set.npz", images=torch, labels=np.array([0]))
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: images has shape (3, 8, 8), read as 3 grey 8x8 images, beside 1 label in labels: one "
        "8x8 image channels first, without its batch axis, as torch stores it? store it as image.transpose(1, 2, 0)"
        "[None], of shape (1, 8, 8, 3)")
    np.savez(tmp_path / "fixed.npz", images=torch.transpose(1, 2, 0)[None], labels=np.array([0]))
    assert np.array_equal(load_npz(tmp_path / "fixed.npz").images[0, 2, 5], torch[:, 2, 5])


@pytest.mark.hostile("npz")
def test_one_flat_row_without_its_batch_axis_is_told_so(tmp_path, monkeypatch):
    # before: "images must be (N, H, W) or (N, H, W, C) with C in 1 or 3 and H, W > 0, got (784,)", no more
    row = pixels(784)
    np.savez(tmp_path / "set.npz", images=row, labels=np.array([0]))
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: images has shape (784,): one flat row of 784 values without its batch axis? store it "
        "as images[None], of shape (1, 784)")
    np.savez(tmp_path / "fixed.npz", images=row[None], labels=np.array([0]))
    assert np.array_equal(load_npz(tmp_path / "fixed.npz").images, row.reshape(1, 28, 28, 1))


# each reviewed refusal's advice, applied: (what was refused, the call it advises, the (N, H, W, C) meant)
ADVICE = {
    "channels first": (pixels(4, 3, 8, 8), lambda a: a.transpose(0, 2, 3, 1),
                       lambda a: np.stack([np.dstack(list(im)) for im in a])),
    "images last": (pixels(8, 8, 3, 4), lambda a: np.moveaxis(a, -1, 0),
                    lambda a: np.stack([a[..., i] for i in range(4)])),
    "grey images last": (pixels(8, 8, 4), lambda a: np.moveaxis(a, -1, 0),
                         lambda a: np.stack([a[..., i, None] for i in range(4)])),
    "one rgb image": (pixels(8, 8, 3), lambda a: np.expand_dims(a, 0), lambda a: a[None]),
    "one grey image": (pixels(8, 8), lambda a: np.expand_dims(a, 0), lambda a: a[None, ..., None]),
}


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("case", sorted(ADVICE))
def test_each_advised_call_stores_a_file_that_is_read_as_meant(tmp_path, case):
    # the reviewed tests asserted the advice's words alone, not that the call they give stores what is read
    refused, advised, meant = ADVICE[case]
    stored = advised(refused)
    np.savez(tmp_path / "fixed.npz", images=stored, labels=np.arange(len(stored)) % 2)
    assert np.array_equal(load_npz(tmp_path / "fixed.npz").images, meant(refused))


@pytest.mark.hostile("npz")
def test_a_matlab_label_row_raveled_as_advised_is_read(tmp_path):
    np.savez(tmp_path / "fixed.npz", images=pixels(4, 8, 8), labels=np.array([[1, 0, 1, 0]]).ravel())
    assert load_npz(tmp_path / "fixed.npz").labels.tolist() == [1, 0, 1, 0]


@pytest.mark.hostile("npz")
def test_a_single_npy_of_python_objects_is_refused_as_a_single_array(tmp_path, monkeypatch):
    # before: "…/set.npy: not a readable .npz without pickles (Object arrays cannot be loaded when allow_pickle=False)"
    # (the pickle mend's fault by another path), and a single array of numbers was read whole before its refusal
    np.save(tmp_path / "set.npy", np.array(["cat", None], dtype=object))
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npy") == (
        f"ingest.path: {tmp_path / 'set.npy'} is a single array, not an .npz archive; an .npz holds 'images' + 'labels' "
        "(optional 'splits', 'index', 'classes') or, per split train/val/test, '<split>_images' + '<split>_labels' "
        "(optional '<split>_index', 'classes')")


def write_archive(path, rng) -> None:
    """A stand-in CIFAR-10 archive of 2 images a batch (a test cannot produce the official one's MD5 offline)."""
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            body = pickle.dumps({b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [0, 9]})
            member = tarfile.TarInfo(f"{FOLDER}/{name}")
            member.size = len(body)
            tar.addfile(member, io.BytesIO(body))


@pytest.mark.hostile("cifar10")
@pytest.mark.parametrize("download", [False, True])
def test_ingest_path_naming_the_archive_itself_is_told_where_it_is_read(tmp_path, monkeypatch, rng, download):
    # before: "ingest.path: …/cifar-10-python.tar.gz is not a cifar-10-batches-py folder; point it at one or set
    # ingest.download: true", and with download true refused again ("… or at a path that does not exist yet")
    (tmp_path / "cifar").mkdir()
    archive = tmp_path / "cifar" / ARCHIVE
    write_archive(archive, rng)
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", archive, download=download) == (
        f"ingest.path: {archive} is a file (the CIFAR-10 archive?), not a cifar-10-batches-py folder; point ingest.path "
        f"at {tmp_path / 'cifar' / FOLDER} and set ingest.download: true, which extracts the archive there")
    monkeypatch.setattr(winnow.cifar10, "CIFAR10_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    assert len(load_cifar10(tmp_path / "cifar" / FOLDER, download=True).images) == 12


@pytest.mark.hostile("cifar10")
def test_a_folder_holding_the_archive_with_download_off_is_told_where_it_is_read(tmp_path, monkeypatch, rng):
    # before: "ingest.path: …/cifar/data_batch_1 is missing; a cifar-10-batches-py folder holds data_batch_1..5 and
    # test_batch", not a word of the archive beside it (the reviewed mend said so with ingest.download true alone)
    (tmp_path / "cifar").mkdir()
    archive = tmp_path / "cifar" / ARCHIVE
    write_archive(archive, rng)
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", tmp_path / "cifar") == (
        f"ingest.path: {tmp_path / 'cifar'} holds the CIFAR-10 archive {ARCHIVE}, not its batches; point ingest.path at "
        f"{tmp_path / 'cifar' / FOLDER} and set ingest.download: true, which extracts the archive there")
    monkeypatch.setattr(winnow.cifar10, "CIFAR10_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    assert len(load_cifar10(tmp_path / "cifar" / FOLDER, download=True).images) == 12


@pytest.mark.hostile("cifar10")
@pytest.mark.parametrize("meta", [True, False])
def test_a_negative_cifar_label_is_not_blamed_on_the_class_names(tmp_path, monkeypatch, rng, meta):
    # before: "…/data_batch_1: label -1 at row 1 is outside the 3 classes that …/batches.meta names: give its
    # label_names a name for every class (or remove it for CIFAR-10's ten), or replace the batch if it is damaged"
    # (without a batches.meta: "… or add a batches.meta whose label_names name every class"): no name fixes -1
    batch = {b"labels": [0, -1], b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8)}
    data = cifar_folder(tmp_path / FOLDER, rng, data_batch_1=pickle.dumps(batch))
    if not meta:
        (data / "batches.meta").unlink()
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", data) == (
        f"{data / 'data_batch_1'}: label -1 at row 1 is below 0, and class numbers start at 0; replace the batch with "
        "the official file")


@pytest.mark.hostile("cifar10")
def test_a_cifar_label_past_the_ten_without_batches_meta_is_refused_whole(tmp_path, monkeypatch, rng):
    # the reviewed mend's other branch, which its tests left unasserted (cifar_folder's batches label 0, 1, 2)
    batch = {b"labels": [10, 0], b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8)}
    data = cifar_folder(tmp_path / FOLDER, rng, data_batch_3=pickle.dumps(batch))
    (data / "batches.meta").unlink()
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", data) == (
        f"{data / 'data_batch_3'}: label 10 at row 0 is outside the 10 classes of CIFAR-10 (no batches.meta names "
        "others): replace the batch with the official file, or add a batches.meta whose label_names name every class")


def damaged_npz(path, *, pickled_classes: bool):
    """An .npz whose 'images' member is cut short, beside 'labels' and 'classes' (Python objects, numpy's pickle,
    where ``pickled_classes``)."""
    def npy(values):
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=True)
        return buffer.getvalue()
    classes = np.array(["a", "b"], dtype=object if pickled_classes else str)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", npy(np.zeros((4, 8, 8), np.uint8))[:-20])
        archive.writestr("labels.npy", npy(np.arange(4) % 2))
        archive.writestr("classes.npy", npy(classes))


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("pickled_classes", [True, False])
def test_a_damaged_npz_member_is_named_and_not_blamed_on_another(tmp_path, monkeypatch, pickled_classes):
    # before: with 'classes' of Python objects, "…/set.npz: not a readable .npz without pickles: member 'classes' is
    # an array of Python objects, …" of an .npz whose 'images' is cut short (the first member numpy failed on); without,
    # "…/set.npz: not a readable .npz without pickles (ValueError: EOF: reading array data, …)", no member named
    damaged_npz(tmp_path / "set.npz", pickled_classes=pickled_classes)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: not a readable .npz without pickles: member 'images' (ValueError: EOF: reading array "
        "data, expected 256 bytes got 236)")
