"""Hostile imagefolder cases of the 79th probe (a real user's folder). The ingest stage's ``main`` runs in-process.

- a file the class folder listed that is gone, or replaced by a FIFO, when it is read (a sync client, another
  process changing the data meanwhile): refused in one line, as a class folder gone when listed is; before, a FIFO
  hung ingest for ever with no line, and a file gone was a row "unreadable: [Errno 2] No such file or directory:
  '<path>'", ingest ending with one image fewer;
- a file this user may not read (chmod 000): its row says "Permission denied; fix its permissions", not Python's
  "[Errno 13] Permission denied: '<its path again>'".
"""

import errno
import os
import threading

import numpy as np
import pytest
from PIL import Image

import winnow.image_decode
import winnow.image_files
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_contracts import _stage_module
from test_hostile_ingest import image_folder
from winnow.errors import WinnowError
from winnow.image_files import load_imagefolder


def project_of(tmp_path, data, **ingest):
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(data), size=None, **ingest)
    return make_project(tmp_path / "project", params)


def refused(project, monkeypatch, *, on_a_thread: bool = False) -> str:
    """The one line ingest refuses ``project``'s source with, nothing left behind. ``on_a_thread``: a regression that
    blocks on a FIFO fails here instead of hanging the suite."""
    monkeypatch.chdir(project)
    before = files_under(project)
    raised = []

    def ingest():
        try:
            _stage_module("ingest").main()
        except BaseException as err:  # noqa: BLE001 - asserted on below, whatever it is
            raised.append(err)

    if on_a_thread:
        worker = threading.Thread(target=ingest, daemon=True)
        worker.start()
        worker.join(120)
        assert not worker.is_alive(), "ingest blocked reading a file"
    else:
        ingest()
    assert len(raised) == 1 and isinstance(raised[0], WinnowError), raised
    assert_nothing_left(project, before)
    return str(raised[0])


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize(("name", "change", "why"), [
    ("3.png", lambda path: (path.unlink(), os.mkfifo(path)), "no longer a regular file"),
    ("3.png", lambda path: path.unlink(), "No such file or directory"),
    ("x.jpg", lambda path: (path.unlink(), os.mkfifo(path)), "no longer a regular file"),  # Pillow's path, not plain PNG's
    ("x.jpg", lambda path: path.unlink(), "No such file or directory"),
], ids=["png-fifo", "png-gone", "jpeg-fifo", "jpeg-gone"])
def test_a_file_gone_or_replaced_by_a_fifo_after_its_folder_was_listed_is_refused_not_a_hang(
        tmp_path, monkeypatch, name, change, why):
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(data / "a" / "x.jpg")
    listed = winnow.image_files.scan_folder

    def changed_once_listed(folder):  # the class folder listed, then its file changed by another process
        found = listed(folder)
        if folder.name == "a":
            change(folder / name)
        return found

    monkeypatch.setattr(winnow.image_files, "scan_folder", changed_once_listed)
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch, on_a_thread=why != "No such file or directory") == (
        f"ingest.path: cannot read {data / 'a' / name} ({why}), which its folder lists; nothing was ingested: check "
        "that nothing moves, removes or replaces its files meanwhile, then rerun")


@pytest.mark.hostile("imagefolder")
def test_a_file_this_user_may_not_read_is_a_row_saying_to_fix_its_permissions(tmp_path, monkeypatch):
    # before: "unreadable: [Errno 13] Permission denied: '<its path again>'", with nothing to do. Simulated: the
    # suite may run as root, whom chmod 000 does not stop
    data = image_folder(tmp_path / "data", {"a": 3, "b": 3})
    opened = winnow.image_decode.open_listed

    def denied(path):
        if path.name == "1.png" and path.parent.name == "a":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return opened(path)

    monkeypatch.setattr(winnow.image_decode, "open_listed", denied)
    loaded = load_imagefolder(data, size=None)
    assert loaded.rejected == [(str(data / "a" / "1.png"), "unreadable: Permission denied; fix its permissions")]
    assert sorted(loaded.ids) == ["a/0.png", "a/2.png", "b/0.png", "b/1.png", "b/2.png"]
