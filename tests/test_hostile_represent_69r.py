"""Faults of the process met reading represent's inputs, found in review of stop 69: the process's limits met as
the user's embedding file is read are the machine's fault, never the file's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow
import pytest

from winnow.embedding_file import read_embedding_file
from winnow.errors import fault_line


@pytest.mark.hostile("represent")
def test_an_embedding_parquet_whose_reader_thread_the_limits_refuse_is_a_thread_fault_not_unreadable(tmp_path,
                                                                                                      monkeypatch):
    # before: "represent.file: <file>: unreadable as parquet (Unknown error: Failed to launch worker thread: Resource
    # temporarily unavailable)": the user's whole embeddings blamed for the process's limit (a7a3198f mended the
    # imageset's manifest reader alone)
    path = tmp_path / "features.parquet"
    pd.DataFrame({"id": ["a"], "f0": [0.5]}).to_parquet(path)

    def refused_thread(*_args, **_kwargs):  # arrow's Status::UnknownError, raised as pyarrow's base exception
        raise pyarrow.ArrowException("Unknown error: Failed to launch worker thread: Resource temporarily unavailable")

    monkeypatch.setattr(pd, "read_parquet", refused_thread)
    with pytest.raises(pyarrow.ArrowException) as failed:
        read_embedding_file(path, np.array(["a"]), np.array(["0" * 16]))
    assert fault_line(failed.value) == (
        "cannot start a thread: the process's memory limit (`ulimit -v`) or its limit of processes and threads "
        "(`ulimit -u`, a container's pids limit) is reached; raise it or free memory, then rerun", 1)
