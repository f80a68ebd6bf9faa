"""What :class:`winnow.engine.Engine` runs on Ray: the tasks and the embedding actors, where they read their rows
(the memory-mapped file itself, checked unchanged, or the object store), and how a Ray failure reaches the stage
as the local engine's would (the batch function's own error, or one line for a worker that kept dying).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info

from winnow.errors import WinnowError, out_of_memory
from winnow.file_rows import FileRows

if TYPE_CHECKING:
    from winnow.engine import Batch, Encoder


def import_ray():
    """The ray module, or a one-line error naming the parameter when it is not installed (optional).

    Imported here first, Ray leaves out its C failure handler in this process: installed as ray.init connects, it
    dumped a stack on a SIGTERM that came before the stage's handler was back, then aborted the stage after its
    line (SIGABRT); :mod:`winnow.watched` speaks for the crashes it would report. Ray reads the switch at import,
    so the processes of a cluster started from here keep theirs."""
    switch = "RAY_DISABLE_FAILURE_SIGNAL_HANDLER"
    importing = "ray" not in sys.modules
    first = importing and switch not in os.environ
    # Ray's import sets RAY_CLIENT_MODE=0 (read just before; absent reads as 0): before, left for every process the
    # caller started after (a notebook, a test runner)
    client_mode = "RAY_CLIENT_MODE" in os.environ
    if first:
        os.environ[switch] = "1"
    from winnow.stops import import_optional

    try:
        ray = import_optional("ray", refusal=lambda err: WinnowError(
            "compute.engine: ray asked for but Ray is not installed: pip install 'ray[data]' (make setup installs "
            "it), or set compute.engine: local"))
    finally:
        if first:
            del os.environ[switch]
        if importing and not client_mode and os.environ.get("RAY_CLIENT_MODE") == "0":
            del os.environ["RAY_CLIENT_MODE"]
    return ray


# the packages whose arithmetic the batch functions (and, with torch, the encoders) run: a node of another environment
# rounds or resamples otherwise (Pillow 13 resizes tall images vertical pass first, which the pHash follows), so its
# batches would not be the local engine's, and switching the engine reruns no stage
TASK_PACKAGES = ("numpy", "scipy", "pillow")
ENCODER_PACKAGES = (*TASK_PACKAGES, "torch")


@lru_cache(maxsize=None)
def package_versions(names: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """``((name, version), ...)`` of the distributions ``names`` in this process's environment: the release without
    its local part (torch's ``+cpu`` or ``+cu126``: a GPU node's build; README: byte-identical on the same kind of
    device), None for one not installed."""
    found = []
    for name in names:
        try:
            found.append((name, metadata.version(name).split("+")[0]))
        except metadata.PackageNotFoundError:
            found.append((name, None))
    return tuple(found)


def check_packages(driver: tuple[tuple[str, str | None], ...]) -> None:
    """In a Ray worker: a one-line WinnowError unless it runs the driver's versions ``driver`` (:func:`package_versions`
    taken where the stage runs). Before, a node started from another environment (``ray start`` under another
    Pillow) hashed and scored its batches its own way without a word."""
    here = dict(package_versions(tuple(name for name, _ in driver)))
    for name, version in driver:
        if here[name] != version:
            raise WinnowError(f"compute.engine: ray: node {socket.gethostname()} runs {name} "
                              f"{here[name] or '(not installed)'} where the stage runs {version or '(not installed)'}, "
                              "so its batches would differ from the local engine's: install the stage's versions on "
                              "every node (pip install -r requirements.lock) and restart Ray there, or set "
                              "compute.engine: local")


@lru_cache(maxsize=None)
def blas_rounding() -> tuple[str, str]:
    """(a digest of float32 and float64 matrix products of fixed numbers run by numpy on one BLAS thread, what
    threadpoolctl says the BLAS is): where the batch functions' products (thumbnails, sharpness, the pHash's DCT) round
    otherwise than the driver's. The same numpy release rounds otherwise under another BLAS library, or under OpenBLAS's
    kernels for another kind of CPU, which it picks at start: on one machine, with OPENBLAS_CORETYPE Haswell beside its
    own SkylakeX, score's table and dedup's thumbnails differed in the last bits."""
    rng = np.random.default_rng(0)
    digest = hashlib.blake2b(digest_size=8)
    with one_blas_thread():
        for dtype in (np.float32, np.float64):
            for m, k, n in ((1, 3, 1), (4, 7, 3), (16, 20, 9), (37, 64, 16), (64, 300, 32), (256, 40, 8), (8, 1024, 8)):
                a, b = (rng.standard_normal(shape).astype(dtype) for shape in ((m, k), (k, n)))
                digest.update((a @ b).tobytes() + (a @ b[:, 0].copy()).tobytes())
    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    # numpy's own BLAS (a wheel's numpy.libs, or numpy/.dylibs), not scipy's or faiss's loaded beside it, which once
    # named the libraries a test had imported before; a numpy linked to a system BLAS is named with all of them
    # both sides resolved: a venv reached through a link names numpy by the link, threadpoolctl the library by its file
    numpy_dir = os.path.realpath(os.path.dirname(np.__file__))
    own = [lib for lib in blas
           if os.path.realpath(str(lib.get("filepath", ""))).startswith((numpy_dir + os.sep, numpy_dir + ".libs"))]
    found = [f"{lib.get('internal_api')} {lib.get('version')}" + (f" ({lib['architecture']} kernels)"
                                                                   if lib.get("architecture") else "")
             for lib in own or blas]
    return digest.hexdigest(), ", ".join(found) or "an unnamed BLAS"


def check_blas(driver: tuple[str, str]) -> None:
    """In a Ray worker: a one-line WinnowError unless numpy's matrix products round here as on the driver (``driver``:
    :func:`blas_rounding` taken where the stage runs). Before, a node of another kind of CPU (or numpy built on another
    BLAS), its package versions the stage's, returned batches whose scores and thumbnails differed from the local
    engine's in the last bits, without a word."""
    here = blas_rounding()
    if here[0] != driver[0]:
        raise WinnowError(f"compute.engine: ray: node {socket.gethostname()} rounds numpy's matrix products otherwise "
                          f"than the machine the stage runs on ({here[1]} there, {driver[1]} on the stage's machine: "
                          "another BLAS, or OpenBLAS's kernels for another kind of CPU), so its batches would differ "
                          "from the local engine's in the last bits: run the cluster on machines of the stage's kind "
                          "of CPU, set OPENBLAS_CORETYPE to one core type that all of them run (for the stage, and for "
                          "`ray start` on every node), or set compute.engine: local")


@dataclass(frozen=True)
class RowsTask:
    """One Ray task: batch number ``b`` -> ``fn`` of rows ``b * batch_size ...``, tagged with their rows."""

    fn: Batch
    source: object  # the file every node can read (FileRows), or an object reference to the array
    batch_size: int
    n: int
    columns: dict[str, np.ndarray]
    # made where the task is made, by the stage: the versions every worker must run (check_packages)
    packages: tuple[tuple[str, str | None], ...] = field(default_factory=lambda: package_versions(TASK_PACKAGES))
    blas: tuple[str, str] = field(default_factory=blas_rounding)  # the driver's, as packages

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with _carried(), one_blas_thread():
            check_packages(self.packages)
            check_blas(self.blas)
            images, rows = _batch_rows(self.source, int(batch["id"][0]), self.batch_size, self.n)
            out = self.fn(images, **{name: column[rows] for name, column in self.columns.items()})
        return {**out, "_row": rows}


def one_blas_thread():
    """A block in which numpy's matrix products run on one BLAS thread, in every process that runs a batch
    function. OpenBLAS rounds a float32 product differently at other thread counts: before, score's blurry and
    dedup's thumbnails of resampled images differed in the last bit between a 2-core run, a 1-core one and Ray
    (whose workers run one thread), which the byte-identical outputs promised by the engine rule out.

    The BLAS libraries are looked up once, and again only after modules were imported since (a BLAS comes with an
    extension module): threadpoolctl's lookup walks every library the process has loaded, 0.5-1 ms a block and 15 ms
    or more the first time, which score and pHash paid at each pass (#20); the block itself costs 0.01 ms."""
    if _BLAS[0] != len(sys.modules):
        _BLAS[:] = [len(sys.modules), ThreadpoolController().select(user_api="blas")]
    return _BLAS[1].limit(limits=1)


_BLAS: list = [-1, None]  # one_blas_thread's (len(sys.modules) at the lookup, the BLAS libraries' controller)


class _BatchFailed(Exception):
    """Carries a task's WinnowError, OSError or MemoryError (or torch's out of memory) to the driver as it was raised
    (``error``): Ray Data appends its retry advice to an exception's first argument, or after an OSError's filename."""

    def __init__(self, error: BaseException, *notes: object) -> None:
        super().__init__(error, *notes)
        self.error = error


@contextmanager
def _carried() -> Iterator[None]:
    """In a Ray task: the errors a stage reports in one line, wrapped in :class:`_BatchFailed`: torch's out of memory
    too (a RuntimeError: an embedding actor's GPU's, before a Ray traceback where the local engine said "out of the
    GPU's memory")."""
    try:
        yield
    except (WinnowError, OSError, MemoryError) as err:
        raise _BatchFailed(err) from None
    except RuntimeError as err:
        if not out_of_memory(err):  # a bug: as Ray raises it
            raise
        raise _BatchFailed(err) from None


class EmbedActor:
    """One actor of :meth:`Engine.embed`'s pool: builds the encoder once, with the shipped weights (the
    state dict's own tensors and dtypes, ``assign``), on its GPU when it has one and the encoder's device is
    not ``cpu``, in eval mode; each call embeds batch number ``b``, tagged with its rows, once it has checked that its
    node runs the driver's ``packages`` (:func:`package_versions` of :data:`ENCODER_PACKAGES`, taken by the driver)."""

    def __init__(self, *, encoder: Encoder, weights: list, source: object, batch_size: int, n: int,
                 packages: tuple[tuple[str, str | None], ...]) -> None:
        import torch

        model = encoder.build()
        model.load_state_dict(import_ray().get(weights[0]), assign=True)  # a list: Ray leaves the reference as it is
        # before: a GPU whenever the actor saw one, also for device: cpu, whose features then differed from local's
        gpu = encoder.device != "cpu" and torch.cuda.is_available()
        self.model = model.to("cuda" if gpu else "cpu").eval()
        self.embed, self.source, self.batch_size, self.n = encoder.embed, source, batch_size, n
        self.packages = packages

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with _carried():
            check_packages(self.packages)
            images, rows = _batch_rows(self.source, int(batch["id"][0]), self.batch_size, self.n)
            return {"features": self.embed(self.model, images, batch_size=self.batch_size), "_row": rows}


def rows_source(images: np.ndarray) -> object:
    """Where Ray tasks read ``images`` from: the file every node can read when the array maps one read-only
    (:class:`FileRows`: the whole ``.npy`` or any view of it: a slice, an added axis), else an object
    reference to the array (in memory, or a map the file may not hold, copy-on-write or writable)."""
    found = FileRows.of(images)
    return found if found is not None else import_ray().put(np.asarray(images))


def _batch_rows(source: object, number: int, batch_size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 rows of batch ``number`` read from ``source`` (:func:`rows_source`), their int64 row numbers)."""
    images = source.read() if isinstance(source, FileRows) else import_ray().get(source)
    rows = slice(number * batch_size, min((number + 1) * batch_size, n))
    return np.asarray(images[rows]), np.arange(rows.start, rows.stop, dtype=np.int64)


RETRIES = 3  # a task whose worker died is run again this often; Ray Data's default, for ever, hung on a batch that kills


@contextmanager
def ray_failures() -> Iterator[None]:
    """A Ray run's failure as the local engine's: the batch function's own WinnowError, OSError or MemoryError (torch's
    out of memory too: :class:`_BatchFailed`; one line in a stage), Ray killing a worker for memory as a MemoryError,
    and a worker or node that died :data:`RETRIES` times more as one line; anything else (a bug) as Ray raised it. Ray
    Data's console lines meanwhile are only its warnings (:func:`_quiet`), and its deprecation of the ``max_retries``
    it has no other way to take is not shown."""
    ray = import_ray()
    import ray.data

    context = ray.data.DataContext.get_current()
    raising = context.raise_original_map_exception
    context.raise_original_map_exception = True  # the batch function's own exception, not Ray Data's wrapper
    consoles = [handler for handler in logging.getLogger("ray.data").handlers
                if isinstance(handler, logging.StreamHandler)]
    for handler in consoles:
        handler.addFilter(_quiet)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*`ray_remote_args` is deprecated")
            yield
    except ray.exceptions.RayError as err:
        seen, chain = set(), [err]
        while chain:
            cause = chain.pop(0)
            if cause is None or id(cause) in seen:
                continue
            seen.add(id(cause))
            if isinstance(cause, _BatchFailed):
                raise cause.error from None
            if isinstance(cause, ray.exceptions.OutOfMemoryError):
                raise MemoryError(str(cause).splitlines()[0] if str(cause) else "Ray's memory monitor") from None
            if isinstance(cause, ray.exceptions.LocalRayletDiedError):  # before: its traceback, which no retry follows
                raise WinnowError("compute.engine: ray: the raylet of this machine's Ray node died while it ran the "
                                  "batches (LocalRayletDiedError: the out-of-memory killer, or kill -9?); its log is "
                                  f"under {ray_logs()}; rerun, or set compute.engine: local") from None
            if isinstance(cause, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                                  ray.exceptions.ActorDiedError, ray.exceptions.ObjectLostError)):
                raise WinnowError(f"compute.engine: ray: a Ray worker died running a batch, {RETRIES + 1} times "
                                  f"({type(cause).__name__}); its log is under {ray_logs()}; "
                                  "or set compute.engine: local") from None
            chain += [getattr(cause, "cause", None), cause.__cause__, cause.__context__]
        raise
    finally:
        context.raise_original_map_exception = raising
        for handler in consoles:
            handler.removeFilter(_quiet)


def other_versions(err: BaseException, address: str | None) -> WinnowError | None:
    """One line for ray.init's refusal to join a cluster started under another Ray or Python release (one left running
    from before an upgrade of this environment), else None. Before: its first line alone, as no cluster at all, "no Ray
    cluster at 'auto' (Version mismatch: The cluster was started with:); start one with `ray start --head`", the
    versions cut off and a fix that fails while the old cluster runs."""
    text = str(err)
    if not (isinstance(err, RuntimeError) and text.startswith("Version mismatch")):
        return None
    found = re.findall(r"Ray: (\S+)\s+Python: (\S+)", text)
    said = (f"runs Ray {found[0][0]} on Python {found[0][1]}, this stage Ray {found[1][0]} on Python {found[1][1]}"
            if len(found) == 2 else f"runs other versions than this stage ({' '.join(text.split())})")
    return WinnowError(f"compute.ray.address: the Ray cluster at {address!r} {said}, and Ray joins only a cluster of "
                       "its own versions: restart it from this environment (ray stop, then ray start --head), or set "
                       "compute.ray.address: null for a local one")


def ray_logs() -> str:
    """The folder of the logs of the Ray session this process joined (``ray start --temp-dir`` moves it), or, with
    none joined, where Ray keeps the latest session's: under RAY_TMPDIR, else TMPDIR, else /tmp (before: always
    /tmp/ray/session_latest/logs, which a session under another temp dir never wrote)."""
    import ray

    node = getattr(ray._private.worker, "_global_node", None)
    if node is not None:
        return node.get_logs_dir_path()
    from ray._common.utils import get_default_ray_temp_dir

    return os.path.join(get_default_ray_temp_dir(), "session_latest", "logs")


def _quiet(record: logging.LogRecord) -> bool:
    """Ray Data's console lines kept during a run: its warnings. Its progress reports (a dozen INFO lines per
    dataset, every few seconds) and its errors, tracebacks and "please open an issue" before it raises what
    :func:`ray_failures` reports go to its log file only (:func:`ray_logs`, ray-data)."""
    return record.levelno == logging.WARNING


def in_row_order(dataset, *, n: int, allocate: Callable[[tuple[int, ...], np.dtype], np.ndarray] = np.empty,
                 release: Callable[[np.ndarray, int, int], None] = lambda array, start, stop: None,
                 ) -> dict[str, np.ndarray]:
    """The outputs of a Ray dataset of tagged batches (each a run of rows, ``_row``) for ``n`` rows, in row order.

    Each block goes straight to its rows of the whole result, made by ``allocate(shape, dtype)`` at the first block
    (:func:`winnow.mapped_rows.spill_array`: on disk), and ``release(array, start, stop)`` lets those rows go from this
    process, as the local engine does. Before, every block was collected, concatenated and reordered: the result
    three times over in memory (1.9 GB of RSS for dedup's 400 MB of thumbnails, where the local engine spilled them
    to disk). A row that comes back twice or never is one line, not a result with a row of uninitialised memory."""
    result: dict[str, np.ndarray] = {}
    seen = np.zeros(n, bool)
    for block in dataset.iter_batches(batch_size=None, batch_format="numpy"):  # in any order
        rows = block.pop("_row")
        if seen[rows].any():
            raise WinnowError(f"compute.engine: ray: row {int(rows[seen[rows]][0])} came back from two tasks; rerun, "
                              "or set compute.engine: local")
        seen[rows] = True
        for name, value in block.items():
            if name not in result:
                result[name] = allocate((n, *value.shape[1:]), value.dtype)
            result[name][rows] = value
            release(result[name], int(rows.min()), int(rows.max()) + 1)
    if not seen.all():
        raise WinnowError(f"compute.engine: ray: {int((~seen).sum())} row(s) came back from no task, first row "
                          f"{int(np.flatnonzero(~seen)[0])}; rerun, or set compute.engine: local")
    return result
