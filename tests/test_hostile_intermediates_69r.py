"""Review of probe 69's file stamp (:mod:`winnow.file_rows`): a Ray task reads the sampled bytes of images.npy only
where its change time moved, and reads them from the file it opened. In-process on ten 4x4 images: no Ray, no stage."""

import os

import numpy as np
import pytest

from test_hostile_intermediates_69 import cp_p
from winnow import file_rows
from winnow.errors import WinnowError
from winnow.file_rows import FileRows, checked_unchanged


def ten_images(path) -> FileRows:
    np.save(path, np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2))
    return FileRows.of(np.load(path, mmap_mode="r"))


def test_a_ray_task_reading_an_unchanged_image_file_reads_no_sample_of_it(tmp_path, monkeypatch):
    # before: every batch's task read the 256 sampled blocks again, a mebibyte per batch (more than 256 CIFAR images,
    # a batch's own pixels), whether or not anything had touched the file
    rows = ten_images(tmp_path / "images.npy")
    sampled = []
    monkeypatch.setattr(file_rows, "_sample", lambda handle: sampled.append(handle) or b"")
    with checked_unchanged(rows):
        firsts = [rows.read()[:, 0, 0, 0].tolist() for _ in range(3)]
    assert (firsts, sampled) == ([list(range(10))] * 3, [])


@pytest.mark.hostile("intermediates")
def test_a_ray_task_after_a_chmod_of_the_image_file_reads_it_and_cp_p_of_other_bytes_is_refused(tmp_path):
    # a chmod moves the change time alone: the task samples the bytes it opened, the same; cp -p of another file of
    # the same size keeps inode, size and modification time, and its sample differs
    path = tmp_path / "images.npy"
    rows = ten_images(path)
    os.chmod(path, 0o444)
    with checked_unchanged(rows):
        assert rows.read()[:, 0, 0, 0].tolist() == list(range(10))
    np.save(tmp_path / "other.npy", np.full((10, 4, 4, 1), 7, np.uint8))
    os.chmod(path, 0o644)
    cp_p(tmp_path / "other.npy", path)
    os.utime(path, ns=(os.stat(path).st_atime_ns, rows.stamp[2]))  # the modification time the run began with
    with pytest.raises(WinnowError) as raised:
        rows.read()
    assert str(raised.value) == (f"{path} was rewritten or replaced while the ray engine read it (compute.engine: ray; "
                                 "another run writing it?); its batches would mix old and new images: rerun when "
                                 "nothing else writes it")
