"""An array mapped read-only from a file, as the engines read it (:class:`FileRows`: the Ray tasks reopen the file by
its path; the local engine reads the map), and the check that the file is still the one the run began with: a file
rewritten or replaced meanwhile would give some batches of the old images and some of the new."""

from __future__ import annotations

import hashlib
import mmap
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from winnow.errors import WinnowError


def _stamp(status: os.stat_result, handle: BinaryIO) -> tuple[int, int, int, int, bytes]:
    """A file's identity and version when a run begins: (inode, size, modification time in ns, change time in ns,
    :func:`_sample` of ``handle``, the file open)."""
    return status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns, _sample(handle)


SAMPLED_BLOCKS, BLOCK = 256, 4096  # a mebibyte read past WHOLE_BYTES, whatever the file's size
# a file up to this size is hashed whole (about 0.07 s): before, another file of the same size and modification time
# put in place by `cp -p` (two copies of a set unpacked from archives of fixed times) that differed in one image
# between the sampled blocks was read as the same file, and the local engine's batches mixed the two, exit 0
WHOLE_BYTES = 64 << 20


def _sample(handle: BinaryIO) -> bytes:
    """A digest of the open file ``handle``, whole up to :data:`WHOLE_BYTES`, else of :data:`SAMPLED_BLOCKS` blocks
    spread evenly over it (b"" where it cannot be read): what tells another file's bytes from the same bytes where
    only the change time moved (:func:`_same_version`)."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        size = os.fstat(handle.fileno()).st_size
        if size <= WHOLE_BYTES:
            starts, length = range(0, size, 1 << 20), 1 << 20
        else:
            starts, length = sorted({size * k // SAMPLED_BLOCKS for k in range(SAMPLED_BLOCKS)}), BLOCK
        for start in starts:
            digest.update(os.pread(handle.fileno(), length, start))
    except OSError:
        return b""
    return digest.digest()


def _same_version(before: tuple, status: os.stat_result, handle: BinaryIO) -> bool:
    """Whether the file open as ``handle``, of ``status``, is the version :func:`_stamp` saw as ``before``. Inode, size
    and modification time first; where only the change time moved, the sampled bytes: ``cp -p`` of another file of
    the same size over it rewrites it in place and sets the other's time (before: a backup restored so while score
    read the file mixed two image sets, exit 0), where a hard link, a chmod or an extended attribute moves the change
    time over the same bytes (imageset writers and DVC's cache link files). Another file past :data:`WHOLE_BYTES` differing in a
    few blocks between the sampled ones is not seen. The bytes are read only where the change time moved: before, each Ray
    batch read the whole sample again, a mebibyte (more than a batch of 256 CIFAR images) for every batch."""
    return ((status.st_ino, status.st_size, status.st_mtime_ns) == before[:3]
            and (status.st_ctime_ns == before[3] or _sample(handle) == before[4]))


def _changed(path: str, *, engine: str = "ray") -> WinnowError:
    return WinnowError(f"{path} was rewritten or replaced while the {engine} engine read it (compute.engine: {engine}; "
                       "another run writing it?); its batches would mix old and new images: rerun when nothing else "
                       "writes it")


@dataclass(frozen=True)
class FileRows:
    """An array mapped read-only from a file, as a task on any node reads it: the array of ``shape``,
    ``dtype`` and ``strides`` whose first element lies ``offset`` bytes into ``path``, and the file's
    :func:`_stamp` when the run began. Tasks reopen the file by its path, so a file replaced or rewritten
    during the run is refused (each task checks the file it opened; :meth:`Engine.map` the path at the
    end) instead of giving some batches of the old images and some of the new."""

    path: str
    offset: int
    shape: tuple[int, ...]
    dtype: str
    strides: tuple[int, ...]
    stamp: tuple[int, int, int, int, bytes]
    host: str  # the machine of the driver (its host name), where the stamp was taken

    @classmethod
    def of(cls, images: np.ndarray) -> FileRows | None:
        """``images`` as a view of its file, or None when it is not a read-only memory map of one."""
        mapped = getattr(images, "_mmap", None)
        if (not isinstance(images, np.memmap) or images.mode != "r" or mapped is None or not images.filename
                or not images.size):
            return None
        base = np.frombuffer(mapped, np.uint8, count=1).ctypes.data  # the map starts at the page below .offset
        offset = images.ctypes.data - base + images.offset - images.offset % mmap.ALLOCATIONGRANULARITY
        try:
            with open(images.filename, "rb") as handle:
                stamp = _stamp(os.fstat(handle.fileno()), handle)
        except OSError:  # gone from its path: this process's map is all that holds the images
            return None
        if _mapped_inode(base) not in (None, stamp[0]):  # the path names another file than the one mapped here
            raise _changed(str(images.filename))
        return cls(str(images.filename), int(offset), tuple(images.shape), images.dtype.str, tuple(images.strides),
                   stamp, socket.gethostname())

    def read(self) -> np.ndarray:
        """The array, mapped from the file (rows are read when sliced); a WinnowError if the file changed, or if
        this task runs on another machine than the driver's and finds another file at the path, or none."""
        elsewhere = socket.gethostname() != self.host
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            if elsewhere:
                raise _not_shared(self) from None
            raise
        with handle:
            if not _same_version(self.stamp, os.fstat(handle.fileno()), handle):
                # before: a node holding its own copy (dvc pull on each machine, as for torchrun) was told the file
                # was rewritten by another run, and to rerun, which failed the same way every time
                raise _not_shared(self) if elsewhere else _changed(self.path)
            raw = np.memmap(handle, np.uint8, mode="r")
        return np.ndarray(self.shape, self.dtype, buffer=raw, offset=self.offset, strides=self.strides)


def _not_shared(rows: FileRows) -> WinnowError:
    return WinnowError(f"compute.engine: ray: node {socket.gethostname()} does not see the file {rows.path} that the "
                       f"driver on {rows.host} reads (another copy there, or none); every node must see the repository "
                       "at the same path on a shared file system, or set compute.engine: local")


def _mapped_inode(address: int) -> int | None:
    """The inode of the file mapped at ``address`` in this process (Linux's /proc/self/maps), or None."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                low, high = (int(bound, 16) for bound in fields[0].split("-"))
                if low <= address < high:
                    return int(fields[4]) or None
    except (OSError, ValueError, IndexError):
        return None
    return None


@contextmanager
def checked_unchanged(source: object) -> Iterator[None]:
    """A Ray run whose tasks read ``source`` (:func:`rows_source`): after it, the file they read (:class:`FileRows`)
    is still the one they began with. Checked also when the run failed in one line: a task on another node that
    found the file changed says that node does not see the driver's file (:func:`_not_shared`), but where the nodes
    do share it, it was the driver's file that changed; before, that rewrite (rerun when nothing else writes it) was
    told as a cluster set up wrong."""
    try:
        yield
    except WinnowError:
        _check_unchanged(source)
        raise
    _check_unchanged(source)


def _check_unchanged(source: object) -> None:
    if isinstance(source, FileRows):
        try:
            with open(source.path, "rb") as handle:
                same = _same_version(source.stamp, os.fstat(handle.fileno()), handle)
        except OSError:
            same = False
        if not same:
            raise _changed(source.path)


@contextmanager
def unchanged_in_place(images: np.ndarray, *, engine: str = "local") -> Iterator[None]:
    """A block that reads ``images`` in this process (the local engine): when they map a file read-only, a file
    rewritten in place meanwhile (its inode kept: ``cp``, ``cp -p`` or ``numpy.save`` over it, :func:`_same_version`)
    is :func:`_changed` after the block. Before, the batches read after the rewrite came from the new bytes and
    the result mixed two image sets without a word (Ray's tasks refused it). A file replaced by another (a new
    inode, what winnow's writers do) changes nothing here: this process keeps mapping the one it opened.
    ``engine``: the compute.engine the line names, that of a block whose reads go on to Ray (represent's training,
    then its embedding; before, a user of ray was told of compute.engine: local)."""
    path = images.filename if isinstance(images, np.memmap) and images.mode == "r" and images.filename else None
    try:
        handle = None if path is None else open(path, "rb")
    except OSError:  # gone from its path: nothing can rewrite the file this process maps
        handle = None
    if handle is None:
        yield
        return
    # the file held open: a path replaced meanwhile leaves this one as it was, and its bytes stay readable to the
    # sample whatever a chmod does to the path
    with handle:
        before = _stamp(os.fstat(handle.fileno()), handle)
        yield
        if not _same_version(before, os.fstat(handle.fileno()), handle):
            raise _changed(str(path), engine=engine)
