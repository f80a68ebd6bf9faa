"""Rows of large arrays kept out of this process's memory: a memory map's rows let go once read
(:func:`release_rows`), and a temporary array spilled to a file the kernel pages (:func:`spill_array`), so a set
larger than memory can be scored and deduplicated (issue 22)."""

from __future__ import annotations

import errno
import mmap
import os
import tempfile

import numpy as np

from winnow.errors import TOO_LARGE_FIX, WinnowError


def release_rows(images: np.ndarray, start: int, stop: int) -> None:
    """Let rows ``[start, stop)`` of a memory map shared with its file leave this process's resident set
    (``MADV_DONTNEED``). The pages stay in the page cache for the next reader (written ones go to the file),
    but a pass over a set larger than memory no longer keeps every page it has touched mapped in: score's
    RSS on 200,000 128x128 images was the whole 9 GiB file. An array in memory or a copy-on-write map (whose
    changes would be lost) is left alone, and so is every platform without ``madvise``."""
    mapped = getattr(images, "_mmap", None)
    if (not isinstance(images, np.memmap) or images.mode not in ("r", "r+", "w+") or mapped is None
            or not images.flags.c_contiguous or not hasattr(mmap, "MADV_DONTNEED")):
        return
    rows = images[start:stop]
    if not len(rows):
        return
    first = rows.ctypes.data - np.frombuffer(mapped, np.uint8, count=1).ctypes.data
    aligned = first - first % mmap.PAGESIZE  # madvise takes whole pages; a row shared with the next batch refaults
    mapped.madvise(mmap.MADV_DONTNEED, aligned, first + rows.nbytes - aligned)


def spill_array(shape: tuple[int, ...], dtype: np.dtype) -> np.memmap:
    """A zeroed array of ``shape`` and ``dtype`` in a temporary file (in ``TMPDIR``), memory-mapped: pages
    the caller releases (:func:`release_rows`) wait in the page cache, the kernel's to evict, instead of in
    this process. The file is unlinked at once, so it goes with the array (or the process) and a failed run
    leaves nothing behind.

    Its blocks are allocated before it is mapped: a write through a map into a full file system is a SIGBUS
    that kills the process, while a failed allocation here is a one-line :class:`WinnowError`, as is a
    ``TMPDIR`` that cannot be written.
    """
    handle = path = None
    try:
        handle, path = tempfile.mkstemp(prefix="winnow-spill-", suffix=".npy")
        array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(shape))
        if hasattr(os, "posix_fallocate"):  # not on macOS
            os.posix_fallocate(handle, 0, os.fstat(handle).st_size)
        return array
    except OSError as err:
        size_mib = int(np.prod(shape)) * np.dtype(dtype).itemsize / 2**20
        if err.errno == errno.EFBIG:  # before: "free space there", which changes neither limit
            raise WinnowError(f"cannot make a {size_mib:,.0f} MiB temporary file in {tempfile.gettempdir()} "
                              f"({err.strerror}): {TOO_LARGE_FIX}; TMPDIR names where it is made") from err
        raise WinnowError(f"cannot make a {size_mib:,.0f} MiB temporary file in {tempfile.gettempdir()} "
                          f"({err.strerror or err}): free space there, or set TMPDIR to a writable folder with room"
                          ) from err
    finally:
        if path is not None:
            os.close(handle)
            os.unlink(path)
