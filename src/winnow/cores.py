"""How many CPUs this process may keep busy at once: the number of threads a pool of batch workers is given
(:meth:`winnow.engine.Engine.map`, ingest's decoding: :mod:`winnow.image_decode`).

Two limits narrow the machine's count, and a job on a shared node meets either: its affinity (``taskset``, a Slurm
or Kubernetes cpuset: 2 CPUs of a 128-core node) and its cgroup's CPU quota (``docker --cpus 2``, a Kubernetes CPU
limit: the process may run on every core, but for 2 cores' time a period, and is throttled past it). Python 3.11's
``os.cpu_count`` reads neither.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

# where the kernel shows this process's control groups and their files (read-only; tests point them elsewhere)
PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity: taskset, a cgroup's cpuset), else the machine's, and no more
    than its cgroup's CPU quota allows at once (:func:`quota_cores`, rounded up)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, NotImplementedError, OSError):  # macOS, Windows: no affinity to read
        cores = os.cpu_count() or 1
    quota = quota_cores()
    return max(1, min(cores, quota) if quota is not None else cores)


def quota_cores() -> int | None:
    """The CPUs' worth of time a period the cgroups holding this process allow (cgroup v2's ``cpu.max``, v1's
    ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``), rounded up, the lowest over the process's group and the groups
    above it; None where none sets a quota or none can be read (not Linux)."""
    try:
        lines = PROC_CGROUP.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return None
    found = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        controllers = controllers.split(",")
        if controllers == [""]:  # cgroup v2: one hierarchy, "0::/path"
            found += [_limit(folder / "cpu.max") for folder in _groups(CGROUP_ROOT, path)]
        elif "cpu" in controllers:  # cgroup v1: the cpu controller's own hierarchy
            for mount in (CGROUP_ROOT / ",".join(controllers), CGROUP_ROOT / "cpu"):
                found += [_limit(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us")
                          for folder in _groups(mount, path)]
    found = [cores for cores in found if cores is not None]
    return min(found) if found else None


def _groups(mount: Path, path: str) -> list[Path]:
    """The folders of the group at ``path`` under ``mount`` and of the groups above it, up to ``mount`` (a
    container's own group where the container sees it as the root)."""
    parts = [part for part in path.strip().split("/") if part not in ("", ".", "..")]
    return [mount.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _limit(quota_file: Path, period_file: Path | None = None) -> int | None:
    """The quota in ``quota_file`` (v2: ``"quota period"`` or ``"max period"``; v1: microseconds, -1 for none, with
    the period in ``period_file``) as CPUs, rounded up; None for no quota, or a file missing or unreadable."""
    try:
        words = quota_file.read_text(encoding="ascii").split()
        if period_file is not None:
            words += period_file.read_text(encoding="ascii").split()
        quota, period = int(words[0]), int(words[1])
    except (OSError, ValueError, IndexError, UnicodeDecodeError):  # "max": no quota
        return None
    return math.ceil(quota / period) if quota > 0 and period > 0 else None
