"""compute.engine: local: a pass over a memory-mapped imageset holds only the batches in flight, so a set
larger than memory can be scored (issue 22 item 1; winnow.mapped_rows.release_rows)."""

import numpy as np

from winnow.engine import Engine


def resident_file_kib() -> int:
    """Pages of files mapped into this process and resident (Linux ``RssFile``)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("RssFile:"))


def row_sums(batch: np.ndarray) -> dict[str, np.ndarray]:
    return {"sum": batch.reshape(len(batch), -1).sum(axis=1)}


def test_a_pass_over_a_memory_map_leaves_none_of_its_pages_in_this_process(tmp_path):
    path = tmp_path / "images.npy"
    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(4000, 64, 64, 3))  # 47 MiB
    images[:] = np.random.default_rng(0).integers(0, 256, images.shape, dtype=np.uint8)
    images.flush()
    del images
    mapped = np.load(path, mmap_mode="r")
    before = resident_file_kib()
    found = Engine().map(row_sums, mapped, batch_size=500, threads=True)
    grown = resident_file_kib() - before
    assert grown < 4 * 1024  # under 4 MiB of the 47 read stay mapped in: a page or two per batch edge at most
    assert np.array_equal(found["sum"], np.load(path).reshape(4000, -1).sum(axis=1))  # every row was read


def test_thumbnails_past_the_memory_bound_live_on_disk_with_the_same_numbers(tmp_path, monkeypatch):
    import tempfile

    from winnow import thumbnails
    from winnow.thumbnails import Looks

    images = np.random.default_rng(1).integers(0, 256, (20000, 32, 32, 3), dtype=np.uint8)
    pairs = np.random.default_rng(2).integers(0, 20000, (50000, 2))
    in_memory = Looks.of(images, flip=True, crop=0.1)
    monkeypatch.setattr(thumbnails, "IN_MEMORY_BYTES", 1 << 20)  # 2 x 20 MiB of thumbnails: both spill
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = resident_file_kib()
    spilled = Looks.of(images, flip=True, crop=0.1)
    grown_writing = resident_file_kib() - before
    correlation = spilled.correlation(pairs, whole=True)
    grown_reading = resident_file_kib() - before
    assert isinstance(spilled.whole, np.memmap) and isinstance(spilled.crop, np.memmap)
    assert np.array_equal(spilled.whole, in_memory.whole) and np.array_equal(spilled.crop, in_memory.crop)
    assert np.array_equal(correlation, in_memory.correlation(pairs, whole=True))
    assert grown_writing < 4 * 1024 and grown_reading < 4 * 1024  # of the 40 MiB, under 4 MiB stay mapped in
    assert list(tmp_path.iterdir()) == []  # the files were unlinked at once: nothing is left behind


def test_correlating_spilled_thumbnails_maps_in_two_windows_at_a_time_not_the_files(tmp_path, monkeypatch):
    # 50,000 random pairs touch every page of both 20 MiB files; read whole, 40 MiB were mapped in before
    # the call let them go (issue 22: 1.6 GiB at 1.6 million images, over the 3 GiB bound)
    import tempfile

    from winnow import thumbnails
    from winnow.thumbnails import Looks

    images = np.random.default_rng(1).integers(0, 256, (20000, 32, 32, 3), dtype=np.uint8)
    pairs = np.random.default_rng(2).integers(0, 20000, (50000, 2))
    monkeypatch.setattr(thumbnails, "IN_MEMORY_BYTES", 1 << 20)
    monkeypatch.setattr(thumbnails, "WINDOW_BYTES", 1 << 20)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spilled = Looks.of(images, flip=True, crop=0.1)
    mapped_in = []
    release = thumbnails.release_rows

    def measured_release(array, start, stop):
        mapped_in.append(resident_file_kib())
        release(array, start, stop)

    monkeypatch.setattr(thumbnails, "release_rows", measured_release)
    before = resident_file_kib()
    spilled.correlation(pairs, whole=True)
    assert max(mapped_in) - before < 6 * 1024  # two 1 MiB windows and the folios at their edges


def test_no_room_for_spilled_thumbnails_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import errno
    import os
    import tempfile

    import pytest

    from winnow import thumbnails
    from winnow.errors import WinnowError
    from winnow.thumbnails import Looks

    images = np.zeros((3000, 32, 32, 3), np.uint8)  # 3,000 thumbnails of 1 KiB each
    monkeypatch.setattr(thumbnails, "IN_MEMORY_BYTES", 1 << 20)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def full(handle, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)  # a full disk, before any page is written
    with pytest.raises(WinnowError, match=rf"^cannot make a 3 MiB temporary file in {tmp_path} "
                                          r"\(No space left on device\): free space there, or set TMPDIR"):
        Looks.of(images)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(WinnowError, match=r"^cannot make a 3 MiB temporary file in .*missing "
                                          r"\(No such file or directory\)"):
        Looks.of(images)


def test_dedup_thumbnails_hold_a_batch_of_pixels_not_of_images(tmp_path):
    # before: 4,096 images a batch whatever their size, each converted to float32 whole: 4,096 images of
    # 256x256 RGB took 4 GiB, 1024x1024 ones would have taken 64 GiB
    import tracemalloc

    from winnow.thumbnails import Looks

    images = np.lib.format.open_memmap(tmp_path / "images.npy", mode="w+", dtype=np.uint8, shape=(4096, 64, 64, 3))
    images[:] = 7
    images.flush()
    images = np.load(tmp_path / "images.npy", mmap_mode="r")
    tracemalloc.start()
    Looks.of(images, flip=True, crop=0.1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # a batch of 4,096 would hold 200 MB of float32 pixels and 67 MB of grey; 1,024 images hold a quarter
    assert peak < 100 * 2**20, peak
