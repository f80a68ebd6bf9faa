"""Where the per-image work runs: in this process (``local``), or as Ray Data tasks (``ray``).

The per-image steps (score's quality scores and pHash, dedup's thumbnails and the pHashes of mirrors
and crops) are functions of one batch of rows: ``fn(batch, **columns)`` gets uint8 ``(B, H, W, C)``
rows ``start:stop`` of the image array and the same rows of each per-image column, and returns
``{name: array with B rows}``. :meth:`Engine.map` runs ``fn`` over consecutive batches of
``batch_size`` rows and puts the results together in row order. Both engines cut the rows at the
same places and run the same function on the same bytes with one BLAS thread (:func:`one_blas_thread`),
so their outputs are byte-identical.

With ``ray``, each batch is one row of ``ray.data.range(batches)`` mapped by ``map_batches``; a task
reads its rows from the memory-mapped ``images.npy`` itself (every node must see that path: a shared
file system), or from the object store for an array held in memory. When the engine starts Ray it
ships the driver's copy of :mod:`winnow` to the workers (:func:`runtime_env`), so a cluster never runs
other code than the one DVC hashed; a caller that starts Ray itself passes the same. Ray is optional
(``pip install 'ray[data]'``; ``make setup`` installs it).

Embeddings (:meth:`Engine.embed`) run a trained :class:`Encoder` over the same batches: locally its own
function over the whole array, on Ray in a pool of actors that each build the model once, load its state
dict from the object store (its dtypes kept), and embed one batch per call with the same function, in
eval mode: a GPU per actor when the cluster has GPUs and the model's device is not ``cpu``, else one CPU
each (running the thread count the encoder carries, the driver's, so a CPU gives the same bits as locally).
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from winnow.configs import ENGINES
from winnow.cores import usable_cores
from winnow.errors import WinnowError
from winnow.file_rows import checked_unchanged, unchanged_in_place
from winnow.mapped_rows import release_rows
from winnow.ray_address import _check_addresses, _no_cluster, auth_as_set_now
from winnow.ray_tasks import (
    ENCODER_PACKAGES, RETRIES, EmbedActor, RowsTask, import_ray, in_row_order, one_blas_thread, other_versions,
    package_versions, ray_failures, rows_source,
)

Batch = Callable[..., dict[str, np.ndarray]]


@dataclass(frozen=True)
class Encoder:
    """A trained model that embeds images, in the form Ray actors rebuild it from.

    Attributes:
        model: the torch module ``embed`` runs locally (its weights, on its device).
        build: a fresh module of the same architecture on the CPU, ``build()``: a module-level function
            or a ``functools.partial`` of one (it travels to the actors by pickle).
        embed: ``embed(model, images, *, batch_size) -> float32 (B, D)`` for uint8 ``(B, H, W, C)``
            images, in batches of ``batch_size``: the local embedding function itself (a module-level
            function or partial), with the thread count and normalisation it needs bound in.
        device: the model's config's device (auto | cpu | cuda...); ``cpu`` keeps Ray's actors off the
            cluster's GPUs, as it keeps the local model off this machine's.
    """

    model: Any
    build: Callable[[], Any]
    embed: Callable[..., np.ndarray]
    device: str = "auto"


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
        ray = import_ray()
        if ray.is_initialized():
            yield
            return
        _check_addresses(self.address)
        local = self.address in (None, "local")
        if local:
            _warn_oversubscribed(self.num_cpus)
        handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        as_before, by_ray = _process_as_it_is()
        try:
            try:
                # null means a cluster started here: "local", which Ray never reads as RAY_ADDRESS (None it does, and
                # joined whatever that named); such a cluster takes num_cpus, a cluster joined has its own
                with by_ray():
                    auth_as_set_now()
                    ray.init(address="local" if local else self.address, num_cpus=self.num_cpus if local else None,
                             include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
            except Exception as err:  # ray:// without ray[client] is a ValueError; a node that cannot start, a bare one
                raise self._refusal(err, local=local) from err
            except SystemExit as stop:
                # ray.init first sets a SIGTERM handler of its own, sys.exit(15): a SIGTERM while it connected ended
                # the stage with status 15 and no line. The handler that was in place gets that SIGTERM instead.
                handler = handlers[signal.SIGTERM]
                if stop.code != signal.SIGTERM or not callable(handler):
                    raise
                with by_ray():
                    ray.shutdown()
                signal.signal(signal.SIGTERM, handler)
                handler(signal.SIGTERM, None)
                raise
            if threading.current_thread() is threading.main_thread():
                # Ray puts its own C handler (a stack dump, exit status 15) in place of a Python one, such as the one a
                # stage sets to end in one line and remove its temporaries (winnow.stage.run); the Python one goes back
                for number, handler in handlers.items():
                    if callable(handler):
                        signal.signal(number, handler)
            try:
                yield
            finally:
                with by_ray():
                    ray.shutdown()
        finally:
            # ray.shutdown leaves Ray's handlers: an in-process caller (a test runner, a notebook) whose SIGTERM was at
            # its default kept Ray's sys.exit(15), and a stage run after it left that "launcher's" handler alone; SIGINT
            # and SIGHUP it can leave ignored, which every process the caller starts then inherits. A ray.init that
            # failed left its sys.exit(15) too, and every start Ray's variables and fault handler (_process_as_it_is)
            as_before()

    def _refusal(self, err: Exception, *, local: bool) -> WinnowError:
        """The one line for a ray.init that failed with ``err``."""
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        if local:  # where Ray made its session (before: "/tmp", where RAY_TMPDIR or TMPDIR named another)
            from ray._common.utils import get_default_system_temp_dir as temp

            if (long := re.search(r"AF_UNIX path length cannot exceed (\d+) bytes", reason)) is not None:
                # before: told to free memory or space, or lower num_cpus, none of which shortens a path (a TMPDIR of
                # some 45 characters or more: a CI runner's, a pytest tmp_path)
                return WinnowError(f"compute.ray: the local Ray cluster did not start: the path of Ray's temporary "
                                   f"folder {temp()} (RAY_TMPDIR, else TMPDIR, else /tmp) is too long for the Unix "
                                   f"sockets Ray makes under it (at most {long.group(1)} bytes each); point RAY_TMPDIR "
                                   "at a folder of a shorter path (such as /tmp), or set compute.engine: local")
            return WinnowError(f"compute.ray: the local Ray cluster did not start ({reason}); free memory or space "
                               f"under {temp()} (Ray's temporary folder: RAY_TMPDIR, else TMPDIR, else /tmp) or "
                               "point RAY_TMPDIR at a writable folder with room, lower compute.ray.num_cpus, or set "
                               "compute.engine: local")
        if (refused := other_versions(err, self.address)) is not None:  # a cluster of other Ray or Python
            return refused
        if (isinstance(err, ConnectionError) and self.address != "auto"
                and os.environ.get("RAY_AUTH_MODE", "").lower() != "token"):
            # before: "no Ray cluster at ...; start one with `ray start --head`", after the cluster that command
            # started (token authentication on where the machine held ~/.ray/auth_token, which every local cluster
            # writes) refused a process that sent no token: Ray sends one to a cluster it finds (auto), never to an
            # address given, unless RAY_AUTH_MODE says token
            return WinnowError(
                f"compute.ray.address: the Ray cluster at {self.address!r} answers but did not let this process "
                f"join ({reason}); one that `ray start` started on a machine holding a Ray token "
                "(~/.ray/auth_token, which every local Ray cluster writes) asks for it (Ray's token "
                "authentication), which Ray sends to an address given only under RAY_AUTH_MODE=token: set that "
                "(the token from RAY_AUTH_TOKEN or ~/.ray/auth_token), or compute.ray.address: auto on a machine "
                "of the cluster")
        return _no_cluster(self.address, reason)

    def map(self, fn: Batch, images: np.ndarray, *, batch_size: int, threads: bool = False,
            allocate: Callable[[tuple[int, ...], np.dtype], np.ndarray] = np.empty,
            **columns: np.ndarray) -> dict[str, np.ndarray]:
        """``fn`` over rows ``[i * batch_size, (i + 1) * batch_size)`` of ``images``, results in row order.

        Args:
            fn: a module-level function (or a ``functools.partial`` of one): ``fn(batch, **columns) ->
                {name: array}``, each array's first axis ``len(batch)``.
            images: uint8 ``(N, H, W, C)``, memory-mapped or in memory.
            threads: locally, run the batches on as many threads as cores (for an ``fn`` whose numpy
                arithmetic releases the GIL); each batch is computed alone, so the result is the same.
            allocate: ``allocate(shape, dtype)`` makes each whole result (:func:`spill_array`: on disk); a
                memory map's rows leave this process's resident set as they are written (on Ray too).
            columns: per-image arrays ``(N, ...)`` sliced with the rows.

        Returns:
            ``{name: array (N, ...)}``, each the batches' arrays concatenated.
        """
        self._check()
        if self.kind == "ray" and len(images):
            with self.session():
                return self._ray_map(fn, images, batch_size=batch_size, allocate=allocate, columns=columns)
        if not len(images):  # the names and dtypes of the result from one blank image, none of its rows
            blank = fn(np.zeros((1, *images.shape[1:]), images.dtype),
                       **{name: np.ones((1, *column.shape[1:]), column.dtype) for name, column in columns.items()})
            return {name: value[:0] for name, value in blank.items()}
        def one(start: int) -> dict[str, np.ndarray]:
            out = fn(np.asarray(images[start:start + batch_size]),
                     **{name: column[start:start + batch_size] for name, column in columns.items()})
            release_rows(images, start, start + batch_size)
            return out

        starts = range(0, len(images), batch_size)
        # the cores this process may run on (before: os.cpu_count(), every core of the machine: a Slurm or taskset job
        # of 2 CPUs on a 128-core node ran 128 threads, each holding a batch's float32 temporaries)
        workers = min(len(starts), usable_cores()) if threads else 1
        # each batch's arrays go straight into the whole result, made at the first batch: collecting the
        # parts and concatenating them held the result twice (800 MiB of thumbnails at 400,000 images)
        result: dict[str, np.ndarray] = {}
        # only the batches worked on are read; a file rewritten under them is one line, not a mixed result
        with unchanged_in_place(images), one_blas_thread(), ThreadPoolExecutor(max_workers=workers) as pool:
            for start, part in zip(starts, pool.map(one, starts) if workers > 1 else map(one, starts)):
                rows = min(batch_size, len(images) - start)
                for name, value in part.items():
                    if len(value) != rows:  # a broken batch function, not data
                        raise ValueError(f"{fn}: {len(value)} rows of {name!r} for a batch of {rows} images")
                    if name not in result:
                        result[name] = allocate((len(images), *value.shape[1:]), value.dtype)
                    result[name][start:start + len(value)] = value
                    release_rows(result[name], start, start + len(value))
        return result

    def embed(self, encoder: Encoder, images: np.ndarray, *, batch_size: int) -> np.ndarray:
        """float32 ``(N, D)`` features of uint8 ``(N, H, W, C)`` ``images`` (memory-mapped or in memory),
        row ``i`` for image ``i``: ``encoder.embed`` over rows ``[i * batch_size, (i + 1) * batch_size)``.

        Locally the encoder's function runs over the whole array (it cuts the same batches). On Ray each
        batch is one call of an actor of a pool (:class:`EmbedActor`; one actor per GPU of the cluster,
        else one per CPU but one, left for the tasks that hand out the batch numbers; a cluster of one CPU
        and no GPU runs them here, as locally); the model goes to the actors once, as a state dict in the
        object store.
        """
        self._check()
        if self.kind != "ray" or not len(images):
            with unchanged_in_place(images):
                return encoder.embed(encoder.model, images, batch_size=batch_size)
        with self.session():
            ray = import_ray()
            import ray.data  # Ray is there: import_ray() said so

            gpus, cpus = (int(ray.cluster_resources().get(kind, 0)) for kind in ("GPU", "CPU"))
            if encoder.device == "cpu":  # before: the actors took the GPUs, which round otherwise than a CPU
                gpus = 0
            if not gpus and cpus < 2:
                # an actor holding the only CPU leaves none for the task that hands out the batch numbers, and
                # Ray waits for ever: here, where Ray has nothing to spread, the same calls run in this process (a
                # rewritten file named of compute.engine: ray, which the user set; before, "local")
                with unchanged_in_place(images, engine=self.kind):
                    return encoder.embed(encoder.model, images, batch_size=batch_size)
            weights = ray.put({name: value.detach().cpu() for name, value in encoder.model.state_dict().items()})
            batches = -(-len(images) // batch_size)
            actors = min(batches, gpus or cpus - 1)
            source = rows_source(images)
            with checked_unchanged(source), ray_failures():
                rows = ray.data.range(batches).map_batches(
                    EmbedActor, batch_size=1, concurrency=actors, num_gpus=1 if gpus else 0,
                    num_cpus=0 if gpus else 1, max_restarts=RETRIES, max_task_retries=RETRIES,
                    fn_constructor_kwargs={"encoder": replace(encoder, model=None), "weights": [weights],
                                           "source": source, "batch_size": batch_size, "n": len(images),
                                           "packages": package_versions(ENCODER_PACKAGES)})
                return in_row_order(rows, n=len(images))["features"]

    def _check(self) -> None:
        if self.kind not in ENGINES:
            raise WinnowError(f"compute.engine: {self.kind!r} is not one of {', '.join(ENGINES)}")

    def check_ready(self) -> None:
        """One line now, not after the work that comes before the engine's first use (represent trains its
        model first), when Ray is asked for but not installed or its address does not answer."""
        self._check()
        if self.kind == "ray":
            import_ray()
            _check_addresses(self.address)

    def _ray_map(self, fn: Batch, images: np.ndarray, *, batch_size: int,
                 allocate: Callable[[tuple[int, ...], np.dtype], np.ndarray],
                 columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import ray.data

        source = rows_source(images)
        task = RowsTask(fn, source, batch_size, len(images), columns)
        with checked_unchanged(source), ray_failures():
            return in_row_order(ray.data.range(-(-len(images) // batch_size)).map_batches(
                task, batch_size=1, max_retries=RETRIES), n=len(images), allocate=allocate, release=release_rows)


def _process_as_it_is() -> tuple[Callable[[], None], Callable[[], Any]]:
    """What puts back, after a Ray session (:meth:`Engine.session`), the process-wide state ray.init changes and
    ray.shutdown leaves: ``os.environ`` (Ray's PYTHONBREAKPOINT, RAY_AUTH_MODE, RAY_USAGE_STATS_ENABLED, ...: an
    in-process caller's ``breakpoint()`` and every process it started later inherited them, and a second session took
    RAY_AUTH_MODE=token for the user's), the handlers of SIGTERM, SIGINT and SIGHUP (main thread; one set outside
    Python is left) and :mod:`faulthandler`, which ray.init turns on. (The signal mask Ray leaves as it was.) With it,
    the context each call into Ray runs in: only the variables those calls changed go back, not those the caller's
    block set meanwhile (before: every one of them was dropped, or set back, at the session's end)."""
    import faulthandler

    environment = dict(os.environ)
    main = threading.current_thread() is threading.main_thread()
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    faults = faulthandler.is_enabled()
    touched: dict[str, str | None] = {}  # the variables a call into Ray changed: the value it left each

    @contextmanager
    def by_ray() -> Iterator[None]:
        before = dict(os.environ)
        try:
            yield
        finally:
            touched.update({name: os.environ.get(name) for name in {*before, *os.environ}
                            if before.get(name) != os.environ.get(name)})

    def restore() -> None:
        auth = os.environ.get("RAY_AUTH_MODE")
        # where each holds what Ray left: the block's own since is kept (before: its PYTHONBREAKPOINT=0 was set back)
        for name in (name for name, left in touched.items() if os.environ.get(name) == left):
            if name in environment:
                os.environ[name] = environment[name]
            else:
                os.environ.pop(name, None)
        if auth != os.environ.get("RAY_AUTH_MODE"):  # Ray caches it: a later ray.init here reads it anew
            auth_as_set_now()
        if main:
            for number, handler in handlers.items():
                if handler is not None and signal.getsignal(number) != handler:
                    signal.signal(number, handler)
        if not faults and faulthandler.is_enabled():
            faulthandler.disable()

    return restore, by_ray


def _warn_oversubscribed(num_cpus: int | None) -> None:
    """A warning when the local cluster is to have more CPUs than this process may run on: Ray runs as many batches
    (and represent's actors) at once as it has CPUs, each in a worker process of its own. Before, without a word,
    num_cpus 64 on 2 cores scored 951 images in 26 batches on 19 worker processes (3.3 GiB, 75 s) where 2 CPUs took 9
    (1.1 GiB, 33 s); 1,024 on a large set starts hundreds."""
    cores = usable_cores()
    if num_cpus is not None and num_cpus > cores:
        print(f"warning: compute.ray.num_cpus: {num_cpus} is more than the {cores} CPU(s) this machine gives the "
              f"stage; Ray runs up to {num_cpus} batches at once, each in a worker process of its own, slower and "
              f"larger than {cores}: set it to {cores} or less, or null (every CPU)")


def runtime_env() -> dict:
    """Ray's runtime environment for a job that runs winnow's tasks: this process's :mod:`winnow`
    package, uploaded to every worker, so that no node imports another copy (a stale install)."""
    return {"py_modules": [str(Path(__file__).resolve().parent)]}
