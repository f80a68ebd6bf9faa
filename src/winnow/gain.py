"""A digital gain's trace in an image's own histogram: the light score's second term (:mod:`winnow.quality`).

``floor(f x)`` for 1 < f < 3 maps the integer codes to a set that skips codes at a regular step (x2: every odd one),
the classic forensic sign of a contrast enhancement (Stamm & Liu 2008, "Blind forensics of contrast enhancement in
digital images"); a photo's histogram holds no such holes. The trace survives lossless files (PNG, npz, CIFAR
batches), not a lossy re-encode or a resize after the gain; a camera's own overexposure leaves none.
"""

from __future__ import annotations

import numpy as np

# a dark photo brightened x2 (floor(2x)) scores an ordinary exposure: mild light at 1-5% of the CIFAR subset could be
# cut at F1 0.79-0.86 at best, 0.00 by auto. Each odd code of it is a hole between two full ones: holes 1 in the median
# CIFAR image at x1.5-x2.5, 0.33 at x1.25; clean CIFAR 0.025 at its 99th percentile, 0.16 at most. Below 1/5 (chance)
# the score is left as it was: taken at any value, holes pulled 47 of 380 clean photos scoring near 1 (light_percentile
# 5) down to 0.93-0.97 and the mode rule flagged them. x1.5-x2.5 score 1/16, below all but 0.1% of clean CIFAR's light
# scores, and never at light's floor, so a set gained throughout is that set's norm. A hole needs neighbours of 4 values
# or more, and 16 such codes: MNIST's strokes and tiny or flat images are never called gained. x3 and more leave no
# single holes and rest on their clipping. Counting holes two wide too (the median of the four nearest codes) saw x3
# but called 98% of images of 16 flat colours (a photo in 8x8 blocks) gained, this 9%
GAIN_MIN_COUNT = 4
GAIN_MIN_CODES = 16
GAIN_MIN_HOLES = 0.2


def gain_score(batch: np.ndarray) -> np.ndarray:
    """float ``(B,)``: ``(1 - min(holes, 1/2))^4`` where ``holes`` is :data:`GAIN_MIN_HOLES` or more, else 1.
    ``holes``: of the codes 1-254 whose two neighbouring codes each hold :data:`GAIN_MIN_COUNT` or more values (all
    channels together; 0 and 255, crushed and clipped, count as empty), the share no value takes; 0 where fewer than
    :data:`GAIN_MIN_CODES` codes have such neighbours. One bincount a batch."""
    b = len(batch)
    codes = batch.reshape(b, -1) + (256 * np.arange(b, dtype=np.intp))[:, None]
    counts = np.bincount(codes.ravel(), minlength=256 * b).reshape(b, 256)
    counts[:, [0, 255]] = 0
    full = counts >= GAIN_MIN_COUNT
    candidates = full[:, :-2] & full[:, 2:]  # code k in 1..254: k - 1 and k + 1
    qualified = candidates.sum(axis=1)
    holes = np.where(qualified >= GAIN_MIN_CODES,
                     (candidates & (counts[:, 1:-1] == 0)).sum(axis=1) / np.maximum(qualified, 1), 0.0)
    return np.where(holes >= GAIN_MIN_HOLES, (1 - np.minimum(holes, 0.5)) ** 4, 1.0)
