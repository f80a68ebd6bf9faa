"""Stop 81: words that named the wrong thing."""
from __future__ import annotations

import pytest
from PIL import Image

from test_hostile_ingest import image_folder
from winnow.image_files import load_imagefolder

AVIF = ("content is AVIF, not an image format read here (PNG, JPEG, BMP, WebP) whatever the suffix says; convert it "
        "to PNG or JPEG")
HEIF = ("content is HEIF/HEIC (an iPhone's photo format), not an image format read here (PNG, JPEG, BMP, WebP) "
        "whatever the suffix says; convert it to JPEG or PNG")


@pytest.mark.hostile("imagefolder")
def test_an_avif_whose_major_brand_is_the_generic_mif1_is_named_avif_and_a_heic_of_that_brand_heif(tmp_path,
                                                                                                  monkeypatch):
    # before: the major brand alone was read, so an AVIF that some encoders write as major brand mif1 (avif among
    # its compatible brands) was "content is HEIF/HEIC (an iPhone's photo format)"
    data = image_folder(tmp_path / "data", {"cat": 6, "dog": 6})
    (data / "dog" / "cdn.jpg").write_bytes(b"\0\0\0\x1cftypmif1\0\0\0\0mif1avifmiaf" + bytes(64))
    (data / "dog" / "phone.jpg").write_bytes(b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic" + bytes(64))
    # the box's own size ends the brands: the "avif" after it is the next box's bytes, not a brand of this file
    (data / "cat" / "short.jpg").write_bytes(b"\0\0\0\x18ftypmif1\0\0\0\0mif1heicavif" + bytes(64))
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name not in ("AVIF", "HEIF")])
    loaded = load_imagefolder(data, size=None)
    assert dict(loaded.rejected) == {str(data / "dog" / "cdn.jpg"): AVIF, str(data / "dog" / "phone.jpg"): HEIF,
                                     str(data / "cat" / "short.jpg"): HEIF}
