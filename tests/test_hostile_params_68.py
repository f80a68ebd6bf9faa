"""Hostile cases of params.yaml and the winnow commands' options (a probe's findings, stop 68): each asserts the
line a user gets."""

import os

import pytest

from winnow.errors import WinnowError
from winnow.params import load


@pytest.mark.hostile("params")
@pytest.mark.parametrize("make, what", [
    # what `docker run -v $PWD/params.yaml:/app/params.yaml` leaves where the host has no such file
    (lambda path: path.mkdir(), "is a folder, not a file"),
    (lambda path: path.symlink_to(path.parent / "moved.yaml"), "is a dangling symlink (to {parent}/moved.yaml, which "
                                                               "does not exist)"),
    (lambda path: os.mkfifo(path), "is not a regular file (a FIFO, socket or device)"),
])
def test_a_params_file_that_is_there_but_no_file_says_what_it_is(tmp_path, make, what):
    # found by probing: each read "params.yaml: params file not found (run from the project root)" to a user who stood
    # in the project root beside it
    path = tmp_path / "params.yaml"
    make(path)
    with pytest.raises(WinnowError) as raised:
        load(path)
    assert str(raised.value) == (f"{path}: the params file {what.format(parent=tmp_path)}; replace it with the "
                                 "project's params file")

