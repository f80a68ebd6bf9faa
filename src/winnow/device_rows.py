"""Images on their way to the device: all at once as one tensor when they fit (the default path, and
the one every default output was made with), otherwise a batch at a time from host memory or a memory
map (``train.stream``).

Both give the model the same uint8 values for the same rows; only the per-channel mean and std differ
in how they are summed (see :func:`channel_stats`).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from winnow.mapped_rows import release_rows


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` → uint8 ``(N, C, H, W)`` on the device (scaled later, per batch)."""
    with warnings.catch_warnings():
        # a read-only memory map: torch warns that writing would be undefined; nothing writes, and the
        # permuted copy below is a tensor of its own
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).contiguous()


class StreamedRows:
    """uint8 ``(N, H, W, C)`` images left in host memory or on disk (a memory map), indexed like the
    ``(N, C, H, W)`` device tensor :func:`to_tensor` makes: ``rows[index]`` (a slice or a 1-D integer
    tensor) reads those rows and returns them on the device, uint8 ``(B, C, H, W)``. On CUDA the batch is
    pinned and copied without blocking the host.

    Attributes:
        shape: ``(N, C, H, W)``; device: where batches go.
    """

    def __init__(self, images: np.ndarray, device: torch.device) -> None:
        n, h, w, c = images.shape
        self.images, self.device, self.shape = images, device, (n, c, h, w)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        batch = torch.from_numpy(np.require(self.images[index], requirements=["C", "W"]))  # a copy only if needed
        if isinstance(index, slice) and index.step in (None, 1):
            # a run of rows of a memory map (embedding, prediction, the channel stats) leaves this process once
            # copied, as the per-image stages' batches do: a pass over a streamed set kept every page of it mapped in
            start, stop, _ = index.indices(len(self.images))
            release_rows(self.images, start, stop)
        if self.device.type == "cuda":
            batch = batch.pin_memory()
        return batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).contiguous()


def device_images(images: np.ndarray, device: torch.device, *, stream: str) -> torch.Tensor | StreamedRows:
    """uint8 ``(N, H, W, C)`` images as the model reads them: one device tensor (``stream: never``, or
    ``auto`` when they fit, :func:`fits`) or :class:`StreamedRows` (``always``, or ``auto`` when they do not)."""
    if stream == "always" or (stream == "auto" and not fits(images.nbytes, device)):
        return StreamedRows(images, device)
    return to_tensor(images, device)


def fits(nbytes: int, device: torch.device) -> bool:
    """Whether ``nbytes`` of images take at most half the device's free memory (host RAM for the CPU): the
    other half is for the model, its activations and the float copies of a batch."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
    else:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return nbytes <= free // 2


# bytes of int64 values in one batch of :func:`channel_stats`' streamed sums: 4,096 rows, as it once read, held
# 0.9 GiB of float64 copies (twice) at 96x96 RGB, 6 GiB at 224x224, for a set streamed because it is large
STATS_BYTES = 32 << 20


def channel_stats(x: torch.Tensor | StreamedRows, *, batch_size: int | None = None,
                  batch_bytes: int = STATS_BYTES) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 ``(C,)`` mean and std (unbiased, at least 1e-3) of the images scaled to [0, 1].

    Summed a batch of at most ``batch_bytes`` of int64 values (and at most ``batch_size`` rows, when given)
    at a time, exactly: integer sums of the pixels and of their squares, so the mean and std are the exact
    values rounded, whatever the batches and whether the rows sit on the device or are streamed. Before, a
    device tensor was reduced at once in float32, which could differ from the streamed sums in the last bit,
    so ``train.stream: auto``, which streams by the free memory of the moment, could give another model for
    the same seed from one run to the next.
    """
    channels = x.shape[1]
    step = max(1, min(batch_size or len(x), batch_bytes // max(1, 8 * channels * x.shape[2] * x.shape[3])))
    total, squares = [0] * channels, [0] * channels  # Python integers: exact however many pixels
    for start in range(0, len(x), step):
        batch = x[start:start + step].to(torch.int64)
        total = [a + b for a, b in zip(total, batch.sum(dim=(0, 2, 3)).tolist())]
        batch.mul_(batch)
        squares = [a + b for a, b in zip(squares, batch.sum(dim=(0, 2, 3)).tolist())]
        del batch
    count = len(x) * x.shape[2] * x.shape[3]
    if not count:  # no pixels: NaN, as the device reduction gives
        nan = torch.full((channels,), float("nan"))
        return nan.to(x.device), nan.to(x.device)
    # int / int is the correctly rounded float: the mean of the scaled pixels and their unbiased variance
    mean = [t / (count * 255) for t in total]
    var = [max(count * q - t * t, 0) / (count * max(count - 1, 1) * 255 * 255) for t, q in zip(total, squares)]
    std = torch.tensor(var, dtype=torch.float64).sqrt()
    return (torch.tensor(mean, dtype=torch.float64).float().to(x.device),
            std.float().clamp_min(1e-3).to(x.device))
