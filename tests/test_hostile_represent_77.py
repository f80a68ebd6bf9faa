"""Hostile inputs to the represent stage, probe 77:

- a user's parquet whose ``embedding`` list column has pyarrow's pandas dtype (``list<item: double>[pyarrow]``, as
  pandas 3 writes a column read or built with ``dtype_backend="pyarrow"``), its rows in another order: pandas cannot
  read back the dtype its own record in the file names, and the whole file was refused as "unreadable as parquet";
  now read by id as any other parquet;
- a ``.npy``'s ids.json that lists ids the imageset does not hold (row numbers for ids, another data set's): named as
  rows of a manifest degrade had reordered since, the user told its seed or perturbations had changed; now named as
  ids not in the imageset, with an id of the manifest to copy;
- a TorchScript model that returns bool features (a comparison, a mask): stored as 0 and 1, where a user's file of
  booleans is refused as no numbers; now refused in one line.

Each runs ``stages/represent.py`` in this process on test_represent's 48 blob images (no training)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch
from torch import nn

from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_represent import N, ids, separable
from test_hostile_represent_65 import _project, _represent

SCRIPTED = {"input_size": 16, "batch_size": 16, "device": "cpu"}


@pytest.mark.hostile("represent")
def test_a_parquet_whose_embedding_column_has_pyarrows_list_dtype_is_read_by_id(tmp_path, monkeypatch, capsys):
    # before: "error: represent.file: mine.parquet: unreadable as parquet (data type 'list<item: double>[pyarrow]' not
    # understood)", of a whole file pyarrow reads: pandas' record of the column's dtype is one pandas cannot build again
    project = _project(tmp_path, source="file", file="mine.parquet", knn_k=5)
    features = separable()
    order = np.arange(N)[::-1]  # rows in another order than the manifest's: the ids place them
    column = pd.array([list(map(float, row)) for row in features[order]], dtype=pd.ArrowDtype(pa.list_(pa.float64())))
    pd.DataFrame({"id": ids()[order], "embedding": column}).to_parquet(project / "mine.parquet")
    done = _represent(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    assert (json.loads((project / "data/represent/ids.json").read_text()) == ids().tolist())
    # the file's own values, in manifest order: separable() is float32 and of norm near 1, so stored as given
    assert np.array_equal(np.load(project / "data/represent/embeddings.npy"), features)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize(("listed", "first"), [
    ([str(i) for i in range(N)], "'0' (row 0)"),  # row numbers written for ids
    ([*ids()[:40], *(f"other-{i}" for i in range(8))], "'other-0' (row 40)"),  # rows of another data set's images
], ids=["row-numbers", "foreign"])
def test_a_npy_whose_ids_json_names_images_the_imageset_lacks_says_so(tmp_path, monkeypatch, capsys, listed, first):
    # before: "row 0 is '0' in ids.json but 'img-0' in data/degrade/manifest.parquet: the file was made for another
    # manifest (degrade's seed or perturbations changed); write it again for this one": no degrade had changed, and
    # the ids were not the manifest's in another order but none of its ids
    project = _project(tmp_path, source="file", file="mine.npy", knn_k=5)
    np.save(project / "mine.npy", separable())
    (project / "ids.json").write_text(json.dumps(listed))
    foreign = sum(name not in set(ids()) for name in listed)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == (f"error: represent.file: mine.npy: ids.json holds {foreign} id(s) not in the imageset, first "
                    f"{first}; list the id of each row as data/degrade/manifest.parquet names its image (e.g. "
                    "'img-0'), or embed the imageset's images")
    assert_nothing_left(project, before)


class _Thresholded(nn.Module):
    """Bool features: the sign of each channel's mean and of the image's brightest value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)) > 0, x.amax(dim=(2, 3)) > 1], dim=1)


@pytest.mark.hostile("represent")
def test_a_torchscript_model_returning_bool_features_is_one_line(tmp_path, monkeypatch, capsys):
    # before: exit 0, the booleans stored as 0 and 1 (a 6-d embedding of a comparison), where a .npy of the same
    # booleans is refused as "values are bool, not numbers"
    project = _project(tmp_path, source="pretrained", pretrained={"torchscript": "net.pt", **SCRIPTED}, knn_k=5)
    torch.jit.save(torch.jit.script(_Thresholded().eval()), str(project / "net.pt"))
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.pretrained: net.pt returned bool features (a comparison, as logits > 0, or a "
                    "mask), not numbers; return the values before the comparison, or cast them to float in the model "
                    "(.float())")
    assert_nothing_left(project, before)
