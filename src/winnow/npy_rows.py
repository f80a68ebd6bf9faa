"""An ``images.npy`` on disk filled, grown and read a batch of rows at a time, never whole in memory.

The file is a standard ``.npy`` (the header :func:`numpy.lib.format.open_memmap` writes, byte for byte what
:func:`numpy.save` writes for the same array). Rows are written and read with plain ``pwrite``/``pread``
rather than through a memory map: a map keeps every page it touched resident in the process (its RSS
grows to the whole file), while the page cache behind plain I/O is the kernel's to evict.

numpy pads the header so that the length of axis 0 can be rewritten in place (up to 21 digits), which is
what :meth:`NpyRows.resize` relies on: the data never moves when the row count changes.
"""

from __future__ import annotations

import errno
import io
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

BATCH_BYTES = 8 << 20  # rows per batch: as many as fit in 8 MiB (at least one)


class NpyRows:
    """A uint8 ``(N, H, W, C)`` ``.npy`` file, written and read by row ranges.

    Attributes:
        file: the ``.npy`` path.
        shape: ``(N, H, W, C)``, N the rows the file holds now.
    """

    def __init__(self, file: str | os.PathLike, shape: tuple[int, ...], offset: int) -> None:
        self.file = Path(file)
        self.shape = tuple(int(s) for s in shape)
        self._offset = offset

    @classmethod
    def create(cls, file: str | os.PathLike, shape: tuple[int, ...]) -> "NpyRows":
        """A new file of ``shape`` (rows not yet written read as zeros; the file is sparse until written)."""
        with _naming(file):
            array = np.lib.format.open_memmap(file, mode="w+", dtype=np.uint8, shape=tuple(shape))
        offset = array.offset
        del array  # nothing is written through the map: see the module docstring
        return cls(file, shape, offset)

    @classmethod
    def open(cls, file: str | os.PathLike) -> "NpyRows":
        """An existing uint8 ``.npy`` file."""
        array = np.load(file, mmap_mode="r")
        shape, offset = array.shape, array.offset
        del array
        return cls(file, shape, offset)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:]))

    @property
    def batch_rows(self) -> int:
        """Rows per batch of :meth:`batches`: 8 MiB of them, at least one."""
        return max(1, BATCH_BYTES // max(self.row_bytes, 1))

    def write(self, start: int, rows: np.ndarray) -> None:
        """Write uint8 ``(B, H, W, C)`` ``rows`` at row ``start`` (within the current length)."""
        if rows.shape[1:] != self.shape[1:] or rows.dtype != np.uint8 or start + len(rows) > len(self):
            raise ValueError(f"{self.file}: rows {rows.dtype} {rows.shape} at {start} do not fit {self.shape}")
        if len(rows) == 0:  # a memoryview of zero rows cannot be cast: nothing to write
            return
        data = np.ascontiguousarray(rows).data.cast("B")  # bytes: a slice of the 4-D view would skip rows
        fd = os.open(self.file, os.O_WRONLY)
        try:
            done, where = 0, self._offset + start * self.row_bytes
            while done < data.nbytes:  # pwrite may write less than asked
                with _naming(self.file):
                    wrote = os.pwrite(fd, data[done:], where + done)
                if wrote == 0:  # a full disk may answer a short write with 0 rather than ENOSPC: never spin
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.file))
                done += wrote
        finally:
            os.close(fd)

    def write_rows(self, start: int, images: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Write ``images[rows]`` (all of ``images`` when ``rows`` is None) from row ``start`` on, a batch of
        :attr:`batch_rows` at a time, so a memory-mapped ``images`` is never read whole into memory."""
        count = len(images) if rows is None else len(rows)
        for done in range(0, count, self.batch_rows):
            chosen = slice(done, done + self.batch_rows) if rows is None else rows[done:done + self.batch_rows]
            self.write(start + done, np.asarray(images[chosen]))

    def read(self, start: int, stop: int) -> np.ndarray:
        """uint8 ``(stop - start, H, W, C)``, a fresh array in memory."""
        stop = min(stop, len(self))
        out = np.empty((max(stop - start, 0), *self.shape[1:]), np.uint8)
        with open(self.file, "rb") as f:
            f.seek(self._offset + start * self.row_bytes)
            if f.readinto(out.data) != out.nbytes:
                raise OSError(f"{self.file}: shorter than its header says")
        return out

    def batches(self, *, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, rows)`` for consecutive batches of at most ``rows`` rows (default :attr:`batch_rows`)."""
        step = rows or self.batch_rows
        for start in range(0, len(self), step):
            yield start, self.read(start, start + step)

    def resize(self, n: int) -> None:
        """Change the row count to ``n`` in place: rows past ``n`` are cut, new rows read as zeros."""
        shape = (int(n), *self.shape[1:])
        header = _header(shape)
        if len(header) != self._offset:
            raise ValueError(f"{self.file}: a header for {shape} would move the data")  # numpy pads for 21 digits
        with _naming(self.file), open(self.file, "r+b") as f:
            f.write(header)
            f.truncate(self._offset + n * self.row_bytes)
        self.shape = shape

    def array(self) -> np.ndarray:
        """The file as a read-only memory map, ``(N, H, W, C)``."""
        return np.load(self.file, mmap_mode="r")


class MemoryRows:
    """:class:`NpyRows`' interface to ingest (:func:`winnow.image_decode.decode_files`) over an array in memory, for a
    folder read without a file to hold its pixels (``load_imagefolder(into=None)``, whose result is in memory anyway):
    before, the rows went to a temporary ``.npy`` and were copied back out of it, 15 ms of pwrite, copy and clean-up
    on the 8,068 benchmark PNGs (#20), 6 of them after the last file was decoded.

    Attributes:
        shape: ``(N, H, W, C)``, N the rows held now.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(int(s) for s in shape)
        self._rows = np.zeros(self.shape, np.uint8)  # rows not yet written are zeros, as a new NpyRows reads

    def __len__(self) -> int:
        return self.shape[0]

    def write(self, start: int, rows: np.ndarray) -> None:
        """As :meth:`NpyRows.write`."""
        if rows.shape[1:] != self.shape[1:] or rows.dtype != np.uint8 or start + len(rows) > len(self):
            raise ValueError(f"rows {rows.dtype} {rows.shape} at {start} do not fit {self.shape}")
        self._rows[start:start + len(rows)] = rows

    def resize(self, n: int) -> None:
        """As :meth:`NpyRows.resize`: rows past ``n`` are cut, new rows are zeros; a fresh array unless ``n`` is the
        count held (so no cut array keeps the whole one alive)."""
        if n != len(self):
            rows = np.zeros((int(n), *self.shape[1:]), np.uint8)
            kept = min(int(n), len(self))
            rows[:kept] = self._rows[:kept]
            self._rows, self.shape = rows, rows.shape

    def as_rgb(self, count: int) -> "MemoryRows":
        """These rows (single-channel, the first ``count`` written) as three channels, grey repeated, as
        :func:`winnow.image_decode._as_rgb` makes of a file."""
        rgb = MemoryRows((*self.shape[:3], 3))
        rgb._rows[:count] = np.repeat(self._rows[:count], 3, axis=3)
        return rgb

    def array(self) -> np.ndarray:
        """The rows, ``(N, H, W, C)``, in memory."""
        return self._rows


def data_bytes(file: str | os.PathLike, shape: tuple[int, ...], dtype: np.dtype, offset: int) -> tuple[int, int]:
    """(bytes ``.npy`` ``file`` holds after its header, which ends at byte ``offset``; bytes its header's ``shape``
    and ``dtype`` need). They differ when the header was rewritten or the data cut or appended to: numpy refuses
    fewer bytes only when it maps them and reads more without a word, each row then another row's bytes.
    Counted in Python's integers: before, an int64 product wrapped past 2**63, so a header claiming 2**64 + 1,920
    bytes needed 1,920 and passed beside 1,920 stored ones (numpy's overflow RuntimeWarning then on stderr)."""
    return os.path.getsize(file) - offset, math.prod(shape) * np.dtype(dtype).itemsize


@contextmanager
def _naming(file: str | os.PathLike) -> Iterator[None]:
    """An OSError of the block names ``file``: ``pwrite`` and a file object's write say only "No space left on
    device", and the stage's one line then named no disk."""
    try:
        yield
    except OSError as err:
        if err.filename is None and err.errno is not None:
            raise OSError(err.errno, err.strerror, os.fspath(file)) from err
        raise


def _header(shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header numpy writes for a C-ordered uint8 array of ``shape`` (magic and padding included)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buffer.getvalue()
