"""Hostile names of a user's embedding file (probe 69): the suffix in capitals (EMB.NPY, a Windows tool's) or
parquet's short .pq, read as what they are, and a .npy's ids.json listed by the same rule so that an edit to it
reruns represent. In-process on test_represent's blobs (48 images of 12x12): no training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from test_hostile_represent_67 import UNCHECKED
from test_represent import blobs
from winnow import represent
from winnow.embedding_file import read_embedding_file
from winnow.errors import WinnowError
from winnow.source_listing import represent_listing
from winnow.stage import write_json


@pytest.mark.hostile("represent")
def test_an_embedding_file_named_in_capitals_or_pq_is_read_as_its_format(tmp_path, capsys):
    data = blobs()
    ids, digests = data.manifest["id"].to_numpy(), represent._digests(data).to_numpy()
    features = np.arange(len(data) * 2, dtype=np.float32).reshape(len(data), 2)
    # rows in reverse order with their ids: read back in manifest order, so the .pq was read as a parquet by id
    pd.DataFrame({"id": ids[::-1], "a": features[::-1, 0], "b": features[::-1, 1]}).assign(
        digest=digests[::-1]).to_parquet(tmp_path / "mine.pq")
    for name in ("MINE.NPY", "Mine.Npy"):
        with open(tmp_path / name, "wb") as file:
            np.save(file, features)
    write_json(tmp_path / "ids.json", ids[::-1].tolist())
    # before: "represent.file: .../MINE.NPY: unknown format '.NPY'; write a .npy (rows in manifest order) ...", of a .npy
    np.testing.assert_array_equal(read_embedding_file(tmp_path / "mine.pq", ids, digests), features)
    assert capsys.readouterr().out == ""
    # the ids.json beside it is checked, as for a .npy: its rows do not follow the manifest's ids
    with pytest.raises(WinnowError) as refused:
        read_embedding_file(tmp_path / "MINE.NPY", ids, digests)
    assert str(refused.value) == (f"represent.file: {tmp_path / 'MINE.NPY'}: row 0 is {ids[-1]!r} in ids.json but "
                                  f"{ids[0]!r} in data/degrade/manifest.parquet: the file was made for another "
                                  "manifest (degrade's seed or perturbations changed); write it again for this one")
    write_json(tmp_path / "ids.json", ids.tolist())
    for name in ("MINE.NPY", "Mine.Npy"):
        np.testing.assert_array_equal(read_embedding_file(tmp_path / name, ids, digests), features)
        assert capsys.readouterr().out == UNCHECKED.format(path=tmp_path / name)
        # and the source stage lists that ids.json by content, so an edit to it reruns represent
        listed = represent_listing({"file": str(tmp_path / name)}, root=tmp_path)
        assert listed["represent.file ids.json"]["files"] == 1
    # a suffix of another format still names the ones read
    np.save(tmp_path / "mine.npy", features)
    (tmp_path / "mine.npy").rename(tmp_path / "mine.bin")
    with pytest.raises(WinnowError) as refused:
        read_embedding_file(tmp_path / "mine.bin", ids, digests)
    assert str(refused.value) == (f"represent.file: {tmp_path / 'mine.bin'}: unknown format '.bin'; write a .npy (rows "
                                  "in manifest order) or a .parquet or .pq (an id column)")
