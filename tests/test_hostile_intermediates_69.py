"""Hostile edits while a stage reads its images (probe 69): ``cp -p`` of another image file of the same size over the
one being read keeps its inode, size and modification time, the stamp the engines compared; its change time and its
sampled bytes are what tell. In-process on ten 4x4 images: no stage run."""

import os

import numpy as np
import pytest

from winnow.engine import Engine
from winnow.errors import WinnowError


def cp_p(source, target) -> None:
    """What ``cp -p source target`` does to an existing ``target``: its bytes rewritten in place (the inode kept), then
    the source's modification time set on it."""
    status = os.stat(source)
    with open(source, "rb") as read, open(target, "r+b") as written:
        written.truncate(0)
        written.write(read.read())
    os.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns))


@pytest.mark.hostile("intermediates")
def test_an_image_file_replaced_by_cp_p_of_one_of_the_same_size_while_read_is_one_line(tmp_path):
    # before: a backup of the same size restored with cp -p over images.npy while score read it gave the old images'
    # scores for the rows read before and the backup's after, exit 0: here first pixels [0 0 0 7 7 7 7 7 7 7]
    path, backup = tmp_path / "images.npy", tmp_path / "backup.npy"
    np.save(backup, np.full((10, 4, 4, 1), 7, np.uint8))
    np.save(path, np.zeros((10, 4, 4, 1), np.uint8))
    os.utime(path, ns=(os.stat(backup).st_atime_ns, os.stat(backup).st_mtime_ns))  # cp -p gives it the backup's time

    def restores_the_backup_once(batch: np.ndarray) -> dict[str, np.ndarray]:
        if not (tmp_path / "restored").exists():
            (tmp_path / "restored").touch()
            cp_p(backup, path)
        return {"first": batch.reshape(len(batch), -1)[:, 0].astype(np.int64)}

    with pytest.raises(WinnowError) as raised:
        Engine().map(restores_the_backup_once, np.load(path, mmap_mode="r"), batch_size=3)
    assert str(raised.value) == (f"{path} was rewritten or replaced while the local engine read it "
                                 "(compute.engine: local; another run writing it?); its batches would mix old and new "
                                 "images: rerun when nothing else writes it")


def link_then_unlink(path) -> None:
    os.link(path, path.parent / "linked.npy")
    os.unlink(path.parent / "linked.npy")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("touch_only_its_status", [
    lambda path: os.link(path, path.parent / "linked.npy"),  # an imageset writer linking the file it reads, DVC's cache
    link_then_unlink,  # the link count back where it was
    lambda path: os.chmod(path, 0o444),  # a chmod -R over the project, DVC protecting a cached file
], ids=["link", "link-and-unlink", "chmod"])
def test_a_change_of_an_image_file_s_status_alone_while_read_is_no_change(tmp_path, touch_only_its_status):
    # each moves the change time as cp -p does, over the same bytes, read whole; before the sampled bytes were
    # compared, the chmod and the link made and removed were "rewritten or replaced while the local engine read it"
    path = tmp_path / "images.npy"
    np.save(path, np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2))

    def touches_the_file_once(batch: np.ndarray) -> dict[str, np.ndarray]:
        if not (tmp_path / "touched").exists():
            (tmp_path / "touched").touch()
            touch_only_its_status(path)
        return {"first": batch.reshape(len(batch), -1)[:, 0].astype(np.int64)}

    out = Engine().map(touches_the_file_once, np.load(path, mmap_mode="r"), batch_size=3)
    assert out["first"].tolist() == list(range(10))
