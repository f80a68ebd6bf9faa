"""Stand-ins for the outputs of a stage that has nothing to do in its configuration: DVC wants every declared
output to exist, so a skipped stage writes a note saying why in each, and a later real run replaces them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from winnow.outputs import atomic_folder
from winnow.stage import write_text

SKIPPED_PREFIX = "skipped: "
SKIPPED_NOTE = "skipped.txt"


def write_skipped(reason: str, *, folders: Iterable[str | os.PathLike] = (),
                  files: Iterable[str | os.PathLike] = ()) -> None:
    """Stand-ins for the outputs of a stage that has nothing to do in this configuration (DVC wants every
    declared output to exist): each folder becomes a folder holding only ``skipped.txt``, each file a
    text file; both say ``skipped: <reason>``. A metrics JSON says it with ``{"skipped": reason}``."""
    text = f"{SKIPPED_PREFIX}{reason}\n"
    for folder in folders:
        with atomic_folder(folder) as tmp:
            (tmp / SKIPPED_NOTE).write_text(text, encoding="utf-8")
    for path in files:
        write_text(path, text)


def clear_skipped(*, folders: Iterable[str | os.PathLike] = (), files: Iterable[str | os.PathLike] = ()) -> None:
    """Remove the stand-ins :func:`write_skipped` left, so a real run starts from nothing (DVC removes
    outputs before a stage runs; a script run by hand does not)."""
    for folder in map(Path, folders):
        if (folder / SKIPPED_NOTE).is_file():
            shutil.rmtree(folder)
    for path in map(Path, files):
        if is_stand_in(path):
            path.unlink()


@contextmanager
def replacing_skipped(*, folders: Iterable[str | os.PathLike] = ()) -> Iterator[None]:
    """:func:`clear_skipped` of ``folders`` around the block that writes a stage's real outputs (its
    :func:`together`): should the block fail, each stand-in is written back as it was. before: a refusal there (Great
    Expectations' context failing at the contract's check, params.yaml edited meanwhile, Ctrl-C) left the stand-ins
    gone beside the skipped run's metrics saying skipped."""
    notes = {folder: (folder / SKIPPED_NOTE).read_bytes() for folder in map(Path, folders)
             if (folder / SKIPPED_NOTE).is_file()}
    clear_skipped(folders=notes)
    try:
        yield
    except BaseException:
        for folder, note in notes.items():  # together() removed what the block wrote; a writer's mkdir may stay
            folder.mkdir(parents=True, exist_ok=True)
            (folder / SKIPPED_NOTE).write_bytes(note)
        raise


def is_stand_in(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file :func:`write_skipped` wrote in place of a skipped stage's output."""
    if not Path(path).is_file():
        return False
    with open(path, "rb") as f:  # the first bytes only: a real output (a GAN checkpoint) can be large
        return f.read(len(SKIPPED_PREFIX)) == SKIPPED_PREFIX.encode()
