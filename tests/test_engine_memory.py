"""compute.engine: local: a pass over a memory-mapped imageset holds only the batches in flight, so a set
larger than memory can be scored (issue 22 item 1; winnow.engine.release_rows)."""

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
