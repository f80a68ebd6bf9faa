"""Hostile ingest cases of the 68th stop's probe: images of a local folder brought to one shape or one channel count
say so (the trusted set's, which take the data set's channels, do not), a split folder linked to another is refused
for what it is, and a photo folder's sidecars and photos above Pillow's pixel limit say what to do. The stage's
``main`` runs in-process (the suite is near its time limit)."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hostile_harness import default_params, make_project
from test_contracts import _stage_module
from test_hostile_ingest import image_folder, png_header
from winnow.errors import WinnowError


def ingest_in_process(tmp_path, monkeypatch, data, **ingest):
    """The project, after the ingest stage's ``main`` read ``data`` (an image folder) with ``ingest`` settings."""
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(data), **ingest)
    project = make_project(tmp_path / "project", params)
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    return project


@pytest.mark.hostile("imagefolder")
def test_size_stretching_an_image_that_is_not_square_is_said(tmp_path, monkeypatch, capsys):
    # a 16x8 (height x width) image among 8x8 ones: ingest.size 8 stretches it to 8x8 whole; before, not a word
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    Image.fromarray(np.full((16, 8), 100, np.uint8)).save(data / "a" / "tall.png")
    project = ingest_in_process(tmp_path, monkeypatch, data, size=8, val_fraction=0.2)
    assert ("warning: ingest.size: 1 of 13 images are not square (first 'a/tall.png': 16x8, height x width) and each "
            "was stretched to 8x8 whole, its proportions not kept (no crop, no padding; orig_h and orig_w keep its own "
            "size); crop or pad them to square first to keep their shapes") in capsys.readouterr().out.splitlines()
    tall = pd.read_parquet(project / "data/ingest/manifest.parquet").set_index("id").loc["a/tall.png"]
    assert (tall["orig_h"], tall["orig_w"]) == (16, 8)
    assert np.load(project / "data/ingest/images.npy").shape == (13, 8, 8, 1)


@pytest.mark.hostile("imagefolder")
def test_a_split_folder_linked_to_another_split_is_refused_as_one_class_in_two_splits(tmp_path, monkeypatch):
    # root/val a link to root/test (a set shipped with train and test alone): before, refused as "two classes' image;
    # ... copy the images a class really shares" of one class's images in the val and test splits at once
    data = image_folder(tmp_path / "data" / "train", {"a": 6, "b": 6}).parent
    image_folder(data / "test", {"a": 2, "b": 2})
    (data / "val").symlink_to("test", target_is_directory=True)
    with pytest.raises(WinnowError) as refused:
        ingest_in_process(tmp_path, monkeypatch, data)
    assert str(refused.value) == (
        f"ingest.path: class folders {data / 'test' / 'a'} and {data / 'val' / 'a'} are one folder (a symbolic link), "
        "so each of its images would be in both the test and the val split; remove the link (a val or test split "
        "ingest.path lacks is carved from train)")
    assert not (tmp_path / "project" / "data" / "ingest").exists()
    assert not (tmp_path / "project" / "metrics" / "ingest.json").exists()


@pytest.mark.hostile("imagefolder")
def test_a_few_colour_files_making_a_grey_set_rgb_is_said(tmp_path, monkeypatch, capsys):
    # twelve grey PNGs and one RGB file (a screenshot among scans): the whole set is stored as RGB; before, not a word
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    Image.fromarray(np.full((8, 8, 3), (200, 10, 10), np.uint8)).save(data / "b" / "red.png")
    project = ingest_in_process(tmp_path, monkeypatch, data, size=8, val_fraction=0.2)
    assert (f"warning: ingest.path: only 1 of the 13 image files read are colour (first {data / 'b' / 'red.png'}) and "
            "the others single-channel, so the whole set is stored as RGB, each grey image repeated in three channels; "
            "if the set is grey, save those files as grey") in capsys.readouterr().out.splitlines()
    ids = list(pd.read_parquet(project / "data/ingest/manifest.parquet")["id"])
    images = np.load(project / "data/ingest/images.npy")
    assert images.shape == (13, 8, 8, 3)
    assert (images[ids.index("a/1.png")] == 27).all()  # image_folder's grey 20 * 1 + 7 in each channel
    assert (images[ids.index("b/red.png")] == (200, 10, 10)).all()


@pytest.mark.hostile("imagefolder")
def test_a_few_colour_files_of_the_trusted_set_are_not_said_to_make_the_set_rgb(tmp_path, monkeypatch, capsys):
    # a grey data set and a trusted set of grey images, one of them grey saved as RGB (R = G = B): the trusted images
    # join the data set's one channel; before, "only 1 of the 7 image files read are colour ... so the whole set is
    # stored as RGB", false, with advice to save it as grey
    data = image_folder(tmp_path / "data", {"a": 10, "b": 10})
    trusted = image_folder(tmp_path / "trusted", {"a": 3, "b": 3})
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(trusted / "b" / "grey_rgb.png")
    project = ingest_in_process(tmp_path, monkeypatch, data, val_fraction=0.2, trusted_path=str(trusted))
    assert [line for line in capsys.readouterr().out.splitlines() if "are colour" in line] == []
    ids = list(pd.read_parquet(project / "data/ingest/manifest.parquet")["id"])
    images = np.load(project / "data/ingest/images.npy")
    assert images.shape == (27, 8, 8, 1)
    assert (images[ids.index("trusted/b/grey_rgb.png")] == 90).all()


@pytest.mark.hostile("imagefolder")
def test_a_photo_tools_sidecars_stopping_ingest_are_named_with_what_to_do(tmp_path, monkeypatch):
    # an .xmp beside each photo (Lightroom, darktable): half the files set aside; before, the refusal said only "see
    # data/ingest/rejected.csv", whose 20 rows each repeat "not an image file"
    data = image_folder(tmp_path / "data", {"a": 10, "b": 10})
    for photo in data.glob("*/*.png"):
        photo.with_suffix(".xmp").write_text("<x:xmpmeta/>")
    with pytest.raises(WinnowError) as refused:
        ingest_in_process(tmp_path, monkeypatch, data, val_fraction=0.2)
    assert str(refused.value) == (
        "ingest: 20 of 40 files could not be read, above ingest.max_reject_fraction=0.05 (20 of them are not image "
        f"files by their suffix, most .xmp, first {data / 'a' / '0.xmp'}: move them out of the class folders; a photo "
        "tool's sidecars, .xmp .json .aae, are no images, and images of other formats are read once converted to PNG "
        "or JPEG); see data/ingest/rejected.csv for each file and its reason")
    assert len(pd.read_csv(tmp_path / "project" / "data" / "ingest" / "rejected.csv")) == 20
    assert not (tmp_path / "project" / "metrics" / "ingest.json").exists()


@pytest.mark.hostile("imagefolder")
def test_a_108_and_a_200_megapixel_photo_are_rows_saying_how_to_read_them(tmp_path, monkeypatch):
    # a 108-megapixel phone's photo (12000x9000) is above Pillow's limit, a 200-megapixel one's (16320x12240) above
    # twice it; before, the rows said "decompression bomb" alone (the second in Pillow's words, "DOS attack"), with no
    # way to read them
    data = image_folder(tmp_path / "data", {"a": 10, "b": 10})
    (data / "a" / "phone108.png").write_bytes(png_header(12000, 9000))
    (data / "a" / "phone200.png").write_bytes(png_header(16320, 12240))
    project = ingest_in_process(tmp_path, monkeypatch, data, val_fraction=0.2, max_reject_fraction=0.1)
    advice = "; if it is a photo, save it at most 89478485 pixels (half its width and height) to read it"
    assert pd.read_csv(project / "data/ingest/rejected.csv").values.tolist() == [
        [str(data / "a" / "phone108.png"), "decompression bomb: 12000x9000 pixels (width x height) exceeds Pillow's "
         "limit of 89478485" + advice],
        [str(data / "a" / "phone200.png"), "decompression bomb: Image size (199756800 pixels) exceeds limit of "
         "178956970 pixels, could be decompression bomb DOS attack" + advice]]
