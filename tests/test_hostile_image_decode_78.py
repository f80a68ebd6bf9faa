"""Hostile inputs to the imagefolder source's decoding, as a phone, camera or scraper leaves image files: Git LFS
pointers of a clone without its LFS files, web pages a scraper saved in an image's place, empty and never-written
files, an iPhone's HEIC photo named .jpg, a file cut inside its header, and WebP files cut short.

The rows are asserted from :func:`winnow.image_files.load_imagefolder` in this process (the ingest stage writes them
as they are); the refusal over ``ingest.max_reject_fraction`` through the stage (:mod:`test_hostile_ingest`'s
helpers), with nothing left but rejected.csv.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_ingest import REJECTED, image_folder, rejected, run_ingest
from winnow.image_damage import UNWRITTEN
from winnow.image_files import load_imagefolder

LFS = (b"version https://git-lfs.github.com/spec/v1\n"
       b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 48213\n")
LFS_ROW = ("a Git LFS pointer, not the image (the repository was cloned or copied without its LFS files): run `git lfs "
           "pull` in the repository that holds it")
AGAIN = "copy it again from its source"


def encoded(pixels: np.ndarray, format: str, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format, **options)
    return out.getvalue()


@pytest.mark.hostile("imagefolder")
def test_files_that_are_no_image_say_what_they_are_instead(tmp_path):
    # before: every one of them a row "not a decodable image", naming neither the cause nor the fix
    data = image_folder(tmp_path / "data", {"a": 3, "b": 3})
    png = (data / "a" / "0.png").read_bytes()
    page = b"\xef\xbb\xbf\n  <!DOCTYPE html><html><head><title>403 Forbidden</title></head></html>"
    heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(200)
    for name, content in (("lfs.png", LFS), ("page.jpg", page), ("empty.jpg", b""), ("zeros.png", bytes(4096)),
                          ("phone.jpg", heic), ("header.png", png[:30])):
        (data / "a" / name).write_bytes(content)
    loaded = load_imagefolder(data, size=None)
    assert sorted(loaded.ids) == ["a/0.png", "a/1.png", "a/2.png", "b/0.png", "b/1.png", "b/2.png"]
    assert dict(loaded.rejected) == {
        str(data / "a" / "lfs.png"): LFS_ROW,
        str(data / "a" / "page.jpg"): "a web page (HTML), not an image: a download that saved a site's page (an error, "
                                      "a login or a consent page) in its place; download it again",
        str(data / "a" / "empty.jpg"): "empty (0 bytes): an interrupted copy or download, or a cloud drive's "
                                       f"placeholder never fetched; {AGAIN}",
        str(data / "a" / "zeros.png"): "all of its 4096 bytes are zeros: the file was never written (an interrupted "
                                       f"copy or download); {AGAIN}",
        str(data / "a" / "phone.jpg"): "content is HEIF/HEIC (an iPhone's photo format), not an image format read "
                                       "here (PNG, JPEG, BMP, WebP) whatever the suffix says; convert it to JPEG or PNG",
        str(data / "a" / "header.png"): "cut short or damaged in its header: it starts as a PNG file, but its 30 bytes "
                                        "hold no header Pillow can read (an interrupted copy or download?); " + AGAIN,
    }


@pytest.mark.hostile("imagefolder")
def test_a_folder_of_git_lfs_pointers_is_told_to_pull_them_and_unfinished_downloads_to_finish(tmp_path):
    # before: "9 of 13 files could not be read, above ingest.max_reject_fraction=0.05 (1 of them are images by their
    # content but not by their suffix, most .crdownload, ...: rename them ...)", each pointer's row "not a decodable
    # image": no word of the clone that lacks its LFS files, and half a download told to be renamed
    data = image_folder(tmp_path / "data", {"cat": 6, "dog": 6})
    pointers = sorted(data.rglob("*.png"))[4:]
    for path in pointers:
        path.write_bytes(LFS)
    unfinished = data / "cat" / "6.png.crdownload"
    unfinished.write_bytes((data / "cat" / "0.png").read_bytes()[:40])
    project, before, done = run_ingest(tmp_path, "imagefolder", data)
    line = assert_error_line(done)
    assert line == ("error: ingest: 9 of 13 files could not be read, above ingest.max_reject_fraction=0.05 (1 of them "
                    f"are unfinished downloads, first {unfinished}: finish the downloads, or remove them) (8 of them "
                    f"are Git LFS pointers, not the images, first {pointers[0]}: run `git lfs pull` in the repository "
                    "that holds them); see data/ingest/rejected.csv for each file and its reason")
    assert_nothing_left(project, before, allowed={REJECTED})
    assert rejected(project) == {str(path): LFS_ROW for path in pointers} | {
        str(unfinished): "an unfinished download (.crdownload: a browser's file while it downloads 6.png): finish the "
                         "download, or remove it"}


@pytest.mark.hostile("imagefolder")
def test_an_image_behind_a_backup_suffix_is_told_the_name_it_had_unless_a_file_holds_it(tmp_path):
    # before: "rename it x.jpg.jpg" of x.jpg.bak; x.jpg.1 (wget's second download) beside x.jpg keeps a name of its own
    data = image_folder(tmp_path / "data", {"a": 3, "b": 3})
    jpeg = encoded(np.zeros((8, 8, 3), np.uint8), "JPEG")
    for name in ("x.jpg.bak", "y.jpg", "y.jpg.1", "z.png.old"):
        (data / "a" / name).write_bytes(jpeg)
    loaded = load_imagefolder(data, size=None)
    said = "an image file by its content (JPEG) but not by its suffix ({}; accepted: .png, .jpg, .jpeg, .bmp, .webp)"
    assert dict(loaded.rejected) == {
        str(data / "a" / "x.jpg.bak"): said.format(".bak") + ": rename it x.jpg to read it",
        str(data / "a" / "y.jpg.1"): said.format(".1") + ": rename it y.jpg.jpg to read it",
        str(data / "a" / "z.png.old"): said.format(".old") + ": rename it z.png to read it"}


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("options", [{"quality": 90}, {"lossless": True}], ids=["lossy", "lossless"])
def test_a_webp_cut_short_is_a_row_saying_so_at_every_cut(tmp_path, options):
    # before: "unreadable: could not create decoder object", libwebp's words, wherever the file was cut
    data = image_folder(tmp_path / "data", {"a": 3, "b": 3})
    webp = encoded(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8), "WEBP", **options)
    cuts = (20, len(webp) // 2, len(webp) - 1)
    for cut in cuts:
        (data / "a" / f"cut{cut}.webp").write_bytes(webp[:cut])
    loaded = load_imagefolder(data, size=None)
    assert len(loaded.ids) == 6
    assert dict(loaded.rejected) == {
        str(data / "a" / f"cut{cut}.webp"): f"cut short: its RIFF header declares {len(webp)} bytes, the file holds "
                                            f"{cut} (an interrupted copy or download); {AGAIN}"
        for cut in cuts}


@pytest.mark.hostile("imagefolder")
def test_a_jpeg_zero_filled_from_inside_its_header_is_said_never_written_as_one_cut_later_is(tmp_path):
    # before: of one download cut at full length, "not a decodable image" (cut in its first segments), "unreadable:
    # cannot load this image" (in its tables), and only past them that its end was never written
    data = image_folder(tmp_path / "data", {"a": 3, "b": 3})
    jpeg = encoded(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8), "JPEG", quality=90)
    cuts = (20, 180, len(jpeg) * 2 // 5)
    for cut in cuts:
        (data / "a" / f"cut{cut}.jpg").write_bytes(jpeg[:cut] + bytes(len(jpeg) - cut))
    loaded = load_imagefolder(data, size=None)
    assert len(loaded.ids) == 6
    assert dict(loaded.rejected) == {str(data / "a" / f"cut{cut}.jpg"): UNWRITTEN for cut in cuts}
