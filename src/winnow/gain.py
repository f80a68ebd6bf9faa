"""A digital gain's trace in an image's own histogram: the light score's second term (:mod:`winnow.quality`).

``floor(f x)`` for 1 < f < 3 maps the integer codes to a set that skips codes at a regular step (x2: every odd one),
the classic forensic sign of a contrast enhancement (Stamm & Liu 2008, "Blind forensics of contrast enhancement in
digital images"); a photo's histogram holds no such holes. The trace survives lossless files (PNG, npz, CIFAR
batches), not a lossy re-encode or a resize after the gain; a camera's own overexposure leaves none. A contrast stretch
(``floor(f (x - a))``, auto-levels) is a gain too and is read as one. Two other lossless sources of holes are not: a
tone curve that darkens (gamma above 1, sRGB to linear) stretches the bright codes alone, while a gain multiplies from
black and leaves its holes in the dark codes as well; and a palette (P-mode, GIF, an image of few colours) holds at most
256 colours, whose codes leave holes at random. A grey image is never read as gained: one channel of few grey levels (a
7-bit source scaled to 8 bits, a 64-level scan) leaves the holes a gain does, and cannot be told from one. Nor is a
source of 5 or 6 bits a channel (RGB565), whose channels' codes interleave as those of a stretch channel by channel do:
it is told apart by its codes alone.
"""

from __future__ import annotations

import numpy as np

# a dark photo brightened x2 (floor(2x)) scores an ordinary exposure: mild light at 1-5% of the CIFAR subset could be
# cut at F1 0.79-0.86 at best, 0.00 by auto. Each odd code of it is a hole between two full ones: holes 1 in the median
# CIFAR image at x1.5-x2.5, 0.33 at x1.25; clean CIFAR 0.025 at its 99th percentile, 0.16 at most. Below 1/5 (chance)
# the score is left as it was: taken at any value, holes pulled 47 of 380 clean photos scoring near 1 (light_percentile
# 5) down to 0.93-0.97 and the mode rule flagged them. x1.5-x2.5 score 1/16, below all but 0.1% of clean CIFAR's light
# scores, and never at light's floor, so a set gained throughout is that set's norm. A hole needs neighbours of 4 values
# or more, and 16 such codes: MNIST's strokes and tiny or flat images are not called gained, but for a digit box-blurred
# (2 of the 4,755 images of the default run's degrade, its blur at kernel 5: the means of 25 near-black or near-white
# pixels fall on a step of 2.5 codes, as a x2.5 gain's do; they score 1/16, and light flags none there as before).
# x3 and more leave no single holes and rest on their clipping. Counting holes two wide too (the median of the four
# nearest codes) saw x3 but called 98% of images of 16 flat colours (a photo in 8x8 blocks) gained, this 9% (a colour
# one none since: 256 colours or fewer are a palette, below)
GAIN_MIN_COUNT = 4
GAIN_MIN_CODES = 16
GAIN_MIN_HOLES = 0.2
# holes taken over all the codes called 23% of a CIFAR set darkened by gamma 1.5 gained (68% at 2.2, 67% sRGB to linear)
# and auto flagged 492 of 2,000 as light, 43 of 100 linear ones among 1,900 clean; quantized to 128, 64 and 32 colours
# 32%, 91% and 98% (644 of 2,000 flagged at 128, 93 of 100 at 32 among clean ones). Now a gain must leave holes below
# code 48 too where 8 or more codes qualify there (darkening curves 0.4-2.6%, flagged none) and a colour image of 256
# colours or fewer is a palette (0-1%): x1.25-x1.5 97.9-99.7% gained, x2-x2.5 of dark photos 99-99.7%, of ordinary
# CIFAR 76-89% (the rest clipped to few colours: mild light x2's auto F1 1.000 -> 0.994-0.999, the exposure term flags
# them). Taking the lower of the two shares as the score instead formed a mode of equalized images at 0.37-0.41
GAIN_LOW_CODES = 48
GAIN_MAX_PALETTE = 256


def _widened(bits: int) -> list[np.ndarray]:
    """The 8-bit codes of a ``bits``-bit channel, widened by bit replication, rounding and truncation."""
    k, top = np.arange(2 ** bits), 2 ** bits - 1
    return [(k << (8 - bits)) | (k >> (2 * bits - 8)), np.round(k * 255 / top).astype(int), k * 255 // top]


# the codes a channel of 5 or 6 bits keeps to once widened to 8 (a row each): an RGB565 source (an embedded camera's)
# puts red and blue on a step of 8 codes and green on one of 4, and pooled they leave holes between a green and a red
# code, so 40 of 40 such photos scored light 1/16. A channel whose codes all lie on one row is such a source's
LOW_BIT_CODES = np.zeros((6, 256), bool)
for _row, _codes in enumerate(_widened(5) + _widened(6)):
    LOW_BIT_CODES[_row, _codes] = True


def few_colour_images(sorted_hsp: np.ndarray, chroma: np.ndarray, *, colours: np.ndarray | None = None) -> np.ndarray:
    """bool ``(B,)``: images whose holes say nothing of a gain: grey ones (``chroma`` 0), and colour ones of
    :data:`GAIN_MAX_PALETTE` colours or fewer, a palette's. ``sorted_hsp``: float ``(B, P)``, each image's pixel
    brightness sorted; distinct colours are distinct values but for rare ties, which count fewer. A grey set of 128
    levels scored as gained on 860 of 2,000 images and auto flagged 869 light, one of 64 levels 75 of 100 among 1,900
    clean colour ones (a review's measurement, on the CIFAR subset made grey). ``colours``: each row's count of
    distinct values where counted already (:func:`winnow.sorted_rows.changes`)."""
    if colours is None:
        colours = np.not_equal(sorted_hsp[:, 1:], sorted_hsp[:, :-1]).sum(axis=1) + 1
    return (colours <= GAIN_MAX_PALETTE) | (chroma == 0)


def low_bit_images(batch: np.ndarray) -> np.ndarray:
    """bool ``(B,)``: the images of uint8 ``batch`` ``(B, H, W, C)`` whose every channel keeps to the codes of one
    :data:`LOW_BIT_CODES` row (a source of 5 or 6 bits a channel, RGB565). One bincount of every channel's codes."""
    b, c = len(batch), batch.shape[3]
    codes = np.moveaxis(batch, 3, 1).reshape(b * c, batch.shape[1] * batch.shape[2])
    codes = codes + (256 * np.arange(b * c, dtype=np.intp))[:, None]
    present = np.bincount(codes.ravel(), minlength=256 * b * c).reshape(b, c, 1, 256) > 0
    return (~(present & ~LOW_BIT_CODES).any(axis=3)).any(axis=2).all(axis=1)


COUNT_ROWS = 16  # images a bincount of code_counts takes: their int64 codes stay in the CPU's caches


def code_counts(batch: np.ndarray) -> np.ndarray:
    """int ``(B, 256)``: how many values of each image of uint8 ``batch`` ``(B, ...)`` (all channels together) take
    each code. One bincount of :data:`COUNT_ROWS` images at a time: over a whole batch of 256 CIFAR images the
    int64 codes (6 MB) left the caches, and counting cost a third more."""
    b = len(batch)
    counts = np.empty((b, 256), np.intp)
    offsets = (256 * np.arange(COUNT_ROWS, dtype=np.intp))[:, None]
    for first in range(0, b, COUNT_ROWS):
        part = batch[first:first + COUNT_ROWS].reshape(min(COUNT_ROWS, b - first), -1)
        codes = part + offsets[:len(part)]
        counts[first:first + len(part)] = np.bincount(codes.ravel(), minlength=256 * len(part)).reshape(-1, 256)
    return counts


def gain_score(batch: np.ndarray, few_colours: np.ndarray) -> np.ndarray:
    """float ``(B,)``: ``(1 - min(holes, 1/2))^4`` where ``holes`` is :data:`GAIN_MIN_HOLES` or more, else 1.
    ``holes``: of the codes 1-254 whose two neighbouring codes each hold :data:`GAIN_MIN_COUNT` or more values (all
    channels together; 0 and 255, crushed and clipped, count as empty), the share no value takes; 0 where fewer than
    :data:`GAIN_MIN_CODES` codes qualify, where half as many or more qualify below :data:`GAIN_LOW_CODES` and under
    :data:`GAIN_MIN_HOLES` of those are holes (a darkening curve), where ``few_colours`` (bool ``(B,)``,
    :func:`few_colour_images`), and where every channel keeps to the codes of 5 or 6 bits (:func:`low_bit_images`).
    One bincount a batch, and one over the images whose holes reach :data:`GAIN_MIN_HOLES`."""
    counts = code_counts(batch)
    counts[:, [0, 255]] = 0
    full = counts >= GAIN_MIN_COUNT
    candidates = full[:, :-2] & full[:, 2:]  # code k in 1..254: k - 1 and k + 1
    holes = candidates & (counts[:, 1:-1] == 0)
    qualified, low = candidates.sum(axis=1), candidates[:, :GAIN_LOW_CODES - 1].sum(axis=1)
    share = holes.sum(axis=1) / np.maximum(qualified, 1)
    share_low = holes[:, :GAIN_LOW_CODES - 1].sum(axis=1) / np.maximum(low, 1)
    darkening = (low >= GAIN_MIN_CODES // 2) & (share_low < GAIN_MIN_HOLES)
    share = np.where((qualified >= GAIN_MIN_CODES) & ~darkening & ~few_colours, share, 0.0)
    # holes between the codes of different channels count: a per-channel stretch (PIL's ImageOps.autocontrast) gives
    # each channel its own factor, and the pooled holes are its trace. Holes taken only between two codes of one
    # channel left it unread: 100 photos darkened x0.3 then autocontrasted among 1,900 CIFAR ones, 85% gained and
    # auto F1 0.94 before, none after. A source of 5 or 6 bits a channel interleaves the same way, and is told apart
    # by its codes alone. Only the images that look gained are read channel by channel: a bincount of every channel of
    # every image cost 20 ms more on 8,068 CIFAR images, a clean set now costs what it did
    gained = share >= GAIN_MIN_HOLES
    gained[gained] = ~low_bit_images(batch[gained])
    return np.where(gained, (1 - np.minimum(share, 0.5)) ** 4, 1.0)
