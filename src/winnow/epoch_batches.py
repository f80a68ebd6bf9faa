"""How :func:`winnow.training.fit` cuts an epoch into batches: ``(start, stop)`` bounds of a rank's share of the
train images, with the batch sizes a model's batch norm cannot train on (a batch of one image) refused or avoided.
"""

from __future__ import annotations

from winnow.errors import WinnowError


def epoch_batches(count: int, batch_size: int, *, lone_fails: bool, model: str, image_shape: tuple[int, int],
                  option: str = "train.batch_size", images: int | None = None, ranks: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of each batch of an epoch of ``count`` images (a rank's share of the ``images`` train images,
    default ``count``, shared by ``ranks`` torchrun ranks). When a batch of one image fails the model's batch norm
    (``lone_fails``, :func:`winnow.models.lone_image_fails`), a last batch of one joins the batch before it; a batch
    size of 1, or a single image a rank, is refused."""
    images = count if images is None else images
    if lone_fails and (batch_size == 1 or count == 1):
        h, w = image_shape
        norm = f"{model}'s batch norm one value per channel on {h}x{w} images, which it cannot normalise"
        if batch_size != 1 and images > 1:  # the ranks' shares are one image each, not the data set
            # before: "train: 1 train image leaves ...; train on at least 2 images a batch", of 2 train images under
            # 2 ranks whose batch size was 64: neither the count nor the fix was the cause
            raise WinnowError(f"train: {images} train images shared by {ranks} torchrun ranks give each rank 1, and a "
                              f"batch of 1 leaves {norm}; start at most {images - 1} rank(s) in all (torchrun "
                              f"--nproc_per_node), or train on more images (or larger images, or lenet5)")
        why = f"{option}: 1 image a batch" if batch_size == 1 else "train: 1 train image"
        raise WinnowError(f"{why} leaves {norm}; train on at least 2 images a batch (or larger images, or lenet5)")
    bounds = [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    if lone_fails and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], count)]
    return bounds
