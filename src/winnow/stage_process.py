"""Settings a stage's own process makes for itself, never an in-process caller's (a notebook, a test): both are the
whole process's, and neither can be given back.

:func:`keep_freed_memory`: glibc's allocator for a process that works in batches of large, short-lived temporaries.
A fresh process's glibc serves every request of 128 KiB or more with a map of its own and gives it back to the
kernel when it is freed, raising that threshold only as such blocks are freed, and returns the heap's free top to
the kernel whenever 128 KiB lie there. A stage's batches (decoded rows, float32 planes, bincount codes: 0.1 to 4
MiB each, made anew every batch, on several threads) then fault in every page of every temporary again: ingesting
and scoring the 8,068 CIFAR-subset PNGs (#20) took 97,000-112,000 minor faults in a fresh process, 8,800 with
these settings, and about 30% more CPU (on 2 cores busy with other work, four fresh processes: ingest 556-626
against 384-429 ms, score 361-379 against 235-270). Every DVC stage is such a fresh process and makes one pass.
Set in :func:`winnow.stage.run`'s forked child.

:func:`spin_briefly`: OpenMP's threads (torch's intra-op pool, MKL's) spin 10,000 times, not GNU OpenMP's
300,000, while they wait for work before they sleep. Beside other work on the machine the spinning and the working
threads took turns on the cores, worst beside other programs' spinning threads: during a `dvc repro` beside the test
suite train's epochs went from 0.2 s to 2-33 s. Measured here (Intel Xeon, 2 cores), OpenMP's default, 10,000 spins,
and no spinning (``OMP_WAIT_POLICY=PASSIVE``): train@baseline of the default pipeline on idle cores 7.1-7.5, 7.5-7.9
and 10.0-10.5 s; beside two busy loops 20.6-35.5, 23.1-24.5 and 26.6-27.9 s; a LeNet's 3 epochs beside helpers'
test runs 1.8-29.6, 0.6-2.4 and 0.7-3.9 s. Set before torch is imported, by
:func:`winnow.stops.one_line_from_the_start`, the first call of every stage script; a user's own
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` stands. The same threads do the same arithmetic either way: no number
changes.

:mod:`winnow.openmp_settings`: OpenMP and MKL settings torch's import would loop on or ignore, said in one line
first.
"""

from __future__ import annotations

import builtins
import ctypes
import os
import sys

# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# the highest values a long-running process's glibc reaches by itself (its threshold rises to at most 32 MiB as mapped blocks
# are freed, and it keeps twice that free at a heap's top), set from the start: a stage runs as a warmed process
# would, never below one. Requests below HEAP_BELOW come from the heap and are reused there (a batch's temporaries:
# chunks sized for the CPU caches, winnow.pixel_batches); free memory at a heap's top goes back to the kernel only
# beyond KEEP_FREE. A fixed 4 MiB threshold would map apart, every time, the 4-32 MiB blocks a warmed process reuses
HEAP_BELOW = 32 << 20
KEEP_FREE = 64 << 20


def keep_freed_memory() -> None:
    """Have glibc serve requests under :data:`HEAP_BELOW` from its heaps and keep up to :data:`KEEP_FREE` of
    freed memory there, so a batch reuses the pages the one before it faulted in. Nothing on another C library
    (musl, macOS, Windows), which has no ``mallopt`` of these numbers. A threshold the user set
    (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, or its ``GLIBC_TUNABLES`` entry) stands, as a user's
    ``GOMP_SPINCOUNT`` does: before, it was overridden without a word (``MALLOC_TRIM_THRESHOLD_=0``, set to give freed
    memory back in a container near its limit, kept 64 MiB)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):  # no such confstr name, no C library to load, no mallopt
        return
    tunables = {entry.split("=", 1)[0].strip() for entry in os.environ.get("GLIBC_TUNABLES", "").split(":")}
    for number, value, variable, tunable in ((_M_MMAP_THRESHOLD, HEAP_BELOW, "MALLOC_MMAP_THRESHOLD_",
                                              "glibc.malloc.mmap_threshold"),
                                             (_M_TRIM_THRESHOLD, KEEP_FREE, "MALLOC_TRIM_THRESHOLD_",
                                              "glibc.malloc.trim_threshold")):
        if variable not in os.environ and tunable not in tunables:
            mallopt(number, value)


# spins of a waiting OpenMP thread before it sleeps (GNU OpenMP's own: 300,000; LLVM's OpenMP reads no such variable)
SPIN_COUNT = 10_000


def spin_briefly() -> None:
    """``GOMP_SPINCOUNT`` :data:`SPIN_COUNT` for GNU OpenMP, which reads it when torch loads it: call before torch's
    import. Nothing where the user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)


def interactive_session() -> bool:
    """Whether this process is an interactive session (IPython or a notebook's kernel, the REPL, ``python -i``), whose
    ``__main__`` runs stage scripts in-process (``%run stages/x.py``): its settings are its user's."""
    return bool(getattr(builtins, "__IPYTHON__", False) or hasattr(sys, "ps1") or sys.flags.interactive)


# the stage scripts (as stops.stage_script names them) and ``winnow`` subcommands that draw figures with matplotlib: the
# report's, balance's and gan-synthesize's sample grids, study collect's curves, review export's page. Only these refuse
# an MPLBACKEND matplotlib does not know; before, every stage did (ingest, score, dedup, threshold... never plot)
DRAWS_FIGURES = frozenset({"stages/report.py", "stages/balance.py", "stages/gan_synthesize.py", "study", "review"})


def plot_backend_refusal(who: str) -> str | None:
    """Why ``who`` (a stage script, ``stages/<name>.py``, or a ``winnow`` subcommand), where it is one of
    :data:`DRAWS_FIGURES`, will not start under ``MPLBACKEND``, or None: a name
    matplotlib does not know fails its import with a ValueError. Any other stage or command never imports matplotlib,
    and runs whatever MPLBACKEND says. Before, ``MPLBACKEND=Qt6Agg`` (a typo, a notebook's
    setting left exported) ended the report stage and ``review export`` in matplotlib's traceback at their imports, and
    ``study collect`` after reading every experiment. Unset or empty, matplotlib chooses its own (the figures are files:
    no backend is needed). Imports matplotlib (a name it knows loads nothing more)."""
    backend = os.environ.get("MPLBACKEND")
    if who not in DRAWS_FIGURES or not backend:
        return None
    import importlib

    try:
        importlib.import_module("matplotlib")  # rcParams take MPLBACKEND as it loads
    except ValueError:
        return (f"environment variable MPLBACKEND={backend!r} names no backend matplotlib knows (it draws the "
                "figures, as files that need none); unset it, or set it to agg, then rerun")
    return None
