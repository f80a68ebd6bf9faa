"""glibc's allocator set for a stage's own process, which works in batches of large, short-lived temporaries.

A fresh process's glibc serves every request of 128 KiB or more with a map of its own and gives it back to the
kernel when it is freed, raising that threshold only as such blocks are freed, and returns the heap's free top to
the kernel whenever 128 KiB lie there. A stage's batches (decoded rows, float32 planes, bincount codes: 0.1 to 4
MiB each, made anew every batch, on several threads) then fault in every page of every temporary again: ingesting
and scoring the 8,068 CIFAR-subset PNGs (#20) took 97,000-109,000 minor faults in a fresh process, 9,000 with
these settings, and a quarter less CPU (2 busy cores: ingest 547-588 against 386-431 ms, score 302-308 against
206-246). Every
DVC stage is such a fresh process and makes one pass.

Set only in a stage's own process (:func:`winnow.stage.run`'s forked child): the settings are the whole
process's and cannot be given back, so an in-process caller (a notebook, a test) keeps its own.
"""

from __future__ import annotations

import ctypes
import os

# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# requests below this come from the heap and are reused there: a batch's temporaries stay under it (chunks sized
# for the CPU caches, winnow.pixel_batches); glibc's own threshold rises to at most 32 MiB
HEAP_BELOW = 4 << 20
# free memory at the top of a heap is given back to the kernel only beyond this: a stage's next batch needs it again.
# glibc's own rule would keep twice the threshold it reached (up to 64 MiB); 8 MiB still left 43,000 faults in the
# score pass of one fresh process of two
KEEP_FREE = 32 << 20


def keep_freed_memory() -> None:
    """Have glibc serve requests under :data:`HEAP_BELOW` from its heaps and keep up to :data:`KEEP_FREE` of
    freed memory there, so a batch reuses the pages the one before it faulted in. Nothing on another C library
    (musl, macOS, Windows), which has no ``mallopt`` of these numbers."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):  # no such confstr name, no C library to load, no mallopt
        return
    mallopt(_M_MMAP_THRESHOLD, HEAP_BELOW)
    mallopt(_M_TRIM_THRESHOLD, KEEP_FREE)
