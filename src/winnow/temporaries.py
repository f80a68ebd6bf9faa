"""The clean-up of the temporaries that writers killed before their rename left behind (:func:`sweep_temporaries`,
run first by every stage, :func:`winnow.stage.run`): those of a process gone are removed, those of a running
one left alone."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from winnow.file_ops import remove, running


# atomic_path, together, the imageset writer, the Data Docs builder and the review export's thumbnails name their
# temporaries .<name>.winnow-tmp-<pid>[.suffix] (and .<name>.winnow-old-<pid>[.suffix] for what they replace);
# "winnow-" so a user's own dot-file (.notes.old-2024.txt) is never taken for one
OUTPUT_ROOTS = ("data", "models", "metrics", "plots", "reports", "reviews")
_TEMPORARY = re.compile(r"^\..+\.winnow-(?:tmp|old|scratch)-(\d+)(?:\..*)?$")


def sweep_temporaries(roots: Iterable[str | os.PathLike] = OUTPUT_ROOTS, *,
                      beside: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Remove the temporaries that writers killed before their rename (kill -9, a power cut) left under
    ``roots``, and in the folder of each path of ``beside`` (and in the path, when a folder), not below it: a
    command writes where its options say (``winnow compare --out /tmp/seeds.md``), and before, one killed there left
    its ``.seeds.winnow-tmp-<pid>.md`` for good. Those of a process still running are left alone. Returns what was
    removed."""
    removed: list[Path] = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            going = _sweep(Path(folder), [*dirs, *files], removed)
            dirs[:] = [name for name in dirs if name not in going]  # not walked into: they are going
    for path in map(Path, beside):
        for folder in {path.parent, *([path] if path.is_dir() else [])}:
            try:
                _sweep(folder, os.listdir(folder), removed)
            except OSError:
                continue
    return removed


def _sweep(folder: Path, names: list[str], removed: list[Path]) -> set[str]:
    """Remove each of ``names`` (entries of ``folder``) that is a temporary of a process gone, adding it to
    ``removed``; returns the names of all such, removed or not."""
    going = {name for name in names if (match := _TEMPORARY.match(name)) and not running(int(match.group(1)))}
    for name in (name for name in names if name in going):
        try:
            remove(folder / name)
        except OSError:
            continue  # not ours to remove (permissions): leave it rather than stop the stage
        removed.append(folder / name)
    return going
