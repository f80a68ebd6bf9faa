"""Hostile inputs to the represent stage (issue 18 item 1): a user's embedding file that is not aligned
with the imageset or holds non-finite or non-numeric values, a model that returns the wrong shape, and
settings that cannot work. Each runs ``stages/represent.py`` through the harness and must end in one
``error:`` line naming the file or parameter, with nothing left behind (no embeddings, model or metrics).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage
from test_represent import blobs, write_blobs

N = 48  # blobs(): 32 train, 8 val, 8 test images, ids img-0 .. img-47


def run_represent(tmp_path, *, write=None, **section):
    """(project, files before, finished process) of one represent run; ``write(project)`` makes the user's
    file first, so it is part of the snapshot."""
    params = default_params()
    params["represent"] = {**params["represent"], **section}
    project = make_project(tmp_path / "project", params)
    write_blobs(project, blobs())
    if write is not None:
        write(project)
    before = files_under(project)
    return project, before, run_stage(project, "represent", timeout=300)


def ids(n=N):
    return np.array([f"img-{i}" for i in range(n)], dtype=object)


def npy(values):
    return lambda project: np.save(project / "mine.npy", values)


def parquet(frame):
    return lambda project: frame.to_parquet(project / "mine.parquet")


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("name, write, fragments", [
    ("npy_one_row_short", npy(np.ones((N - 1, 4))),
     ["represent.file: mine.npy: 47 rows but the imageset has 48 images", "one row per image in manifest order"]),
    ("npy_nan_and_inf", npy(np.where(np.arange(N)[:, None] % 7 == 3, [np.nan, np.inf, 0, 0], 1.0)),
     # rows 3, 10, 17, 24, 31, 38, 45 hold a NaN and an infinity each
     ["represent.file: mine.npy: 14 non-finite value(s)", "in 7 image(s), first id 'img-3'", "must be finite"]),
    ("npy_beyond_float32", npy(np.where(np.arange(N)[:, None] == 9, 1e39, np.ones((N, 2)))),
     ["represent.file: mine.npy: 2 non-finite value(s) (NaN, infinity or beyond float32) in 1 image(s), "
      "first id 'img-9'"]),
    ("npy_no_features", npy(np.ones((N, 0))),
     ["represent.file: mine.npy: no feature values (D = 0)"]),
    ("npy_one_dimensional", npy(np.ones(N)),
     ["represent.file: mine.npy: shape (48,); embeddings must be a 2-D array (N images, D)"]),
    ("npy_strings", npy(np.full((N, 2), "x")),
     ["represent.file: mine.npy: values are <U1, not numbers"]),
    ("parquet_missing_id", parquet(pd.DataFrame({"id": ids()[1:], "embedding": [[1.0, 2.0]] * (N - 1)})),
     ["represent.file: mine.parquet: 1 image(s) of the imageset have no row, first 'img-0'"]),
    ("parquet_extra_id", parquet(pd.DataFrame({"id": [*ids(), "img-99", "cat.png"], "f": np.ones(N + 2)})),
     ["represent.file: mine.parquet: 2 id(s) not in the imageset, first 'img-99'"]),
    ("parquet_duplicate_id", parquet(pd.DataFrame({"id": [*ids(), "img-7"], "f": np.ones(N + 1)})),
     ["represent.file: mine.parquet: 1 repeated id(s), first 'img-7'; one row per image"]),
    ("parquet_no_id", parquet(pd.DataFrame({"name": ids(), "f": np.ones(N)})),
     ["represent.file: mine.parquet: no id column"]),
    ("parquet_text_column", parquet(pd.DataFrame({"id": ids(), "f": np.ones(N), "path": ["a.png"] * N})),
     ["represent.file: mine.parquet: column 'path' is ", "not numbers"]),  # pandas names the text dtype
    ("parquet_ragged_embedding", parquet(pd.DataFrame({"id": ids(), "embedding": [[1.0, 2.0]] * 5 + [[1.0]]
                                                                                 + [[1.0, 2.0]] * (N - 6)})),
     ["represent.file: mine.parquet: the embedding of id 'img-5' has 1 values where id 'img-0' has 2"]),
    # before: an IndexError traceback
    ("parquet_scalar_embedding", parquet(pd.DataFrame({"id": ids(), "embedding": np.arange(N, dtype=float)})),
     ["represent.file: mine.parquet: the embedding column holds one number per image; it must hold one list of "
      "numbers per image (or write each feature as a numeric column)"]),
    # before: accepted, and confident-learn then dropped 88% of the train images
    ("npy_all_rows_equal", npy(np.ones((N, 8))),
     ["represent.file: mine.npy: every image has the same embedding (no feature varies); it cannot tell images "
      "apart"]),
    ("npy_zero_row", npy(np.where(np.arange(N)[:, None] == 5, 0.0, np.arange(N)[:, None] + np.ones((N, 3)))),
     ["represent.file: mine.npy: 1 image(s) have an all-zero embedding, first id 'img-5'; cosine similarity is "
      "undefined for them"]),
    ("parquet_nan_in_embedding", parquet(pd.DataFrame({"id": ids()[::-1], "embedding": [[1.0, np.nan]]
                                                                                        + [[1.0, 2.0]] * (N - 1)})),
     ["represent.file: mine.parquet: 1 non-finite value(s)", "first id 'img-47'"]),
])
def test_a_bad_embedding_file_is_refused_in_one_line(tmp_path, name, write, fragments):
    suffix = ".npy" if name.startswith("npy") else ".parquet"
    project, before, done = run_represent(tmp_path, write=write, source="file", file=f"mine{suffix}")
    assert_error_line(done, *fragments)
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_missing_embedding_file_is_named(tmp_path):
    project, before, done = run_represent(tmp_path, source="file", file="elsewhere/mine.npy")
    assert_error_line(done, "represent.file: elsewhere/mine.npy not found")
    assert_nothing_left(project, before)


class FeatureMap(nn.Module):
    """Returns its input unpooled, (N, 3, S, S): not a feature vector per image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.hostile("represent")
def test_a_torchscript_model_with_unpooled_output_is_refused(tmp_path):
    write = lambda project: torch.jit.save(torch.jit.script(FeatureMap()), str(project / "map.pt"))  # noqa: E731
    project, before, done = run_represent(tmp_path, write=write, source="pretrained",
                                          pretrained={"torchscript": "map.pt", "input_size": 16, "device": "cpu"})
    assert_error_line(done, "represent.pretrained: map.pt returned (48, 3, 16, 16) for 48 images",
                      "must return (N, D)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_file_that_is_not_torchscript_is_refused(tmp_path):
    write = lambda project: (project / "model.pt").write_bytes(b"not a model")  # noqa: E731
    project, before, done = run_represent(tmp_path, write=write, source="pretrained",
                                          pretrained={"torchscript": "model.pt"})
    assert_error_line(done, "represent.pretrained.torchscript: model.pt is not a TorchScript file")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("section, fragments", [
    ({"source": "clip"}, ['params.yaml: represent.source: "clip" is not one of selfsup, pretrained, file, judge']),
    ({"source": "file"}, ["params.yaml: represent.file: missing; source file reads the embeddings from it "
                          "(a .npy or .parquet)"]),
    ({"source": "pretrained"}, ["represent.pretrained: give exactly one of model", "or torchscript"]),
    ({"source": "pretrained", "pretrained": {"model": "keras:resnet50"}},
     ["represent.pretrained.model: 'keras:resnet50'; write timm:NAME, torchvision:NAME or open_clip:ARCH/TAG"]),
    ({"selfsup": {"temperature": 0}}, ["params.yaml: represent.selfsup.temperature: 0 is not above 0"]),
    ({"epochs": 5}, ["params.yaml: represent.epochs: unknown parameter; known: source, knn_k, selfsup, "
                     "pretrained, file, judge"]),
])
def test_settings_that_cannot_work_are_one_line(tmp_path, section, fragments):
    project, before, done = run_represent(tmp_path, **section)
    assert_error_line(done, *fragments)
    assert_nothing_left(project, before)
