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

:func:`wait_passively`: OpenMP's threads (torch's intra-op pool, MKL's) sleep when they wait for work instead of
spinning. A spinning thread holds its core for up to 300,000 spins after each parallel region; beside any other
work on the machine the spinning and the working threads take turns on the cores, and a small net's training
slowed by 3 to 40 times (LeNet on 4,000 28x28 images, 3 epochs, 2 threads on 2 cores: 1.8-29.6 s beside two busy
processes, 1.4-3.9 s sleeping; 0.5-0.8 s against 0.7-1.0 s on idle cores). Set before torch is imported, by
:func:`winnow.stops.one_line_from_the_start`, the first call of every stage script; a user's own
``OMP_WAIT_POLICY`` stands. The same threads do the same arithmetic either way: no number changes.
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
    (musl, macOS, Windows), which has no ``mallopt`` of these numbers."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):  # no such confstr name, no C library to load, no mallopt
        return
    mallopt(_M_MMAP_THRESHOLD, HEAP_BELOW)
    mallopt(_M_TRIM_THRESHOLD, KEEP_FREE)


def wait_passively() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` for OpenMP, which reads it when torch loads it: call before torch's import. A value
    the user set is kept."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def interactive_session() -> bool:
    """Whether this process is an interactive session (IPython or a notebook's kernel, the REPL, ``python -i``), whose
    ``__main__`` runs stage scripts in-process (``%run stages/x.py``): its settings are its user's."""
    return bool(getattr(builtins, "__IPYTHON__", False) or hasattr(sys, "ps1") or sys.flags.interactive)
