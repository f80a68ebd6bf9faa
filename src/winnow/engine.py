"""Where the per-image work runs: in this process (``local``), or as Ray Data tasks (``ray``).

The per-image steps (score's quality scores and pHash, dedup's thumbnails and the pHashes of mirrors
and crops) are functions of one batch of rows: ``fn(batch, **columns)`` gets uint8 ``(B, H, W, C)``
rows ``start:stop`` of the image array and the same rows of each per-image column, and returns
``{name: array with B rows}``. :meth:`Engine.map` runs ``fn`` over consecutive batches of
``batch_size`` rows and puts the results together in row order. Both engines cut the rows at the
same places and run the same function on the same bytes, so their outputs are byte-identical.

With ``ray``, each batch is one row of ``ray.data.range(batches)`` mapped by ``map_batches``; a task
reads its rows from the memory-mapped ``images.npy`` itself (every node must see that path: a shared
file system), or from the object store for an array held in memory. When the engine starts Ray it
ships the driver's copy of :mod:`winnow` to the workers (:func:`runtime_env`), so a cluster never runs
other code than the one DVC hashed; a caller that starts Ray itself passes the same. Ray is optional
(``pip install 'ray[data]'``; ``make setup`` installs it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from winnow.configs import ENGINES
from winnow.errors import WinnowError
from winnow.imageset import whole_file

Batch = Callable[..., dict[str, np.ndarray]]


@dataclass(frozen=True)
class Engine:
    """params.yaml ``compute``: ``engine`` (local | ray), ``ray.address`` (a running cluster, or None
    for a local one of ``ray.num_cpus`` CPUs, started and stopped by :meth:`map`)."""

    kind: str = "local"
    address: str | None = None
    num_cpus: int | None = None

    @classmethod
    def from_params(cls, params: dict) -> Engine:
        """The engine of the (validated) params file's ``compute`` section; local when it is absent."""
        compute = params.get("compute") or {}
        ray = compute.get("ray") or {}
        return cls(compute.get("engine", "local"), ray.get("address"), ray.get("num_cpus"))

    @contextmanager
    def session(self) -> Iterator[None]:
        """Ray started for the block (a local cluster, or the one at ``address``) and stopped after it,
        so that several :meth:`map` calls share one; nothing for ``local`` or when Ray is already up."""
        if self.kind != "ray":
            yield
            return
        ray = _ray()
        if ray.is_initialized():
            yield
            return
        try:
            ray.init(address=self.address, num_cpus=None if self.address else self.num_cpus,
                     include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
        except ConnectionError as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise WinnowError(f"compute.ray.address: no Ray cluster at {self.address!r} ({reason}); start one with "
                              "`ray start --head`, or set compute.ray.address: null for a local one") from err
        try:
            yield
        finally:
            ray.shutdown()

    def map(self, fn: Batch, images: np.ndarray, *, batch_size: int, threads: bool = False,
            **columns: np.ndarray) -> dict[str, np.ndarray]:
        """``fn`` over rows ``[i * batch_size, (i + 1) * batch_size)`` of ``images``, results in row order.

        Args:
            fn: a module-level function (or a ``functools.partial`` of one): ``fn(batch, **columns) ->
                {name: array}``, each array's first axis ``len(batch)``.
            images: uint8 ``(N, H, W, C)``, memory-mapped or in memory.
            threads: locally, run the batches on as many threads as cores (for an ``fn`` whose numpy
                arithmetic releases the GIL); each batch is computed alone, so the result is the same.
            columns: per-image arrays ``(N, ...)`` sliced with the rows.

        Returns:
            ``{name: array (N, ...)}``, each the batches' arrays concatenated.
        """
        if self.kind not in ENGINES:
            raise WinnowError(f"compute.engine: {self.kind!r} is not one of {', '.join(ENGINES)}")
        if self.kind == "ray" and len(images):
            with self.session():
                return self._ray_map(fn, images, batch_size=batch_size, columns=columns)
        if not len(images):  # the names and dtypes of the result from one blank image, none of its rows
            blank = fn(np.zeros((1, *images.shape[1:]), images.dtype),
                       **{name: np.ones((1, *column.shape[1:]), column.dtype) for name, column in columns.items()})
            return {name: value[:0] for name, value in blank.items()}
        def one(start: int) -> dict[str, np.ndarray]:
            return fn(np.asarray(images[start:start + batch_size]),
                      **{name: column[start:start + batch_size] for name, column in columns.items()})

        starts = range(0, len(images), batch_size)
        workers = min(len(starts), os.cpu_count() or 1) if threads else 1
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:  # only the batches being worked on are read
                parts = list(pool.map(one, starts))
        else:
            parts = [one(start) for start in starts]
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _ray_map(self, fn: Batch, images: np.ndarray, *, batch_size: int,
                 columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import ray.data

        path = whole_file(images)
        source = str(path) if path is not None else _ray().put(np.asarray(images))
        task = _RowsTask(fn, source, batch_size, len(images), columns)
        batches = -(-len(images) // batch_size)
        rows = ray.data.range(batches).map_batches(task, batch_size=1)
        blocks = list(rows.iter_batches(batch_size=None, batch_format="numpy"))
        merged = {name: np.concatenate([block[name] for block in blocks]) for name in blocks[0]}
        order = np.argsort(merged.pop("_row"))  # blocks may come back in any order
        return {name: value[order] for name, value in merged.items()}


def runtime_env() -> dict:
    """Ray's runtime environment for a job that runs winnow's tasks: this process's :mod:`winnow`
    package, uploaded to every worker, so that no node imports another copy (a stale install)."""
    return {"py_modules": [str(Path(__file__).resolve().parent)]}


def _ray():
    """The ray module, or a one-line error naming the parameter when it is not installed (optional)."""
    try:
        import ray
    except ImportError as err:
        raise WinnowError("compute.engine: ray asked for but Ray is not installed: pip install 'ray[data]' "
                          "(make setup installs it), or set compute.engine: local") from err
    return ray


@dataclass(frozen=True)
class _RowsTask:
    """One Ray task: batch number ``b`` -> ``fn`` of rows ``b * batch_size ...``, tagged with their rows."""

    fn: Batch
    source: object  # the .npy path every node can read, or an object reference to the array
    batch_size: int
    n: int
    columns: dict[str, np.ndarray]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        number = int(batch["id"][0])
        images = np.load(self.source, mmap_mode="r") if isinstance(self.source, str) else _ray().get(self.source)
        rows = slice(number * self.batch_size, min((number + 1) * self.batch_size, self.n))
        out = self.fn(np.asarray(images[rows]), **{name: column[rows] for name, column in self.columns.items()})
        return {**out, "_row": np.arange(rows.start, rows.stop, dtype=np.int64)}
