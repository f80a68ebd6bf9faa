"""Leftovers of the review of stop 76's mends (the cores a stage's thread pools are given):

- a job whose cgroup holds a CPU quota narrower than its affinity (``docker --cpus 2``, a Kubernetes CPU limit, a
  Slurm step's cgroup: every core of the node visible, two cores' time a period): the local engine ran one thread per
  core it could see, each holding a batch's temporaries, throttled to the quota; cgroup v2's ``cpu.max`` (set on the
  job's group or a group above it) and v1's ``cpu.cfs_quota_us`` are read now (winnow.cores.usable_cores);
- ingest's decoding pool (winnow.image_decode.decode_files) under ``taskset`` or a cpuset: ``os.cpu_count()``
  threads, every core of the machine, each decoding a file of up to ``Image.MAX_IMAGE_PIXELS`` at once, where the
  engine's pool already followed the affinity; both pools are sized by one helper now;
- copies of one image whose embeddings differ in the last bits (1e-7, another batch's rounding), 15 of an image unlike
  any class: LOF merged such rows only where another image's LOF near 300 showed them, so the copies, one another's
  only neighbours, were a dense cluster of LOF 1 (normal) and the image itself with them; and kNN's cut, at one of
  their scores (within 1e-8 of one another), flagged some copies and kept the others (winnow.outliers).

The scale cases fake the machine (its cores, affinity and cgroup files) and record the pool's size; the outlier case
calls :func:`winnow.outliers.find_outliers` on generated embeddings in this process.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from winnow import cores
from winnow import engine as engine_module
from winnow import image_decode
from winnow.engine import Engine
from winnow.neighbours import Space
from winnow.outliers import find_outliers


def first_pixels(batch: np.ndarray) -> dict[str, np.ndarray]:
    return {"first": batch.reshape(len(batch), -1)[:, 0].astype(np.int64)}


def _recorded_pools(monkeypatch, module) -> list:
    """The ``max_workers`` of every ThreadPoolExecutor ``module`` makes from now on."""
    made = []

    class Recorded(module.ThreadPoolExecutor):
        def __init__(self, max_workers=None, **options):
            made.append(max_workers)
            super().__init__(max_workers=max_workers, **options)

    monkeypatch.setattr(module, "ThreadPoolExecutor", Recorded)
    return made


def _machine(monkeypatch, tmp_path: Path, *, affinity: int, groups: str, files: dict[str, str]) -> None:
    """A machine of 64 cores, ``affinity`` of them this process's, in the cgroups ``groups`` (/proc/self/cgroup's
    text) whose files under the cgroup mount are ``files``."""
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(affinity)), raising=False)
    (tmp_path / "cgroup").write_text(groups)
    for name, text in files.items():
        (tmp_path / "fs" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / name).write_text(text)
    monkeypatch.setattr(cores, "PROC_CGROUP", tmp_path / "cgroup")
    monkeypatch.setattr(cores, "CGROUP_ROOT", tmp_path / "fs")


@pytest.mark.hostile("scale")
@pytest.mark.parametrize("groups, files", [
    # cgroup v2: the quota on the job's group, its step's own group unlimited
    ("0::/job.slice/step\n", {"job.slice/cpu.max": "150000 100000\n", "job.slice/step/cpu.max": "max 100000\n"}),
    # a container's own group seen as the root (docker --cpus 1.5)
    ("0::/\n", {"cpu.max": "150000 100000\n"}),
    # cgroup v1's cpu controller
    ("5:cpu,cpuacct:/slurm/job\n1:name=systemd:/slurm/job\n",
     {"cpu,cpuacct/slurm/job/cpu.cfs_quota_us": "150000\n", "cpu,cpuacct/slurm/job/cpu.cfs_period_us": "100000\n"}),
], ids=["v2-parent", "v2-container", "v1"])
def test_the_local_engines_threads_follow_the_cgroups_cpu_quota(tmp_path, monkeypatch, groups, files):
    # 1.5 CPUs' time a period for a process that may run on 8 of 64 cores. before: 8 threads (the affinity alone),
    # each holding a batch's temporaries, throttled to 1.5 cores' time
    _machine(monkeypatch, tmp_path, affinity=8, groups=groups, files=files)
    made = _recorded_pools(monkeypatch, engine_module)
    images = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1)
    found = Engine().map(first_pixels, images, batch_size=4, threads=True)
    assert made == [2]
    assert found["first"].tolist() == list(range(40))


@pytest.mark.hostile("scale")
def test_no_quota_and_an_unlimited_group_leave_the_affinity(tmp_path, monkeypatch):
    # the false alarm beside the case above: cpu.max "max" on every group, and v1's -1, set no limit
    _machine(monkeypatch, tmp_path, affinity=3, groups="0::/a/b\n4:cpu:/a\n",
             files={"a/b/cpu.max": "max 100000\n", "a/cpu.max": "max 100000\n",
                    "cpu/a/cpu.cfs_quota_us": "-1\n", "cpu/a/cpu.cfs_period_us": "100000\n"})
    made = _recorded_pools(monkeypatch, engine_module)
    Engine().map(first_pixels, np.zeros((40, 1, 1, 1), np.uint8), batch_size=4, threads=True)
    assert made == [3]


@pytest.mark.hostile("scale")
def test_ingests_decoding_threads_are_the_cores_the_process_may_run_on(tmp_path, monkeypatch):
    # two of the machine's 64 cores for this process (taskset, a cpuset). before: ingest's decoding pool had
    # os.cpu_count() threads, 64, each decoding a file (a large photo's pixels each) at once
    _machine(monkeypatch, tmp_path, affinity=2, groups="0::/\n", files={})
    made = _recorded_pools(monkeypatch, image_decode)
    (tmp_path / "a").mkdir()
    files = []
    for i in range(3):
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(tmp_path / "a" / f"{i}.jpg", quality=100)
        files.append(("train", 0, tmp_path / "a" / f"{i}.jpg", f"train/a/{i}.jpg"))
    decoded, rows, sizes = image_decode.decode_files(files, None, None, progress=False)
    assert made == [2]
    assert ([d[0] for d in decoded], rows.shape, sizes) == ([True, True, True], (3, 8, 8, 1), 0)


@pytest.mark.hostile("outliers")
def test_copies_of_an_image_within_rounding_are_one_point_to_lof_and_score_alike():
    # 300 images in three classes, 6 unlike any of them, and 14 more copies of the first of those, each number moved by
    # about 1e-7. before: LOF scored the image and its copies 1 (each other's nearest, a dense cluster) and flagged only
    # the 5 others; kNN flagged 300-307, 313, 316 and 317, some copies and not the rest
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 3
    features = np.concatenate([c + rng.normal(size=(100, 16)) for c in centres]).astype(np.float32)
    far = (np.random.default_rng(1).normal(size=(6, 16)) * 6).astype(np.float32)
    near = (far[0] * (1 + np.random.default_rng(2).normal(size=(14, 16)) * 1e-7)).astype(np.float32)
    rows = np.concatenate([features, far, near])
    assert len(np.unique(rows, axis=0)) == 320  # no two rows equal
    table, _ = find_outliers([Space(np.arange(320), rows, np.arange(320), rows, np.zeros(320, np.int64))],
                             methods=("lof", "knn"), k=10, bins=32)
    assert table.loc[table["lof_outlier"], "position"].tolist() == list(range(300, 320))
    assert table.loc[table["knn_outlier"], "position"].tolist() == list(range(300, 320))
    assert (table.loc[306:, ["lof", "knn"]].to_numpy() == table.loc[[300] * 14, ["lof", "knn"]].to_numpy()).all()
