"""What every stage script shares: its params section, atomic JSON output, one-line failures."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from winnow.errors import WinnowError
from winnow.params import load as load_validated


def load_params(path: str | os.PathLike = "params.yaml") -> dict[str, Any]:
    """The whole params file as a dict, validated as a whole (:mod:`winnow.params`) before a stage does
    any work: a bad value in any section stops every stage with one line."""
    return load_validated(path)


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
