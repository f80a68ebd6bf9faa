"""compute.engine: ray: score's and dedup's per-image batches as Ray Data tasks on a tiny local cluster
give the local engine's output byte for byte, rows in order (winnow.engine)."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from conftest import require
from test_dedup_copies import smooth_images
from winnow import perturb
from winnow.dedup import dedup_images
from winnow.engine import Engine, runtime_env
from winnow.imageset import read_imageset, write_imageset
from winnow.quality import score_table
from winnow.thumbnails import Looks

RAY = Engine("ray")


@pytest.fixture(scope="module")
def ray_cluster():
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    import ray

    # this checkout's winnow on the workers, not the one installed in the environment
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def imageset(tmp_path_factory):
    """A memory-mapped imageset of 230 images with copies, mirrors and crops, and several original sizes."""
    rng = np.random.default_rng(0)
    images = smooth_images(200, seed=3)
    copies = np.concatenate([images[:10], images[10:20, :, ::-1], perturb.resize(images[20:30, 2:-2, 2:-2], (32, 32))])
    images = np.concatenate([images, copies])
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(len(images))], "split": "train", "label": 0,
                             "source": "t", "orig_h": rng.integers(16, 48, len(images)),
                             "orig_w": rng.integers(16, 48, len(images)), "orig_mode": "RGB"})
    path = tmp_path_factory.mktemp("engine") / "set"
    write_imageset(path, images, manifest, ["a"])
    return read_imageset(path)


def test_ray_scores_equal_local_byte_for_byte(ray_cluster, imageset):
    # 64 images a task: four tasks, the last one short; the memory map is read by each task itself
    local = score_table(imageset.images, imageset.manifest, batch_size=64)
    on_ray = score_table(imageset.images, imageset.manifest, batch_size=64, engine=RAY)
    pd.testing.assert_frame_equal(on_ray, local, check_exact=True)
    for column in local.select_dtypes("number").columns:  # the scores' float32 bits and the uint64 pHashes
        assert on_ray[column].to_numpy().tobytes() == local[column].to_numpy().tobytes(), column


def test_ray_dedup_equals_local_from_memory_and_from_the_memory_map(ray_cluster, imageset):
    scores = score_table(imageset.images, imageset.manifest)
    options = dict(radius=6, min_correlation=0.98, flip=True, crop=0.0625, keep="first")
    local = dedup_images(imageset.manifest, imageset.images, scores, **options)
    assert (local["group_size"] > 1).sum() >= 40  # the planted copies are found: the comparison has content
    pd.testing.assert_frame_equal(dedup_images(imageset.manifest, imageset.images, scores, **options, engine=RAY),
                                  local, check_exact=True)
    in_memory = np.array(imageset.images)  # no file behind it: the tasks get it from the object store
    looks, ray_looks = (Looks.of(in_memory, flip=True, crop=0.1, batch_size=50, engine=engine)
                        for engine in (Engine(), RAY))
    assert ray_looks.whole.tobytes() == looks.whole.tobytes() and ray_looks.crop.tobytes() == looks.crop.tobytes()
