"""What every stage script shares: its params section, atomic JSON output, one-line failures."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from winnow.errors import WinnowError


def load_params(path: str | os.PathLike = "params.yaml") -> dict[str, Any]:
    """The whole params file as a dict."""
    path = Path(path)
    if not path.is_file():
        raise WinnowError(f"{path}: params file not found (run from the project root)")
    return yaml.safe_load(path.read_text()) or {}


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (temporary name, then rename)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_to_builtin) + "\n")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``path`` (same suffix, so writers that go by it still do) to write to; it is
    renamed to ``path`` when the block ends without error and removed otherwise, so a reader or DVC never
    sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_table(path: str | os.PathLike, frame) -> None:
    """Write a DataFrame atomically as parquet or CSV, chosen by the suffix."""
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


SKIPPED_PREFIX = "skipped: "
SKIPPED_NOTE = "skipped.txt"


def write_skipped(reason: str, *, folders: Iterable[str | os.PathLike] = (),
                  files: Iterable[str | os.PathLike] = ()) -> None:
    """Stand-ins for the outputs of a stage that has nothing to do in this configuration (DVC wants every
    declared output to exist): each folder becomes a folder holding only ``skipped.txt``, each file a
    text file; both say ``skipped: <reason>``. A metrics JSON says it with ``{"skipped": reason}``."""
    text = f"{SKIPPED_PREFIX}{reason}\n"
    for folder in map(Path, folders):
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp, old = (folder.with_name(f".{folder.name}.tmp-{tag}{os.getpid()}") for tag in ("", "old-"))
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        (tmp / SKIPPED_NOTE).write_text(text, encoding="utf-8")
        if folder.exists():
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old)
        else:
            tmp.rename(folder)
    for path in files:
        write_text(path, text)


def clear_skipped(*, folders: Iterable[str | os.PathLike] = (), files: Iterable[str | os.PathLike] = ()) -> None:
    """Remove the stand-ins :func:`write_skipped` left, so a real run starts from nothing (DVC removes
    outputs before a stage runs; a script run by hand does not)."""
    for folder in map(Path, folders):
        if (folder / SKIPPED_NOTE).is_file():
            shutil.rmtree(folder)
    for path in map(Path, files):
        if path.is_file() and path.read_bytes().startswith(SKIPPED_PREFIX.encode()):
            path.unlink()


def _to_builtin(value: Any) -> Any:
    # numpy scalars and arrays leak into metrics; JSON wants plain numbers and lists
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run(main: Callable[[], None]) -> None:
    """Run a stage's main; a WinnowError becomes one line on stderr and exit status 1."""
    try:
        main()
    except WinnowError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
