"""Data set versions: which images and labels each variant trains on, assembled from an imageset plus
decision files, never by editing data in place.

- ``oracle``: the train split before degrade (the undamaged reference; meaningful only when degrade is on);
- ``baseline``: the train split as degrade left it (for a user's own data: as it came in).

Every variant validates on the val split and is evaluated on the test split of ``data/ingest``, which
no stage ever changes.
"""

from __future__ import annotations

from winnow.errors import WinnowError
from winnow.imageset import ImageSet, read_imageset

INGEST = "data/ingest"
DEGRADE = "data/degrade"
VARIANTS = ("oracle", "baseline")


def load_variant(variant: str) -> tuple[ImageSet, ImageSet]:
    """(train, val) imagesets of one variant, images in memory."""
    if variant not in VARIANTS:
        raise WinnowError(f"variants: unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    ingested = read_imageset(INGEST)
    source = ingested if variant == "oracle" else read_imageset(DEGRADE)
    return source.split("train"), ingested.split("val")


def load_test() -> ImageSet:
    """The untouched test split of the ingest imageset."""
    return read_imageset(INGEST).split("test")
