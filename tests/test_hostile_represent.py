"""Hostile inputs to the represent stage (issue 18 item 1): a user's embedding file that is not aligned
with the imageset or holds non-finite or non-numeric values, a model that returns the wrong shape, and
settings that cannot work. Each runs ``stages/represent.py`` through the harness and must end in one
``error:`` line naming the file or parameter, with nothing left behind (no embeddings, model or metrics).
"""

from __future__ import annotations

import decimal
import json
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage
from test_represent import SELFSUP, blobs, write_blobs
from winnow.probe import fit_probe

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


def arrow(table):
    return lambda project: pq.write_table(table, project / "mine.parquet")


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
    # before: the label became two features, and the label cleaners judged labels by the labels themselves
    ("parquet_label_column", parquet(pd.DataFrame({"id": ids(), "label": np.arange(N) % 3, "f0": np.arange(N) * 1.0,
                                                   "f1": np.ones(N)})),
     ["represent.file: mine.parquet: column 'label' reads as a label, split or row index, not a feature: the "
      "embedding would carry what the label cleaners judge; write only id and the features"]),
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
    # before: "values are object, not numbers" for both
    ("parquet_empty_embeddings", parquet(pd.DataFrame({"id": ids(), "embedding": [[]] * N})),
     ["represent.file: mine.parquet: the embedding column holds empty lists (D = 0)"]),
    ("parquet_nested_embeddings", parquet(pd.DataFrame({"id": ids(), "embedding": [[[1.0, 2.0], [3.0, 4.0]]] * N})),
     ["represent.file: mine.parquet: the embedding column holds a list of lists per image; flatten each image's "
      "features to one list of numbers"]),
    # before: an IndexError traceback (a dict or a Decimal per cell reached numpy as a 0-D object array)
    ("parquet_struct_embedding", parquet(pd.DataFrame({"id": ids(), "embedding": [{"x": 1.0, "y": 2.0}] * N})),
     ["represent.file: mine.parquet: the embedding column holds one struct value per image, not a list of numbers; "
      "it must hold one list of numbers per image (or write each feature as a numeric column)"]),
    ("parquet_decimal_embedding", arrow(pa.table({"id": ids(), "embedding": pa.array(
        [decimal.Decimal(i) for i in range(N)], pa.decimal128(6, 2))})),
     ["represent.file: mine.parquet: the embedding column holds one decimal128(6, 2) value per image, not a list of "
      "numbers; it must hold one list of numbers per image (or write each feature as a numeric column)"]),
    # before: "holds one number per image", of a column of text
    ("parquet_text_embedding", parquet(pd.DataFrame({"id": ids(), "embedding": ["1,2"] * N})),
     ["represent.file: mine.parquet: the embedding column holds one text value per image, not a list of numbers; "
      "it must hold one list of numbers per image (or write each feature as a numeric column)"]),
    ("parquet_text_lists_embedding", parquet(pd.DataFrame({"id": ids(), "embedding": [["1", "2"]] * N})),
     ["represent.file: mine.parquet: the embedding column holds lists of text per image, not of numbers; it must "
      "hold one list of numbers per image (or write each feature as a numeric column)"]),
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
    ({"selfsup": {"temperature": 0}}, ["params.yaml: represent.selfsup.temperature: 0 is below 0.001"]),
    ({"epochs": 5}, ["params.yaml: represent.epochs: unknown parameter (a key of represent.selfsup and "
                     "represent.judge: indent it under selfsup or judge)"]),
])
def test_settings_that_cannot_work_are_one_line(tmp_path, section, fragments):
    project, before, done = run_represent(tmp_path, **section)
    assert_error_line(done, *fragments)
    assert_nothing_left(project, before)


# --- a user's features: their scale, what is stored, and files or models that are not what they claim ---

def separable(factor=1.0):
    """float32 ``(N, 2)``: each image near its true class's axis (blobs' classes alternate), times ``factor``."""
    noise = np.random.default_rng(0).normal(scale=0.1, size=(N, 2))
    return ((np.eye(2)[np.arange(N) % 2] + noise) * factor).astype(np.float32)


def torchscript(module, name="model.pt"):
    return lambda project: torch.jit.save(torch.jit.script(module), str(project / name))


def probe_val_accuracy(features):
    """A linear probe's accuracy on the val images, fitted on the train images with their true classes."""
    classes = np.arange(N) % 2
    probe = fit_probe(features[:32], classes[:32], num_classes=2, l2=0.01)
    return float((probe.predict_proba(features[32:40]).argmax(1) == classes[32:40]).mean())


def outputs(project):
    """(stored embeddings, metrics) of a represent run that succeeded."""
    return (np.load(project / "data/represent/embeddings.npy"),
            json.loads((project / "metrics/represent.json").read_text()))


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("factor", [1.0, 1e25, 1e-25])
def test_a_users_embedding_at_any_scale_is_stored_near_unit_norm_and_judges_alike(tmp_path, factor):
    # before: stored as given; at 1e25 float32 norms overflowed (10-NN vote 50%), at 1e-25 the probe's std
    # clamp flattened every feature (probe 50%)
    values = separable(factor)
    project, _, done = run_represent(tmp_path, write=npy(values), source="file", file="mine.npy")
    assert done.returncode == 0, done.stderr[-3000:]
    stored, metrics = outputs(project)
    assert metrics["knn_val_accuracy"] == 1.0 and probe_val_accuracy(stored) == 1.0
    scale = metrics["scale"]
    assert np.frexp(scale)[0] == 0.5 and (scale == 1.0) == (factor == 1.0)  # a power of two, 1 when not needed
    np.testing.assert_array_equal(stored, (values.astype(np.float64) * scale).astype(np.float32))
    assert 0.5 < np.median(np.linalg.norm(stored, axis=1)) < 2
    assert ("values stored times" in done.stdout) == (factor != 1.0)


class Extremes(nn.Module):
    """Brightest and darkest normalised value per image (blobs' classes apart), times ``factor``."""

    def __init__(self, factor: float = 1.0):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x.amax(dim=(1, 2, 3)), -x.amin(dim=(1, 2, 3))], dim=1) * self.factor


@pytest.mark.hostile("represent")
def test_a_torchscript_models_features_far_from_unit_scale_are_stored_near_unit_norm(tmp_path):
    # before: stored as given (norms ~1e25), float32 norms overflowed downstream
    project, _, done = run_represent(tmp_path, write=torchscript(Extremes(1e25)), source="pretrained",
                                     pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu"})
    assert done.returncode == 0, done.stderr[-3000:]
    stored, metrics = outputs(project)
    assert metrics["knn_val_accuracy"] == 1.0 and probe_val_accuracy(stored) == 1.0
    assert np.frexp(metrics["scale"])[0] == 0.5 and metrics["scale"] < 1e-24
    assert 0.5 < np.median(np.linalg.norm(stored, axis=1)) < 2


class Constant(nn.Module):
    """The same four values for every image."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full([x.shape[0], 4], self.value)


class Asserting(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == 224, "this encoder takes 224-pixel images"
        return x.flatten(1)


class Raising(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 1:
            raise ValueError("expected grey (N, 1, S, S) images")
        return x.flatten(1)


class Mismatched(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ torch.ones(5, 3)


class Complex(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.complex(x.amax(dim=(1, 2, 3)), x.amin(dim=(1, 2, 3)))[:, None]


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("module, fragments", [
    # before: accepted (48 zero rows stored)
    (Constant(0.0), ["represent.pretrained: model.pt: 48 image(s) have an all-zero embedding, first id 'img-0'; "
                     "cosine similarity is undefined for them"]),
    # before: accepted (one row for every image)
    (Constant(1.0), ["represent.pretrained: model.pt: every image has the same embedding (no feature varies)"]),
    # before: a torch.jit.Error traceback
    (Asserting(), ["represent.pretrained: model.pt failed on a float (B, 3, 16, 16) batch (",
                   "AssertionError: this encoder takes 224-pixel images at `assert x.shape[-1] == 224, "
                   "\"this encoder takes 224-pixel images\"`); check input_size"]),
    # before: a torch.jit.Error traceback
    (Raising(), ["represent.pretrained: model.pt failed on a float (B, 3, 16, 16) batch (builtins.ValueError: "
                 "expected grey (N, 1, S, S) images at `raise ValueError("]),
    # before: one line quoting only "The following operation failed in the TorchScript interpreter."
    (Mismatched(), ["represent.pretrained: model.pt failed on a float (B, 3, 16, 16) batch (RuntimeError: mat1 "
                    "and mat2 shapes cannot be multiplied (48x768 and 5x3) at `return"]),
    # before: cast to real, the imaginary part dropped without a word
    (Complex(), ["represent.pretrained: model.pt returned complex features (torch.complex64); embeddings must be "
                 "real numbers"]),
])
def test_a_torchscript_model_that_fails_or_says_nothing_is_one_line(tmp_path, module, fragments):
    project, before, done = run_represent(tmp_path, write=torchscript(module), source="pretrained",
                                          pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu"})
    assert_error_line(done, *fragments)
    assert_nothing_left(project, before)


def npz_named_npy(project):
    with open(project / "mine.npy", "wb") as handle:
        np.savez(handle, features=np.ones((N, 2)))


def lying_header(project):
    """A .npy whose header claims 10**13 float64 values; the file holds 80 bytes."""
    with open(project / "mine.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (10**7, 10**6)})
        handle.write(bytes(80))


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("write, fragments", [
    # before: AttributeError 'NpzFile' object has no attribute 'ndim'
    (npz_named_npy, ["represent.file: mine.npy: a .npz archive (arrays: features), not one .npy array; save the "
                     "(N, D) array with np.save"]),
    # before: an EOFError traceback
    (lambda project: (project / "mine.npy").write_bytes(b""),
     ["represent.file: mine.npy: unreadable as .npy (No data left in file)"]),
    # before: a MemoryError traceback (72.8 TiB asked)
    (lying_header, ["represent.file: mine.npy: unreadable as .npy (mmap length is greater than file size)"]),
    # before: "not found"
    (lambda project: (project / "mine.npy").mkdir(),
     ["represent.file: mine.npy is a folder, not a file; write the embeddings there"]),
    # before: "not found"
    (lambda project: (project / "mine.npy").symlink_to("mine.npy"),
     ["represent.file: mine.npy is a symlink loop (it points back to itself), not a file"]),
    # before: "not found"
    (lambda project: (project / "mine.npy").symlink_to("gone.npy"),
     ["represent.file: mine.npy is a dangling symlink (to gone.npy, which does not exist)"]),
    # before: accepted; the rows differ only beyond float32's 24 bits, so every stored row is the same
    (npy(np.stack([2**40 + np.arange(N, dtype=np.uint64), np.full(N, 2**40, np.uint64)], 1)),
     ["represent.file: mine.npy: every image has the same embedding (no feature varies)"]),
    # before: accepted; row 5 became 0.0 in float32
    (npy(np.where(np.arange(N)[:, None] == 5, 1e-50, separable())),
     ["represent.file: mine.npy: 1 image(s) have an all-zero embedding, first id 'img-5'"]),
    # before: accepted; row 6 (1e-30) is no zero in float32, but its float32 norm is
    (npy(np.where(np.arange(N)[:, None] == 6, 1e-30, separable())),
     ["represent.file: mine.npy: 1 image(s) have an embedding over 1,000,000,000 times longer or shorter than the "
      "median image's, first id 'img-6'; cosine similarity in float32 cannot use rows that far apart"]),
    # before: accepted; cosine similarity 1 for every pair
    (npy(np.arange(1, N + 1)[:, None] * np.array([[0.3, -1.0, 2.0]])),
     ["represent.file: mine.npy: every image's embedding points the same way (each a positive multiple of one "
      "vector: cosine similarity 1 between every pair"]),
    # before: accepted; a score per image, or each row a positive or negative multiple of one vector, left cosine
    # only +1 or -1: the 10-NN vote fell to chance and embedding-clean dropped 77% of train
    (npy(np.random.default_rng(0).normal(size=(N, 1))),
     ["represent.file: mine.npy: one feature per image: the cosine similarity of two numbers is only +1 or -1"]),
    (npy(np.random.default_rng(0).normal(size=(N, 1)) * np.array([[0.3, -1.0, 2.0]])),
     ["represent.file: mine.npy: every image's embedding lies on one line (each a positive or negative multiple of "
      "one vector: cosine similarity +1 or -1 between every pair)"]),
    # before: accepted; an offset 1,000 times the rows' own size left a largest cosine distance of about 1e-6, which
    # float32 ranks coarsely (a probe's 10-NN vote: 88% -> 82%, and 32% at 3,000 times)
    (npy(np.concatenate([separable(), np.full((N, 1), 1000.0)], axis=1)),
     ["represent.file: mine.npy: every image's embedding points almost the same way (cosine distance at most ",
      "from the first image's): a large offset common to every image, which float32 cosine cannot rank neighbours "
      "under; subtract the mean embedding"]),
    # before: "values are complex128, not numbers"
    (npy(np.ones((N, 2)) * 1j), ["represent.file: mine.npy: values are complex (complex128); embeddings must be "
                                 "real numbers"]),
])
def test_a_users_npy_that_is_not_a_usable_embedding_is_one_line(tmp_path, write, fragments):
    project, before, done = run_represent(tmp_path, write=write, source="file", file="mine.npy")
    assert_error_line(done, *fragments)
    assert_nothing_left(project, before)


def header_of_half_the_features(project):
    """separable() twice over, float32 ``(48, 4)``, under a header that says ``(48, 2)``: 768 bytes of values
    where the header's shape needs 384."""
    with open(project / "mine.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (N, 2)})
        handle.write(np.concatenate([separable(), separable()], axis=1).tobytes())


@pytest.mark.hostile("represent")
def test_a_users_npy_whose_header_describes_fewer_values_than_it_holds_is_one_line(tmp_path):
    # before: "represent: 48 images -> 2-d features from file", exit 0: each stored row was half of a real row (the
    # first 24 rows of the file read as 48), and the rows no longer belonged to their ids
    project, before, done = run_represent(tmp_path, write=header_of_half_the_features, source="file", file="mine.npy")
    line = assert_error_line(done)
    assert line == ("error: represent.file: mine.npy: holds 768 bytes but its header's shape (48, 2) needs 384; the "
                    "header does not describe the data: save the (N, D) array again with np.save")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_torchscript_path_that_is_a_folder_is_named_so(tmp_path):
    # before: "not found"
    project, before, done = run_represent(tmp_path, write=lambda project: (project / "model.pt").mkdir(),
                                          source="pretrained", pretrained={"torchscript": "model.pt"})
    assert_error_line(done, "represent.pretrained.torchscript: model.pt is a folder, not a file; save one with "
                            "torch.jit.save")
    assert_nothing_left(project, before)


def with_ints(frame, *columns):
    """``frame`` with ``columns`` as pandas' nullable Int64."""
    return frame.astype({c: "Int64" for c in columns})


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("write", [
    # before: refused, "values are object, not numbers", naming no column
    parquet(with_ints(pd.DataFrame({"id": ids(), "f0": np.arange(N) % 2, "f1": 1 - np.arange(N) % 2,
                                    "f2": np.linspace(0, 1, N)}), "f0", "f1")),
    # before: refused, "no id column"
    lambda project: pd.DataFrame({"id": ids(), "f0": np.arange(N) % 2, "f1": 1 - np.arange(N) % 2,
                                  "f2": np.linspace(0, 1, N)}).set_index("id").to_parquet(project / "mine.parquet"),
])
def test_a_parquet_with_nullable_integer_columns_or_ids_as_index_is_read(tmp_path, write):
    project, _, done = run_represent(tmp_path, write=write, source="file", file="mine.parquet")
    assert done.returncode == 0, done.stderr[-3000:]
    stored, metrics = outputs(project)
    expected = np.stack([np.arange(N) % 2, 1 - np.arange(N) % 2, np.linspace(0, 1, N)], 1).astype(np.float32)
    np.testing.assert_array_equal(stored, expected)
    assert metrics["scale"] == 1.0 and metrics["knn_val_accuracy"] == 1.0


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("names", [
    ("x", "y"),  # before: refused, "column 'y' reads as a label": a UMAP or t-SNE map is written as x and y
    ("class_score", "umap_y"),  # a label word in the name of a feature holding fractions
], ids=["two_d_map_x_y", "label_word_holding_fractions"])
def test_two_columns_of_fractions_are_read_as_two_features_whatever_their_names(tmp_path, names):
    x, y = np.arange(N) % 2 + 0.25, np.linspace(0.1, 0.9, N)
    write = parquet(pd.DataFrame({"id": ids(), names[0]: x, names[1]: y}))
    project, _, done = run_represent(tmp_path, write=write, source="file", file="mine.parquet")
    assert done.returncode == 0, done.stderr[-3000:]
    stored, _ = outputs(project)
    np.testing.assert_array_equal(stored, np.stack([x, y], 1).astype(np.float32))


@pytest.mark.hostile("represent")
def test_a_y_column_of_whole_numbers_is_refused_as_a_label(tmp_path):
    write = parquet(pd.DataFrame({"id": ids(), "f0": np.linspace(0.1, 0.9, N), "y": (np.arange(N) % 3) * 1.0}))
    project, before, done = run_represent(tmp_path, write=write, source="file", file="mine.parquet")
    assert_error_line(done, "represent.file: mine.parquet: column 'y' reads as a label, split or row index, not a "
                            "feature")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("column", ["class_id", "category_id", "targetIdx", "image_index"])
def test_a_column_of_whole_numbers_named_with_a_label_or_row_word_is_refused(tmp_path, column):
    # before: accepted, exit 0: only the bare names (class, target, index) were seen, so the class ids became a
    # feature and the label cleaners judged each label partly by the label itself
    write = parquet(pd.DataFrame({"id": ids(), column: np.arange(N) % 2, "f0": np.linspace(0.1, 0.9, N),
                                  "f1": np.linspace(0.9, 0.1, N)}))
    project, before, done = run_represent(tmp_path, write=write, source="file", file="mine.parquet")
    line = assert_error_line(done)
    assert line == (f"error: represent.file: mine.parquet: column {column!r} reads as a label, split or row index, not "
                    "a feature: the embedding would carry what the label cleaners judge; write only id and the features "
                    "(a feature of whole numbers: rename it without label, class, category, target, split, index, row "
                    "or idx)")
    assert_nothing_left(project, before)


def ndvi(name):
    """mine.parquet: an int16 vegetation index scaled by 10,000 (as MODIS ships NDVI) named ``name``, and f0 and f1
    on its scale (beside features near 1 it would outweigh them, refused in test_hostile_represent_68)."""
    index = (np.random.default_rng(0).uniform(-0.2, 0.9, N) * 10_000).astype(np.int16)
    return parquet(pd.DataFrame({"id": ids(), name: index, "f0": np.linspace(1_000, 9_000, N),
                                 "f1": np.linspace(9_000, 1_000, N)}))


@pytest.mark.hostile("represent")
def test_a_feature_of_whole_numbers_named_with_a_row_word_is_told_how_to_keep_it(tmp_path):
    # before: "... not a feature: ...; write only id and the features", which it was: no word of how to keep it
    project, before, done = run_represent(tmp_path, write=ndvi("ndvi_index"), source="file", file="mine.parquet")
    assert assert_error_line(done) == (
        "error: represent.file: mine.parquet: column 'ndvi_index' reads as a label, split or row index, not a feature: "
        "the embedding would carry what the label cleaners judge; write only id and the features (a feature of whole "
        "numbers: rename it without label, class, category, target, split, index, row or idx)")
    assert_nothing_left(project, before)
    # renamed as the line says, it is read
    project, _, done = run_represent(tmp_path / "renamed", write=ndvi("ndvi"), source="file", file="mine.parquet")
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("frame, fragments", [
    # before: "values are object, not numbers", naming no column
    (pd.DataFrame({"id": ids(), "f0": pd.array([1, 2, 3, None] + [1] * (N - 4), dtype="Int64"), "f1": np.ones(N)}),
     ["represent.file: mine.parquet: column 'f0' has 1 missing value(s), first id 'img-3'; every image needs every "
      "feature"]),
    # before: "first np.int64(0)"
    (pd.DataFrame({"id": np.arange(N), "f": np.ones(N)}),
     ["represent.file: mine.parquet: 48 id(s) not in the imageset, first 0; embed the imageset's images (ids as in "
      "data/degrade/manifest.parquet, e.g. 'img-0')"]),
])
def test_a_parquet_with_missing_features_or_foreign_ids_is_one_line(tmp_path, frame, fragments):
    project, before, done = run_represent(tmp_path, write=parquet(frame), source="file", file="mine.parquet")
    assert "np.int64" not in assert_error_line(done, *fragments)
    assert_nothing_left(project, before)


def test_a_users_row_far_shorter_than_the_others_yet_within_float32s_reach_is_kept(tmp_path):
    # before: a row 1e-8 of the median was refused, though torch's L2 normalisation (floor 1e-12) handles it
    values = np.where(np.arange(N)[:, None] == 6, 1e-8 * separable(), separable())
    project, _, done = run_represent(tmp_path, write=npy(values), source="file", file="mine.npy")
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.load(project / "data/represent/embeddings.npy"), values.astype(np.float32))


class Buffered(nn.Module):
    """Fills one buffer and returns it: every call hands back the same tensor."""

    def __init__(self):
        super().__init__()
        self.register_buffer("out", torch.zeros(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.out[: x.shape[0]] = x.mean(dim=(2, 3))
        return self.out[: x.shape[0]]


@pytest.mark.hostile("represent")
def test_a_model_returning_one_tensor_every_call_gives_each_image_its_own_features(tmp_path):
    # before: rows 0-15 and 16-31 held the last batch's features (13 distinct rows of 48), every train image
    # a test image's features, and the 10-NN vote read 100%
    project, _, done = run_represent(tmp_path, write=torchscript(Buffered()), source="pretrained",
                                     pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu",
                                                 "batch_size": 16})
    assert done.returncode == 0, done.stderr
    features = np.load(project / "data/represent/embeddings.npy")
    assert len(np.unique(features.round(6), axis=0)) == N


class Dropping(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(x.mean(dim=(2, 3)) + 1.0)


class Exporting(nn.Module):
    """A TorchScript module with an exported method and no forward."""

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class Widening(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, : 4 * x.shape[0]]  # the width follows the batch


def traced_in_training_mode(project):
    model = Dropping().train()
    torch.jit.save(torch.jit.trace(model, torch.rand(2, 3, 16, 16)), str(project / "model.pt"))


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("write, fragments", [
    # before: every run stored other features for the same images, rc 0
    (traced_in_training_mode, ["represent.pretrained: model.pt gives other features for the same images on a second "
                               "call (dropout or batch statistics left on"]),
    # before: AttributeError traceback ('RecursiveScriptModule' object has no attribute 'forward')
    (torchscript(Exporting()), ["represent.pretrained: model.pt failed on a float (B, 3, 16, 16) batch"]),
    # before: a traceback from torch.cat (sizes of tensors must match)
    (torchscript(Widening()), ["represent.pretrained: model.pt returned 64 features for a batch at image 32 and 128 "
                               "for the first; a feature extractor returns one width"]),
])
def test_a_model_that_is_not_one_function_of_its_input_is_one_line(tmp_path, write, fragments):
    project, before, done = run_represent(tmp_path, write=write, source="pretrained",
                                          pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu",
                                                      "batch_size": 32})
    assert_error_line(done, *fragments)
    assert_nothing_left(project, before)


def test_a_model_whose_features_collapse_near_one_direction_is_told_of_its_training():
    # found by a review: the offset advice ("subtract the mean embedding") reached selfsup and the judge, whose user
    # has no embedding to subtract from, beside the advice about training
    from winnow.embedding_checks import checked
    from winnow.errors import WinnowError

    features = (np.random.default_rng(0).normal(size=(50, 8)) * 2e-2 + 10).astype(np.float32)
    with pytest.raises(WinnowError) as refused:
        checked(features, np.arange(50), where="represent.selfsup", user=False)
    assert str(refused.value).endswith("from the first image's): float32 cosine cannot rank neighbours that close; "
                                       "its training diverged or collapsed: lower represent.selfsup.lr or choose "
                                       "another source")


def one_picture(project):
    """Every image of the imageset made the first one's picture (a source that wrote one file N times)."""
    data = blobs()
    data.images[:] = data.images[0]
    write_blobs(project, data)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("source, fragments", [
    ("selfsup", ["represent.selfsup: every one of the 40 train and val images is the same picture, so a model learnt "
                 "from them can tell no image apart"]),
    ("judge", ["represent.judge: every one of the 32 train images is the same picture"]),
])
def test_an_imageset_of_one_picture_is_refused_before_training(tmp_path, source, fragments):
    # before: trained, then "its training diverged or collapsed: lower represent.selfsup.lr"
    project, before, done = run_represent(tmp_path, write=one_picture, source=source, selfsup=SELFSUP)
    assert "lr" not in assert_error_line(done, *fragments)
    assert_nothing_left(project, before)


class FirstOfEachBatchFailed(nn.Module):
    """An encoder that writes one placeholder row (all ones) for the first image of every batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x[:, 0].flatten(1)
        return torch.cat([torch.ones(1, y.shape[1]), y[1:]])


def placeholder_rows(project):
    """separable() with the rows of img-3, img-10 and img-17 (three different pictures) made their mean row."""
    features = separable()
    features[[3, 10, 17]] = features.mean(axis=0)
    np.save(project / "mine.npy", features)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("write, section, first", [
    (placeholder_rows, {"source": "file", "file": "mine.npy"}, "represent.file: mine.npy: 3 different pictures have "
                                                               "one and the same embedding, first ids 'img-3' and "
                                                               "'img-10'"),
    # batches of 16: img-0, img-16 and img-32 get the placeholder
    (torchscript(FirstOfEachBatchFailed()),
     {"source": "pretrained", "pretrained": {"torchscript": "model.pt", "input_size": 16, "batch_size": 16,
                                             "device": "cpu"}},
     "represent.pretrained: model.pt: 3 different pictures have one and the same embedding, first ids 'img-0' and "
     "'img-16'"),
])
def test_one_embedding_for_several_different_pictures_is_refused_as_a_placeholder(tmp_path, write, section, first):
    # before: accepted, exit 0. On MNIST-5k a file whose rows of 976 train images were one placeholder (their mean
    # row) was stored, and embedding-clean judged those images by one another's labels: 979 relabels, not 358
    project, before, done = run_represent(tmp_path, write=write, **section)
    line = assert_error_line(done)
    assert line == (f"error: {first}: a placeholder for images the features could not be computed for? The cleaners "
                    "would judge them by one another's labels; recompute those images' features")
    assert_nothing_left(project, before)


def copies_of_img0(project, *, near: bool):
    """blobs() with img-2, img-4 and img-6 made copies of img-0's picture (a class-0 image), each re-saved one
    background pixel one level off when ``near`` (four different digests), and mine.npy: separable() with the four
    copies given img-0's row, as a deterministic embedder gives them (or, ``near``, features computed from thumbnails,
    rounded or quantised)."""
    data = blobs()
    data.images[[2, 4, 6]] = data.images[0]
    if near:
        data.images[[2, 4, 6], 0, [0, 1, 2], 0] += 1
    write_blobs(project, data)
    features = separable()
    features[[2, 4, 6]] = features[0]
    np.save(project / "mine.npy", features)


@pytest.mark.hostile("represent")
# near: before, 'represent.file: mine.npy: 4 different pictures have one and the same embedding, first ids 'img-0'
# and 'img-2': a placeholder ...?', exit 1, with no way round but recomputing features that were right
@pytest.mark.parametrize("near", [False, True], ids=["copies", "near_copies"])
def test_copies_of_one_picture_may_share_one_embedding(tmp_path, near):
    project, _, done = run_represent(tmp_path, write=partial(copies_of_img0, near=near), source="file",
                                     file="mine.npy")
    assert done.returncode == 0, done.stderr[-3000:]
    stored, _ = outputs(project)
    expected = separable()
    expected[[2, 4, 6]] = expected[0]
    np.testing.assert_array_equal(stored, expected)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("how", ["absolute", "link"])
def test_a_users_file_in_data_represent_under_another_name_is_refused_before_dvc_empties_the_folder(tmp_path, how):
    # before: only "data/represent/..." as written was refused; an absolute path or a link into the folder passed the
    # source stage, dvc repro then deleted data/represent with the user's file in it, and represent said "not found"
    project = tmp_path / "project"
    kept = project / "data/represent/mine.npy"
    named = str(kept) if how == "absolute" else "mine.npy"
    params = default_params()
    params["represent"] = {**params["represent"], "source": "file", "file": named}
    make_project(project, params)
    kept.parent.mkdir(parents=True)
    np.save(kept, separable())
    if how == "link":
        (project / "mine.npy").symlink_to(kept)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "source", timeout=300))
    assert line == (f"error: params.yaml: represent.file: {named} lies in data/represent, the stage's own output, which "
                    "dvc repro empties before it runs; keep your file elsewhere")
    assert_nothing_left(project, before)
