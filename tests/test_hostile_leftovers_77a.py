"""Leftovers of stop 76 (messages and counts), mended at stop 77 (77a):

- an imageset's images.npy of another type than uint8 (float64, int16, ...) or shape: refused with what is wrong but
  nothing to do; now from its header, with the stage to rerun named;
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hostile_harness import make_project, refused_line, tiny_degraded, undamaged_params
from winnow.imageset import ImageSetError, read_imageset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("dtype", ["float64", "int16"])
def test_an_images_npy_of_another_type_names_the_stage_to_rerun(tmp_path, dtype):
    # before: "error: data/degrade: images must be a uint8 numpy array, got float64", nothing said of what to do
    project = make_project(tmp_path / "project", undamaged_params())
    manifest, images, _ = tiny_degraded(project, score=undamaged_params()["score"])
    np.save(project / "data/degrade/images.npy", images.astype(dtype))  # the same pixel values, in another type
    (project / "data/score/scores.parquet").unlink()
    assert refused_line(project, "score") == (f"error: data/degrade/images.npy: holds {dtype} values, not uint8 "
                                              "pixels; rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("folder", "rerun"), [
    ("data/ingest", "rerun the ingest stage (dvc repro ingest)"),
    ("data/gan", "rerun the gan-synthesize stage (dvc repro gan-synthesize)"),
    ("data/variants/balanced/extra", "rerun the balance stage (dvc repro balance)"),
    ("elsewhere/set", "rerun the stage that writes it"),
])
def test_an_imageset_of_the_wrong_shape_names_the_stage_that_writes_it(tmp_path, folder, rerun):
    # before: "<folder>: images must have shape (N, H, W, C) with C in {1, 3}, got (30, 8, 8)", nothing to do
    project = make_project(tmp_path / "project", undamaged_params())
    manifest, images, _ = tiny_degraded(project, score=undamaged_params()["score"])
    if folder != "data/ingest":
        shutil.copytree(project / "data/ingest", project / folder)
    np.save(project / folder / "images.npy", images[..., 0])  # (30, 8, 8): the channel axis gone
    with pytest.raises(ImageSetError) as refused:
        read_imageset(project / folder)
    assert str(refused.value) == (f"{project / folder / 'images.npy'}: images must have shape (N, H, W, C) with C in "
                                  f"{{1, 3}}, got (30, 8, 8); {rerun}")
