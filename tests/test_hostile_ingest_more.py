"""Hostile inputs to ingest, second pass: the trusted set's files in the reject fraction, a test class whose
files were all set aside, animated PNG / WebP files, class names that are not UTF-8 in an .npz or CIFAR-10's
batches.meta, and split folders named in another case. Third pass: float16 labels, images too small for the
models at the source's size, the one folder an unzipped archive wraps the class folders in, and what systems write
beside the images (macOS's Icon\\r, a disk's folders at its top, the Zone.Identifier files of a copy into WSL).

Each case runs ``stages/ingest.py`` through the harness (see :mod:`test_hostile_ingest`, whose helpers it
reuses) and asserts the one ``error:`` line with nothing left behind, or the exact rejected rows and counts.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_ingest import (REJECTED, assert_ingested, cifar_folder, image_folder, ingested, rejected,
                                 run_ingest)
from winnow.cifar10 import FOLDER
from winnow.source_listing import fingerprint

SEE = "see data/ingest/rejected.csv for each file and its reason"


def grey_folder(root: Path, counts: dict[str, int], *, offset: int = 0) -> Path:
    """``root/<class>/<i>.png``: 8x8 grey images, each one value (``11 i + offset``, up to 20 a class)."""
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(np.full((8, 8), 11 * i + offset, np.uint8)).save(root / name / f"{i}.png")
    return root


def junk(folder: Path, count: int) -> list[str]:
    """``count`` files in ``folder`` that are no image; their paths as rejected.csv names them."""
    for i in range(count):
        (folder / f"junk{i}.png").write_bytes(b"not a png")
    return [str(folder / f"junk{i}.png") for i in range(count)]


# --- the trusted set's files count in ingest.max_reject_fraction ---------------------------------------------

@pytest.mark.hostile("ingest")
def test_the_trusted_sets_images_count_in_the_reject_fraction(tmp_path):
    # before: 3 set-aside trusted files were counted against the 40 data images alone ("3 of 43 files could not
    # be read", 7% > 5%) and ingest stopped, though 63 files were read and 3 of them (4.8%) set aside
    data = grey_folder(tmp_path / "data", {"a": 20, "b": 20})
    trusted = grey_folder(tmp_path / "trusted", {"a": 10, "b": 10}, offset=5)
    bad = junk(trusted / "a", 3)
    project, _, done = run_ingest(tmp_path, "imagefolder", data, trusted_path=str(trusted), max_reject_fraction=0.05)
    assert_ingested(done)
    assert rejected(project) == {path: "not a decodable image" for path in bad}
    metrics = json.loads((project / "metrics/ingest.json").read_text())
    assert (metrics["images"], metrics["rejected"], metrics["split"]["trusted"]) == (60, 3, 20)
    assert len(ingested(project)) == 60


@pytest.mark.hostile("ingest")
def test_a_refusal_over_the_reject_fraction_counts_the_trusted_sets_images(tmp_path):
    data = grey_folder(tmp_path / "data", {"a": 20, "b": 20})
    trusted = grey_folder(tmp_path / "trusted", {"a": 10, "b": 10}, offset=5)
    junk(trusted / "b", 4)
    project, before, done = run_ingest(tmp_path, "imagefolder", data, trusted_path=str(trusted),
                                       max_reject_fraction=0.05)
    line = assert_error_line(done)  # 40 + 20 images read, 4 files set aside: 4 of 64 (before: "4 of 44")
    assert line == f"error: ingest: 4 of 64 files could not be read, above ingest.max_reject_fraction=0.05; {SEE}"
    assert_nothing_left(project, before, allowed={REJECTED})


# --- a test class emptied by set-aside files says so and leaves the rows -----------------------------------

@pytest.mark.hostile("imagefolder")
def test_a_test_class_whose_files_were_all_set_aside_is_refused_with_the_rows(tmp_path):
    # before: "the test split holds no image of class 'b' ... give the test split images" with no word of the two
    # files of test/b set aside, and no rejected.csv to find them in
    data = image_folder(tmp_path / "data" / "train", {"a": 10, "b": 10}).parent
    image_folder(data / "test", {"a": 3})
    (data / "test" / "b").mkdir()
    bad = junk(data / "test" / "b", 2)
    project, before, done = run_ingest(tmp_path, "imagefolder", data, max_reject_fraction=0.25)
    assert_error_line(done, "error: ingest: the test split holds no image of class 'b'", "2 files were set aside",
                      SEE)
    assert sorted(p.name for p in (project / "data/ingest").iterdir()) == ["rejected.csv"]
    assert rejected(project) == {path: "not a decodable image" for path in bad}
    assert not (project / "metrics/ingest.json").exists()
    assert_nothing_left(project, before, allowed={REJECTED})


# --- an animated file is a row, not its first frame ----------------------------------------------------------

@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize(("suffix", "fmt", "options"), [(".png", "PNG", {}), (".webp", "WEBP", {"lossless": True})])
def test_an_animated_png_or_webp_is_a_row_not_its_first_frame(tmp_path, suffix, fmt, options):
    # before: the first frame was read as the image without a word (a GIF is set aside for the same reason)
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    frames[0].save(data / "a" / f"clip{suffix}", save_all=True, append_images=frames[1:], duration=100, **options)
    project, _, done = run_ingest(tmp_path, "imagefolder", data, max_reject_fraction=0.25)
    assert_ingested(done)
    assert rejected(project) == {str(data / "a" / f"clip{suffix}"): f"animated {fmt} (3 frames): only still images "
                                 "are read; save the frame you mean as an image of its own"}
    assert len(ingested(project)) == 12
    assert np.load(project / "data/ingest/images.npy").shape[3] == 1  # no colour frame made the grey set RGB


@pytest.mark.hostile("imagefolder")
def test_a_png_with_one_frame_of_animation_is_read_as_a_still(tmp_path):
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    Image.new("L", (8, 8), 200).save(data / "a" / "still.png", save_all=True, append_images=[], duration=100)
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    manifest = ingested(project)
    assert len(manifest) == 13 and pd.read_csv(project / REJECTED).empty
    row = manifest.index[manifest["id"] == "a/still.png"][0]
    assert (np.load(project / "data/ingest/images.npy")[row] == 200).all()


# --- class names that are not UTF-8 are refused, not renamed -----------------------------------------------

@pytest.mark.hostile("npz")
def test_npz_class_names_not_utf8_are_refused_not_rewritten(tmp_path, rng):
    # before: b"\xffcat" became the class '\\xffcat' (a backslash and three letters) without a word
    np.savez(tmp_path / "set.npz", images=rng.integers(0, 256, (10, 4, 4), dtype=np.uint8), labels=np.arange(10) % 2,
             classes=np.array([b"dog", b"\xffcat"]))
    project, before, done = run_ingest(tmp_path, "npz", tmp_path / "set.npz", val_fraction=0.2)
    assert_error_line(done, f"error: {tmp_path / 'set.npz'}: 'classes' row 1: class name b'\\xffcat' is not valid "
                            "UTF-8; store the names as UTF-8 text")
    assert_nothing_left(project, before)


@pytest.mark.hostile("cifar10")
def test_cifar_label_names_not_utf8_are_refused_not_rewritten(tmp_path, rng):
    meta = pickle.dumps({b"label_names": [b"x", b"y\xfe", b"z"], b"num_vis": 3072})
    data = cifar_folder(tmp_path / FOLDER, rng, **{"batches.meta": meta})
    project, before, done = run_ingest(tmp_path, "cifar10", data)
    assert_error_line(done, f"error: {data / 'batches.meta'}: 'label_names' row 1: class name b'y\\xfe' is not "
                            "valid UTF-8")
    assert_nothing_left(project, before)


# --- split folders named in another case -----------------------------------------------------------------------

@pytest.mark.hostile("imagefolder")
def test_split_folders_named_in_another_case_are_named_in_the_refusal(tmp_path):
    # before: "class folder .../Test has no files directly inside it", as if Test were a class left empty
    data = tmp_path / "data"
    image_folder(data / "Train", {"a": 6, "b": 6})
    image_folder(data / "Test", {"a": 2, "b": 2})
    project, before, done = run_ingest(tmp_path, "imagefolder", data)
    assert_error_line(done, f"class folder {data / 'Test'} has no files directly inside it ('Test' is not the split "
                            "folder 'test': split folders are named in lower case)")
    assert_nothing_left(project, before)


# --- third pass ------------------------------------------------------------------------------------------------

@pytest.mark.hostile("npz")
def test_float16_labels_are_read_without_numpy_warnings(tmp_path, rng):
    # before: numpy's "RuntimeWarning: overflow encountered in cast" and the source line it came from on stderr, for
    # labels every one of which is a whole class number (float16 cannot hold the 2**31 they were compared with)
    np.savez(tmp_path / "set.npz", images=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8),
             labels=np.arange(10, dtype=np.float16) % 2)
    project, _, done = run_ingest(tmp_path, "npz", tmp_path / "set.npz", val_fraction=0.2)
    assert_ingested(done)
    assert done.stderr == ""
    assert ingested(project).sort_values("id")["label"].tolist() == [0, 1] * 5


@pytest.mark.hostile("ingest")
def test_images_below_the_models_smallest_side_at_the_sources_size_are_named_at_ingest(tmp_path):
    # before: not a word at ingest; degrade and score ran, and represent stopped minutes later on "represent.judge
    # .model: images of 6x6px are too small for lenet5 (at least 8)", a parameter that cannot help
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((6, 7), 20 * i, np.uint8)).save(data / name / f"{i}.png")
    project, _, done = run_ingest(tmp_path, "imagefolder", data, size=None)
    assert_ingested(done)
    assert ("warning: ingest.size: the images are 6x7 (null keeps the source's size), below the 8 px a side the "
            "models take: represent's judge and train will refuse them; set ingest.size (8 to 1024) to resize them"
            in done.stdout.splitlines())
    assert len(ingested(project)) == 12


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("layout", ["classes", "splits"])
def test_the_one_folder_an_archive_wraps_the_class_folders_in_is_named_as_such(tmp_path, layout):
    # before: "class folder .../flowers has no files directly inside it; ... add its images or remove the folder",
    # advice that deletes the data set, for the extra folder an unzipped archive puts above the class folders
    data = tmp_path / "data"
    inner = data / "flowers" / ("train" if layout == "splits" else "")
    image_folder(inner, {"daisy": 6, "rose": 6})
    held = "1, first train" if layout == "splits" else "2, first daisy"
    project, before, done = run_ingest(tmp_path, "imagefolder", data)
    assert assert_error_line(done) == (f"error: ingest.path: {data} holds one folder, flowers, which holds folders "
                                       f"({held}) and no files: if those are the class or split folders, point "
                                       f"ingest.path at {data / 'flowers'}")
    assert_nothing_left(project, before)


def icon_files(data):
    # before: "Icon\r" (the custom folder icon of Finder, Dropbox and Google Drive on macOS) was a row in each class
    # folder, "file name holds a carriage return ... rename it", and with the one beside them 3 of 15 files: ingest
    # stopped over max_reject_fraction
    for folder in (data, data / "a", data / "b"):
        (folder / "Icon\r").write_bytes(b"")


def disk_folders(data):
    # before: with the class folders at the top of a disk, ext4's lost+found and Windows' $RECYCLE.BIN were classes
    # "with no images: add its images or remove the folder", and System Volume Information a class of unreadable files
    (data / "lost+found").mkdir()
    (data / "$RECYCLE.BIN").mkdir()
    (data / "$RECYCLE.BIN" / "desktop.ini").write_text("[.ShellClassInfo]\n")
    (data / "System Volume Information").mkdir()
    (data / "System Volume Information" / "IndexerVolumeGuid").write_text("{0b1f2a3c}")


def zone_identifiers(data):
    # before: each image copied from Windows into WSL had a "<image>:Zone.Identifier" beside it, a row each ("not an
    # image file (suffix .Identifier ...)"): half the files, so ingest stopped over max_reject_fraction
    for image in sorted(data.glob("*/*.png")):
        image.with_name(f"{image.name}:Zone.Identifier").write_text("[ZoneTransfer]\r\nZoneId=3\r\n")


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("litter", [icon_files, disk_folders, zone_identifiers],
                         ids=["macos_icon", "disk_folders", "wsl_zone_identifier"])
def test_what_systems_write_beside_the_images_is_never_read(tmp_path, litter):
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    listed = fingerprint("imagefolder", str(data))
    litter(data)
    project, _, done = run_ingest(tmp_path, "imagefolder", data)
    assert_ingested(done)
    assert rejected(project) == {}
    assert sorted(set(ingested(project)["label"])) == [0, 1] and len(ingested(project)) == 12
    assert fingerprint("imagefolder", str(data)) == listed  # never read, so never listed


@pytest.mark.hostile("imagefolder")
def test_the_one_folder_an_archive_wraps_a_splits_class_folders_in_is_named_as_such(tmp_path):
    # before: "class folder .../train/train has no files directly inside it; ... add its images or remove the folder",
    # advice that deletes the split, for the folder unzipping train.zip into train makes (root/train/train/{cat,dog})
    data = tmp_path / "data"
    image_folder(data / "train" / "train", {"cat": 6, "dog": 6})
    image_folder(data / "val", {"cat": 3, "dog": 3})
    project, before, done = run_ingest(tmp_path, "imagefolder", data)
    assert assert_error_line(done) == (f"error: ingest.path: {data / 'train'} holds one folder, train, which holds "
                                       "folders (2, first cat) and no files: if those are the class folders, move them "
                                       f"up into {data / 'train'}")
    assert_nothing_left(project, before)


def test_an_animated_png_is_left_to_pillow_by_the_plain_png_path():
    from winnow import plain_png

    out = io.BytesIO()
    frames = [Image.new("L", (4, 4), v) for v in (10, 90)]
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    still = io.BytesIO()
    frames[0].save(still, "PNG")
    assert plain_png.filtered_rows(out.getvalue()) is None
    assert plain_png.filtered_rows(still.getvalue()) is not None
