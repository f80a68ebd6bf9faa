"""Hostile inputs to the nearest-neighbour and embedding code, probe 79:

- a user's ``.npy`` of float64 subnormal values (about 1e-310): represent scaled them by 2**1030 and recorded the
  factor as infinity (metrics/represent.json held ``"scale": Infinity``, which is no JSON; "values stored times
  inf"), exit 0; now one line.
"""

from __future__ import annotations

import numpy as np
import pytest

from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_represent import separable
from test_hostile_represent_65 import _project, _represent


@pytest.mark.hostile("represent")
def test_a_users_embedding_of_float64_subnormal_numbers_is_one_line_not_a_scale_of_infinity(tmp_path, monkeypatch,
                                                                                          capsys):
    project = _project(tmp_path, source="file", file="mine.npy", knn_k=5)
    np.save(project / "mine.npy", separable().astype(np.float64) * 1e-310)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line.startswith("error: represent.file: mine.npy: the embeddings are float64 subnormal numbers (median row "
                           "length ")
    assert line.endswith("below float64's smallest normal number 2.2e-308), which hold fewer digits, and the factor "
                         "that would bring them near 1 is beyond float64; save the features as the model gave them, "
                         "not scaled down")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_users_embedding_just_above_float64s_normal_numbers_is_still_stored_near_unit_norm(tmp_path, monkeypatch,
                                                                                            capsys):
    project = _project(tmp_path, source="file", file="mine.npy", knn_k=5)
    np.save(project / "mine.npy", separable().astype(np.float64) * 2.0 ** -1000)  # normal: its factor 2**1000 fits
    done = _represent(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    stored = np.load(project / "data/represent/embeddings.npy")
    # a power of two alone: the file's own values back, bit for bit, times 2**1000
    np.testing.assert_array_equal(stored, separable())
