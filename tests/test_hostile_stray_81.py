"""Stop 81: a stray file of gigabytes given an image's suffix (a video, an archive, a disk image) was read whole, and
held twice: a 2 GiB file named .png took ingest to 4.2 GB of memory for 9-130 s before its row said its end was never
written. Now its size alone sets it aside, unread, past what a file of the largest image Pillow reads can hold."""
from __future__ import annotations

import pytest

from test_hostile_ingest import image_folder
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
