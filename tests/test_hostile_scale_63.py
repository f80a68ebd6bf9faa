"""Hostile cases for data read through the memory-mapped imageset by a long reader (third pass, stop 63): the
represent stage's model trains on the pixels for minutes, then embeds them; an ``images.npy`` rewritten in place
in between must stop it in one line, not give features of other images than the model learnt from."""

from __future__ import annotations

import numpy as np
import pytest

import forked_run
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project,
)
from test_represent import SELFSUP, blobs, write_blobs

# Runs stages/represent.py with winnow.selfsup.pretrain wrapped: once the model has trained, images.npy is
# rewritten in place (the same inode, as `cp other.npy data/degrade/images.npy` does) with every pixel inverted
_REWRITING_LAUNCHER = '''
import runpy, sys
import numpy as np
import winnow.selfsup as selfsup

pretrain = selfsup.pretrain


def pretrain_then_rewrite(*args, **kwargs):
    trained = pretrain(*args, **kwargs)
    path = "data/degrade/images.npy"
    inverted = 255 - np.load(path)
    with open(path, "r+b") as handle:
        handle.seek(-inverted.nbytes, 2)
        handle.write(inverted.tobytes())
    return trained


selfsup.pretrain = pretrain_then_rewrite
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''


@pytest.mark.hostile("represent")
def test_images_rewritten_in_place_while_represent_trains_stop_it_in_one_line(tmp_path):
    # found by probing: before, only the embedding pass was watched for a rewrite, and it began after the training,
    # so represent exited 0 with the features of the inverted images, from a model trained on the originals, under
    # the original ids (engine local and ray alike: Ray's tasks stamp the file when the embedding starts)
    params = default_params()
    params["represent"] = {**params["represent"], "source": "selfsup", "knn_k": 5, "selfsup": SELFSUP}
    project = make_project(tmp_path / "project", params)
    write_blobs(project, blobs())
    launcher = tmp_path / "launcher.py"
    launcher.write_text(_REWRITING_LAUNCHER)
    before = files_under(project)
    done = forked_run.run("script", str(launcher), [str(ROOT / "stages/represent.py")], cwd=project, env=_env(),
                          timeout=300)
    images = project.resolve() / "data/degrade/images.npy"
    assert assert_error_line(done) == (
        f"error: {images} was rewritten or replaced while compute.engine: local read it (another run writing it?); "
        "its batches would mix old and new images: rerun when nothing else writes it")
    assert np.array_equal(np.load(images), 255 - blobs().images)  # the rewrite did land before the embedding
    assert_nothing_left(project, before)
