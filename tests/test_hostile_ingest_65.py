"""Hostile inputs to ingest, fifth pass (stop 65): a split folder of an image folder with no class folder in it
(an empty ``test/``, or a download's unlabelled test images straight inside it); split folders named otherwise
(``Training/`` and ``Testing/``), read as class folders holding folders; 16-bit colour PNGs holding 12-bit data; a
class named ``train`` beside other class folders; a CIFAR-10 ``test_batch`` of no images; ingest.path at the
folder holding ``cifar-10-batches-py``; a split folder whose every file was set aside; a path
holding a NUL character; an .npz's train array of no images; a trusted set's empty split folder; a val split
folder named ``validation``; a class folder holding only folders inside a split folder or a trusted set.

Each case runs ``stages/ingest.py`` through the harness (see :mod:`test_hostile_ingest`, whose helpers it reuses)
and asserts the one ``error:`` line with nothing left behind; the PNG case reads its folder with
:func:`winnow.image_files.load_imagefolder` in this process and asserts its one ``warning:`` line, and the .npz and
trusted-set cases, the ``validation`` one and the last call their readers in this process and assert their one line.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_cifar_user import _rewrite_batch, cifar_batches
from test_hostile_ingest import image_folder, rejected, run_ingest
from winnow.cifar10 import FOLDER
from winnow.errors import WinnowError
from winnow.image_files import load_imagefolder
from winnow.npz_files import load_npz
from winnow.trusted_set import load_trusted


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


def _png16(samples: np.ndarray, color_type: int) -> bytes:
    """A 16-bit PNG (``color_type`` 2: RGB, 4: grey and alpha, 6: RGBA) of ``samples`` (uint16 ``(H, W, C)``),
    written by hand: Pillow writes no 16-bit colour PNG."""
    height, width = samples.shape[:2]
    raw = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.mark.hostile("imagefolder")
def test_16_bit_colour_pngs_holding_12_bit_data_are_counted_in_a_warning(tmp_path, capsys):
    # before: 12-bit samples in 16-bit RGB, RGBA or grey-and-alpha PNGs were read as their high bytes, 0 to 15 of 255, nearly black,
    # without a word (the grey ones had their warning)
    rng = np.random.default_rng(0)
    twelve = rng.integers(0, 4096, (8, 8, 3)).astype(np.uint16)
    with_alpha = np.dstack([rng.integers(0, 4096, (8, 8, 3)), np.full((8, 8), 65535)]).astype(np.uint16)
    grey_alpha = np.dstack([rng.integers(0, 4096, (8, 8)), np.full((8, 8), 65535)]).astype(np.uint16)
    whole = rng.integers(0, 65536, (8, 8, 3)).astype(np.uint16)  # the whole range: not counted
    for name, samples, color_type in (("a/0.png", twelve, 2), ("a/1.png", with_alpha, 6), ("a/2.png", grey_alpha, 4),
                                      ("b/0.png", whole, 2)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(_png16(samples, color_type))
    loaded = load_imagefolder(tmp_path, size=None)
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")] == [
        f"warning: ingest.path: 3 16-bit colour or grey-and-alpha PNG file(s) peak at or below 4095, their low 12 bits "
        f"alone (first {tmp_path}/a/0.png); scaled to 8 bits from the full 16-bit range they keep at most 17 of 256 "
        "levels (0 to 16), nearly black; if they hold 12-bit data, scale it to the full range (multiply by 16) before "
        "ingest"]
    # read as 16-bit grey is, by 255/65535 rounded, not guessed to be 12-bit (tests/test_hostile_sources_80.py)
    np.testing.assert_array_equal(loaded.images[list(loaded.ids).index("a/0.png")], np.rint(twelve / 257).astype(np.uint8))


@pytest.mark.hostile("imagefolder")
def test_a_class_named_train_beside_other_classes_is_told_the_layout_that_reads_it(tmp_path):
    # CIFAR-100's "train" (a vehicle set's) as a class folder: before, "mixes split folders (train) with class folders
    # (bus, tractor); use root/<class>/* or root/{train,val,test}/<class>/*, not both", and no way out for such a class
    data = image_folder(tmp_path / "data", {"bus": 5, "tractor": 5, "train": 5})
    project, before, done = run_ingest(tmp_path, "imagefolder", data)
    assert assert_error_line(done) == (
        f"error: ingest.path: {data} mixes split folders (train) with class folders (bus, tractor); use root/<class>/* "
        "or root/{train,val,test}/<class>/*, not both; if train is a class, move every class folder, train too, into a "
        "folder named train (root/train/<class>/*: the train split, val and test carved from it as from root/<class>/*)")
    assert_nothing_left(project, before)
    moved = image_folder(tmp_path / "moved" / "train", {"bus": 5, "tractor": 5, "train": 5}).parent
    assert load_imagefolder(moved, size=None).classes == ["bus", "tractor", "train"]  # the layout it names reads it


@pytest.mark.hostile("cifar10")
def test_an_empty_cifar_test_batch_is_refused_not_carved_from_train(tmp_path, rng):
    # before: a test_batch of 0 images ingested with exit 0, and the test split was carved from the train batches as
    # if the source had none (an empty data batch among five stays read: test_hostile_cifar_user's)
    data = cifar_batches(tmp_path / FOLDER, rng)
    _rewrite_batch(data, "test_batch", data=np.zeros((0, 3072), np.uint8), labels=[])
    project, before, done = run_ingest(tmp_path, "cifar10", data)
    assert assert_error_line(done) == (
        f"error: {data / 'test_batch'}: holds no images, so the test split would be carved from the train images "
        "instead; replace it with the official test_batch")
    assert_nothing_left(project, before)


@pytest.mark.hostile("cifar10")
def test_ingest_path_at_the_folder_holding_the_cifar_batches_folder_names_it(tmp_path, rng):
    # torchvision's CIFAR10(root="data") leaves data/cifar-10-batches-py: before, ingest.path: data was refused with
    # "data/data_batch_1 is missing; a cifar-10-batches-py folder holds data_batch_1..5 and test_batch", the folder
    # that holds them beside it unnamed
    holder = tmp_path / "data"
    cifar_batches(holder / FOLDER, rng)
    project, before, done = run_ingest(tmp_path, "cifar10", holder)
    assert assert_error_line(done) == (
        f"error: ingest.path: {holder} holds a {FOLDER} folder, not the batches; point ingest.path at {holder / FOLDER}")
    assert_nothing_left(project, before)


@pytest.mark.hostile("imagefolder")
def test_a_split_folder_whose_every_file_was_set_aside_is_refused_with_the_rows_not_carved(tmp_path):
    # before: root/test holding only files ingest does not read (.tif), fewer than ingest.max_reject_fraction of the
    # set, ingested with exit 0 and the test split carved from train: 4 of the 24 train images (2 rows in rejected.csv)
    data = image_folder(tmp_path / "data" / "train", {"a": 12, "b": 12}).parent
    image_folder(data / "val", {"a": 5, "b": 5})
    for name in ("a", "b"):
        (data / "test" / name).mkdir(parents=True)
        (data / "test" / name / "0.tif").write_bytes(b"II*\x00")
    project, before, done = run_ingest(tmp_path, "imagefolder", data, max_reject_fraction=0.1)
    assert assert_error_line(done) == (
        "error: ingest: every file of the source's test split was set aside, so it would be carved from the train "
        "images instead; convert or replace its files (2 files were set aside: see data/ingest/rejected.csv for each "
        "file and its reason)")
    assert sorted(p.name for p in (project / "data/ingest").iterdir()) == ["rejected.csv"]
    assert sorted(rejected(project)) == [str(data / "test" / name / "0.tif") for name in ("a", "b")]
    assert not (project / "metrics/ingest.json").exists()
    assert_nothing_left(project, before, allowed={"data/ingest/rejected.csv"})


@pytest.mark.hostile("ingest")
def test_a_path_holding_a_nul_character_is_one_line(tmp_path):
    # a YAML "\0" (or a file:// URL's %00) in ingest.path: before, a ValueError ("embedded null byte") traceback
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    project, before, done = run_ingest(tmp_path, "imagefolder", f"{data}\0")
    assert assert_error_line(done) == (
        f"error: ingest.path: {ascii(str(data) + chr(0))} holds a NUL character, which no path can; fix it in "
        "params.yaml")
    assert_nothing_left(project, before)


@pytest.mark.hostile("npz")
def test_an_npz_train_array_of_no_images_is_said_to_leave_train_empty(tmp_path):
    # before: "train_images holds no images, so the train split would be carved from the train images instead; fill
    # it, or remove train_images and its labels to have ingest carve it": of train itself, and removing it leaves none
    images = np.zeros((8, 4, 4), np.uint8)
    path = tmp_path / "set.npz"
    np.savez(path, train_images=images[:0], train_labels=np.zeros(0, np.int64), test_images=images,
             test_labels=np.arange(8) % 2)
    with pytest.raises(WinnowError) as err:
        load_npz(path)
    assert str(err.value) == f"{path}: train_images holds no images, so the train split would be empty; fill it"


@pytest.mark.hostile("imagefolder")
def test_a_trusted_set_with_an_empty_split_folder_is_told_it_is_one_split_not_to_fill_the_split(tmp_path):
    # before (since the empty-split refusal of ingest.path): "split folder .../test holds no class folder, so the test
    # split would be carved from the train images instead; put its labelled images in .../test/<class>/": the trusted
    # set is one split, so doing so was refused next as "has splits (test, train)"
    trusted = image_folder(tmp_path / "trusted" / "train", {"a": 2, "b": 2}).parent
    (trusted / "test").mkdir()
    with pytest.raises(WinnowError) as err:
        load_trusted(trusted, classes=["a", "b"], size=None)
    assert str(err.value) == (f"ingest.trusted_path: {trusted} has splits (train); the trusted set is one split: give a "
                              "folder root/<class>/<image files> or an .npz with images + labels (optional classes)")


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("val", ["validation", "valid"])
def test_a_val_split_folder_named_otherwise_beside_train_and_test_is_named_as_a_split_folder(tmp_path, val):
    # Keras's and Kaggle's root/{train,validation,test}/<class>/: before, "...not both; if test is a class, move every
    # class folder, test too, into a folder named train", of two split folders, and the one misnamed unsaid
    for split in ("train", val, "test"):
        image_folder(tmp_path / split, {"cat": 2, "dog": 2})
    with pytest.raises(WinnowError) as err:
        load_imagefolder(tmp_path, size=None)
    assert str(err.value) == (
        f"ingest.path: {tmp_path} mixes split folders (test, train) with class folders ({val}); use root/<class>/* or "
        f"root/{{train,val,test}}/<class>/*, not both; {val} holds folders and no files: if it is a split folder, name "
        "it train, val or test")



@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("inside, param, read", [
    ("train", "ingest.path", lambda root: load_imagefolder(root, size=None)),
    (".", "ingest.trusted_path", lambda root: load_trusted(root, classes=["cat", "dog"], size=None)),
], ids=["split", "trusted"])
def test_a_class_folder_holding_only_folders_is_told_to_move_its_images_up_not_removed(tmp_path, inside, param, read):
    # train/emu/chicks/*.png (or a trusted set's emu/chicks/): before, "class folder .../emu has no files directly
    # inside it; a class with no images is not a class: add its images or remove the folder", and removing it deleted
    # the class's images (the same folder at the top of ingest.path was told to move them up since 511e74c)
    root = tmp_path / "data"
    image_folder(root / inside, {"cat": 2, "dog": 2, "emu/chicks": 2})
    with pytest.raises(WinnowError) as err:
        read(root)
    assert str(err.value) == (f"{param}: class folder {root / inside / 'emu'} holds folders (1, first chicks) and no "
                              "files: move its images up out of them")
