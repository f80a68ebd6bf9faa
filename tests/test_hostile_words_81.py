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


@pytest.mark.hostile("cleaners")
def test_the_neighbour_label_column_names_a_class_only_where_one_leads_among_the_neighbours():
    # before: every image whose k neighbours were all of its own class (a tie at zero votes among the others) had
    # the lowest other class written as its neighbour_label, and so did a complete tie of equal embeddings
    import numpy as np

    from winnow.neighbours import Space, cleanse, evidence

    rng = np.random.default_rng(0)
    centres = 10 * np.eye(4, dtype=np.float32)[:3]
    features = np.concatenate([centres[c] + rng.normal(0, 0.1, (6, 4)).astype(np.float32) for c in range(3)])
    labels = np.repeat([0, 1, 2], 6)
    labels[17] = 1  # an image among the class-2 images, labelled 1: its neighbours are 2s
    space = Space(positions=np.arange(18), features=features, reference_positions=np.arange(18),
                  reference_features=features, reference_labels=labels)
    ids = np.array([f"i{n}" for n in range(18)], dtype=object)
    decided = cleanse(ids, labels, evidence(space, labels, k=4, num_classes=3), margin=None, isolation=None)
    assert decided.loc[17, "neighbour_label"] == 2 and decided.loc[17, "decision"] == "relabel"
    assert (decided.loc[:11, "neighbour_label"] == -1).all()  # classes 0 and 1: every neighbour of their own

    same = np.ones((6, 4), np.float32)  # one point: every neighbour tied
    tied = np.array([0, 0, 1, 1, 2, 2])  # each image's 5 neighbours: 1 of its class, 2 of each other class
    space = Space(positions=np.arange(6), features=same, reference_positions=np.arange(6), reference_features=same,
                  reference_labels=tied)
    decided = cleanse(ids[:6], tied, evidence(space, tied, k=5, num_classes=3), margin=None, isolation=None)
    assert decided["neighbour_label"].tolist() == [-1] * 6 and (decided["decision"] == "keep").all()
