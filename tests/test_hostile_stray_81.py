"""Stop 81: a stray file of gigabytes given an image's suffix (a video, an archive, a disk image) was read whole, and
held twice: a 2 GiB file named .png took ingest to 4.2 GB of memory for 9-130 s before its row said its end was never
written. Now its size alone sets it aside, unread, past what a file of the largest image Pillow reads can hold."""
from __future__ import annotations

import pytest
from PIL import Image

from test_hostile_ingest import image_folder
from winnow import image_damage
from winnow.errors import WinnowError
from winnow.image_files import load_imagefolder


@pytest.mark.hostile("imagefolder")
def test_a_file_larger_than_any_image_is_set_aside_unread_by_its_size(tmp_path):
    data = image_folder(tmp_path / "data", {"cat": 6, "dog": 6})
    most = 89_478_485 * 8 + (256 << 20)  # Pillow's MAX_IMAGE_PIXELS of 16-bit RGBA pixels, and 256 MiB for metadata
    with open(data / "dog" / "backup.png", "wb") as file:  # sparse: no disk used
        file.write(b"\x89PNG\r\n\x1a\n")
        file.truncate(most + 1)
    loaded = load_imagefolder(data, size=None)
    assert sorted(loaded.ids) == sorted(f"{c}/{n}.png" for c in ("cat", "dog") for n in range(6))
    assert dict(loaded.rejected)[str(data / "dog" / "backup.png")] == (
        "984,263,337 bytes, more than a file of an image of Pillow's limit of 89,478,485 pixels holds (984,263,336 at "
        "most), so it was not read: a video, an archive or another file named .png? move it out of the image folder")


def _sparse(path, first: bytes, size: int):
    with open(path, "wb") as file:  # sparse: no disk used
        file.write(first)
        file.truncate(size)


MP4_START = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"  # a video's first bytes


@pytest.mark.hostile("imagefolder")
def test_a_large_file_named_png_that_starts_as_no_image_is_set_aside_by_its_first_bytes(tmp_path):
    # 200 MiB, under the size limit above: before, read whole (a 900 MB one held 1 GB for 8 s) for the reason its
    # first bytes give, the reason an ordinary small stray with those bytes gets
    import tracemalloc
    data = image_folder(tmp_path / "data", {"cat": 3, "dog": 3})
    _sparse(data / "dog" / "clip.png", MP4_START, 200 << 20)
    (data / "cat" / "small.png").write_bytes(MP4_START + b"\1" * 1000)
    tracemalloc.start()
    try:
        loaded = load_imagefolder(data, size=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rejected = dict(loaded.rejected)
    assert rejected[str(data / "dog" / "clip.png")] == rejected[str(data / "cat" / "small.png")] == \
        "not a decodable image"
    assert peak < 64 << 20  # the file's 200 MiB were never held
    assert len(loaded.ids) == 6


@pytest.mark.hostile("imagefolder")
def test_a_jpeg_start_followed_by_zeros_is_set_aside_without_scanning_them_all(tmp_path):
    # a download preallocated and never written: Pillow steps over bytes that are no marker one at a time (0.1 s a MB);
    # a 300 MB one held ingest over 40 s, one still being written as long as it grew
    data = image_folder(tmp_path / "data", {"cat": 3, "dog": 3})
    _sparse(data / "dog" / "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
            40 << 20)
    loaded = load_imagefolder(data, size=None)
    assert dict(loaded.rejected) == {str(data / "dog" / "photo.jpg"): (
        "its image data ends in zeros: the end of the file was never written (an interrupted copy or download)")}


@pytest.mark.hostile("imagefolder")
def test_a_file_that_grows_while_read_stops_ingest_in_one_line(tmp_path, monkeypatch):
    import os

    from winnow import image_decode
    data = image_folder(tmp_path / "data", {"cat": 3, "dog": 3})
    growing = data / "dog" / "growing.jpg"
    growing.write_bytes(b"\xff\xd8\xff" + b"\1" * 1000)
    read = os.read

    def written_meanwhile(fd, count):  # another process appends to the file as it is read (before: read as it grew)
        if os.readlink(f"/proc/self/fd/{fd}") == str(growing):
            with open(growing, "ab") as file:
                file.write(b"\1" * (2 << 20))
        return read(fd, count)

    monkeypatch.setattr(image_decode.os, "read", written_meanwhile)
    # the largest file an image can be, made small (Pillow's pixel limit at 8 bytes a pixel, no room for metadata):
    # the bytes appended since the file was opened are read up to it, then the growing file stops ingest
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    monkeypatch.setattr(image_damage, "METADATA_BYTES", 0)
    with pytest.raises(WinnowError) as err:
        load_imagefolder(data, size=None)
    assert str(err.value) == (f"ingest.path: cannot read {growing} (it grew from 1,003 past 800,000 bytes while it was "
                              "read, more than a file of an image holds), which its folder lists; nothing was "
                              "ingested: check that nothing writes its files meanwhile, then rerun")


@pytest.mark.hostile("imagefolder")
def test_a_fifo_or_dev_zero_named_as_an_image_is_a_row_not_a_hang(tmp_path):
    import os
    data = image_folder(tmp_path / "data", {"cat": 3, "dog": 3})
    os.mkfifo(data / "dog" / "pipe.png")
    os.symlink("/dev/zero", data / "cat" / "zero.jpg")
    loaded = load_imagefolder(data, size=None)
    assert dict(loaded.rejected) == {str(data / "dog" / "pipe.png"): "not a regular file (a FIFO, socket or device)",
                                     str(data / "cat" / "zero.jpg"): "not a regular file (a FIFO, socket or device)"}
    assert len(loaded.ids) == 6
