"""Hostile inputs to the represent stage, third probe: a user's feature table with a size or time column beside
the features, and a user's file in the home folder written with ``~``. Each ends in one ``error:`` line with
nothing left behind, or is read as meant."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage
from test_hostile_represent import N, ids, outputs, parquet, run_represent, separable, torchscript
from winnow.source_listing import represent_listing


def assert_offset_line(line: str, where: str, *, column: int | None = None) -> None:
    """``line`` is represent's refusal, naming ``where``, of embeddings that point almost one way for an offset
    common to every image; with ``column``, naming that feature of a user's table as a size to leave out."""
    named = ("" if column is None else f", or, if feature {column} (counted from 0) is a size, a count or a time "
             "rather than a feature, leave it out: it lies far from 0 for every image and outweighs the rest")
    assert re.fullmatch(
        re.escape(f"error: {where}: every image's embedding points almost the same way (cosine distance at most ")
        + r"\d\.\de-\d\d" + re.escape(
            " from the first image's): a large offset common to every image, which float32 cosine cannot rank "
            "neighbours under; subtract the mean embedding" + named), line), line


def assert_size_column_named(tmp_path, table: pd.DataFrame, *, column: int) -> None:
    """represent.file a parquet of ``table``, whose feature ``column`` is a size: one error: line naming it
    (:func:`assert_offset_line`), nothing left behind."""
    project, before, done = run_represent(tmp_path, write=parquet(table), source="file", file="mine.parquet")
    assert_offset_line(assert_error_line(done), "represent.file: mine.parquet", column=column)
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_size_column_beside_the_features_is_named_not_called_one_direction(tmp_path):
    # a table of two features near 1 and the image's file size in bytes (50,000 and up): every row points almost
    # along the size axis. before: "every image's embedding points the same way (each a positive multiple of one
    # vector ...)", which the rows were not, naming no column and no way out
    features = separable()
    table = pd.DataFrame({"id": ids(), "f0": features[:, 0], "f1": features[:, 1], "bytes": 50_000.0 + np.arange(N)})
    assert_size_column_named(tmp_path, table, column=2)
    # left out as the line says, the two features are read
    project, _, done = run_represent(tmp_path / "without", write=parquet(table.drop(columns="bytes")), source="file",
                                     file="mine.parquet")
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.hostile("represent")
def test_a_users_file_in_the_home_folder_written_with_a_tilde_is_read_and_its_ids_listed(tmp_path, monkeypatch):
    # before: "error: represent.file: ~/mine.npy not found; ..." though the file was there and the source stage,
    # which expands ~ as ingest.path does, had listed it; and its ids.json was listed as absent ({}), so an edit of
    # it reran nothing
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    features = separable()
    np.save(home / "mine.npy", features)
    (home / "ids.json").write_text(json.dumps(ids().tolist()))
    project, _, done = run_represent(tmp_path, source="file", file="~/mine.npy")
    assert done.returncode == 0, done.stderr[-3000:]
    stored, metrics = outputs(project)
    np.testing.assert_array_equal(stored, features)
    assert metrics["file"] == str(home / "mine.npy")
    assert "no ids.json" not in done.stdout  # its ids.json was found beside it and checked
    listed = represent_listing({"file": "~/mine.npy"}, root=project)
    assert listed["represent.file ids.json"]["files"] == 1


@pytest.mark.hostile("represent")
def test_a_users_file_in_data_represent_written_with_a_tilde_is_refused_before_dvc_empties_the_folder(tmp_path,
                                                                                                      monkeypatch):
    # before: ~/project/data/represent/mine.npy passed the check (read as a folder named ~), and dvc repro would have
    # deleted the file with the folder before represent read it
    monkeypatch.setenv("HOME", str(tmp_path))
    project = tmp_path / "project"
    params = default_params()
    params["represent"] = {**params["represent"], "source": "file", "file": "~/project/data/represent/mine.npy"}
    make_project(project, params)
    (project / "data/represent").mkdir(parents=True)
    np.save(project / "data/represent/mine.npy", separable())
    before = files_under(project)
    line = assert_error_line(run_stage(project, "source", timeout=300))
    assert line == ("error: params.yaml: represent.file: ~/project/data/represent/mine.npy lies in data/represent, the "
                    "stage's own output, which dvc repro empties before it runs; keep your file elsewhere")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("section, key, url", [
    ({"source": "file", "file": "s3://bucket/emb.parquet"}, "file", "s3://bucket/emb.parquet"),
    ({"source": "pretrained", "pretrained": {"torchscript": "https://example.org/encoder.pt"}},
     "pretrained.torchscript", "https://example.org/encoder.pt"),
])
def test_a_url_for_a_file_represent_reads_is_refused_as_a_url(tmp_path, section, key, url):
    # before: "error: represent.file: s3:/bucket/emb.parquet not found; ...", the URL cut to a local path, after
    # ingest had run (ingest.path reads URLs; represent's files never did)
    project, before, done = run_represent(tmp_path, **section)
    assert assert_error_line(done) == (
        f"error: params.yaml: represent.{key}: {url} is a URL, and represent reads local files only (ingest.path alone "
        "reads buckets and URLs); download it and give its path")
    assert_nothing_left(project, before)


def with_digests(tamper: int | None):
    """A parquet writer: id, the manifest's pixel digests (the one at row ``tamper`` another picture's) and two
    feature columns, rows in reverse order."""
    def write(project):
        manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
        digests = manifest["digest"].to_numpy().copy()
        if tamper is not None:
            digests[tamper] = digests[tamper + 1]
        features = separable()
        pd.DataFrame({"id": manifest["id"], "digest": digests, "f0": features[:, 0],
                      "f1": features[:, 1]}).iloc[::-1].to_parquet(project / "mine.parquet")
    return write


@pytest.mark.hostile("represent")
def test_a_parquet_row_made_for_other_pixels_than_its_id_holds_now_is_one_line(tmp_path):
    # a change to degrade may keep every id but change the pixels under some (on MNIST-5k's default
    # damage 587 of 4,755 ids hold pixels degrade changed): a file made before embeds the old pictures. before: a
    # digest column, the one way to say which pixels a row was made from, was refused as "column 'digest' is object,
    # not numbers"
    project, before, done = run_represent(tmp_path, write=with_digests(7), source="file", file="mine.parquet")
    assert assert_error_line(done) == (
        "error: represent.file: mine.parquet: 1 image(s) now hold other pixels than their row's digest, first id "
        "'img-7': the file was made for another data/degrade (its seed or perturbations changed); embed those images "
        "again")
    assert_nothing_left(project, before)
    # the digests of the pixels there now: read, the digest no feature
    project, _, done = run_represent(tmp_path / "current", write=with_digests(None), source="file",
                                     file="mine.parquet")
    assert done.returncode == 0, done.stderr[-3000:]
    stored, _ = outputs(project)
    np.testing.assert_array_equal(stored, separable())


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("url, shown", [
    # a presigned link: its signature is a credential for as long as it lasts
    ("https://bucket.s3.amazonaws.com/emb.parquet?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=0badc0ffee",
     "https://bucket.s3.amazonaws.com/emb.parquet…"),
    ("s3://AKIAEXAMPLE:hunter2secret@bucket/emb.parquet", "s3://bucket/emb.parquet…"),
])
def test_a_url_refused_for_represent_does_not_repeat_its_credentials(tmp_path, url, shown):
    # found by a review: the URL refusal repeated the whole value, a presigned link's signature or a user:password
    # before the bucket included, into the terminal and every log of the run; ingest.path's refusals never do
    project, before, done = run_represent(tmp_path, source="file", file=url)
    assert assert_error_line(done) == (
        f"error: params.yaml: represent.file: {shown} is a URL, and represent reads local files only (ingest.path "
        "alone reads buckets and URLs); download it and give its path")
    for secret in ("0badc0ffee", "AKIAEXAMPLE", "hunter2secret"):
        assert secret not in done.stdout + done.stderr
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_file_url_for_represent_is_told_its_path_not_to_download_it(tmp_path):
    # found by a review: file:///home/me/emb.npy, a file on this machine (ingest.path reads such URLs), was told
    # "is a URL, and represent reads local files only ...; download it and give its path"
    project, before, done = run_represent(tmp_path, source="file", file="file:///home/me/my%20features/emb.npy")
    assert assert_error_line(done) == (
        "error: params.yaml: represent.file: file:///home/me/my%20features/emb.npy is a file:// URL, and represent "
        "reads plain paths only; write the path itself: /home/me/my features/emb.npy")
    assert_nothing_left(project, before)


class ConstantBeside(nn.Module):
    """A model whose features are the means of each image's top and bottom halves beside one large constant: a bias
    its last layer adds, not a size or time column."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        halves = torch.stack([x[:, 0, :8].mean(dim=(1, 2)), x[:, 0, 8:].mean(dim=(1, 2))], dim=1)
        return torch.cat([halves, torch.full_like(halves[:, :1], 1e5)], dim=1)


@pytest.mark.hostile("represent")
def test_a_models_offset_feature_is_not_called_a_size_column_to_leave_out(tmp_path):
    # found by a review: the size-or-time hint (9725146) reached source pretrained, whose features come out of a
    # model: "or, if feature 2 (counted from 0) is a size, a count or a time rather than a feature, leave it out",
    # which a model's output never is and no setting can leave out
    project, before, done = run_represent(tmp_path, write=torchscript(ConstantBeside()), source="pretrained",
                                          pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu"})
    assert_offset_line(assert_error_line(done), "represent.pretrained: model.pt")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_size_column_the_same_for_every_image_beside_one_feature_is_named_not_called_one_direction(tmp_path):
    # found by a review: one feature beside a size column that every image shares (uncompressed files, 50,000 bytes
    # each). Centred, the rows' only varying column lies on a line whatever the constant beside it, so they were
    # still told "each a positive multiple of one vector", which (s, 50000) and (t, 50000) are not, naming no column
    table = pd.DataFrame({"id": ids(), "score": separable()[:, 0], "bytes": np.full(N, 50_000.0)})
    assert_size_column_named(tmp_path, table, column=1)


def with_own_digests(project):
    """A parquet whose digest column is the user's own: a sha256 of each image's file (as many data sets carry),
    one of them missing."""
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    own = [hashlib.sha256(str(i).encode()).hexdigest() for i in manifest["id"]]
    own[3] = None
    features = separable()
    pd.DataFrame({"id": manifest["id"], "digest": own, "f0": features[:, 0],
                  "f1": features[:, 1]}).to_parquet(project / "mine.parquet")


@pytest.mark.hostile("represent")
def test_a_digest_column_that_is_not_the_manifests_is_told_so_not_to_embed_again(tmp_path):
    # found by a review: a digest column of the user's own (a file's sha256, or a missing value) was told "48
    # image(s) now hold other pixels than their row's digest ...: the file was made for another data/degrade (its seed
    # or perturbations changed); embed those images again", which a file embedded again for these very pixels
    # would be told once more: no way out
    project, before, done = run_represent(tmp_path, write=with_own_digests, source="file", file="mine.parquet")
    first = hashlib.sha256(b"img-0").hexdigest()
    assert assert_error_line(done) == (
        f"error: represent.file: mine.parquet: 48 row(s) hold a digest unlike data/degrade/manifest.parquet's (16 hex "
        f"digits), first id 'img-0' ({first!r}); the digest column copies the manifest's, to say which pixels each "
        "row was made from: copy it there, or leave the column out")
    assert_nothing_left(project, before)
