"""Leftovers of the review of stop 77's mends (outliers' copies in folds mode, the .npz and the trusted set given as
zips, paths holding a line break):

- kNN outliers in folds mode, where one held-out image has a copy among its fold's references: every query of the
  space was held to one neighbour fewer, so with k at the references' count an image with no copy scored otherwise for
  another image's copy, and with one reference picture it scored 1, the most normal of all (winnow.outliers._knn);
- LOF outliers in folds mode, where one held-out image has a copy among the references: every query of the space was
  scored by the hand-written LOF, whose neighbours where distances tie at the k-th differ from scikit-learn's, so an
  image with no copy scored up to 0.027 apart for another image's copy (winnow.outliers._lof);
- an .npz whose zip member list is damaged (a bad central directory signature), or names a zip version Python does not
  read: the new check for zipped image folders opened it first and stopped ingest with a traceback, where np.load's
  refusal worded it before; a zip version past Python's was a traceback at np.load already (winnow.npz_files);
- represent.file (or represent.pretrained.torchscript, .path) holding a line break (a YAML block scalar): the params
  check passed it, and represent's refusal that it was not found printed the break, one error on two lines, as
  ingest.path's did before its mend (winnow.source_checks);
- ingest.path holding a NUL in a project with its dvc.yaml: the checks of the pipeline's outputs resolved it with
  os.path.realpath, a ValueError traceback (the line-break check before them hid it, saying the NUL was a YAML block
  scalar's break, as it said of a tab); now the NUL is left to its reader's refusal, a tab named for what it is.

The outlier cases call :func:`winnow.outliers.outlier_scores` on generated embeddings in this process; the others run
the ingest stage's ``main`` in this process and assert its one message whole, with nothing left behind.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hostile_harness import ROOT, default_params, make_project
from test_hostile_ingest import image_folder
from test_hostile_sources_77 import project_of, refused
from winnow.neighbours import Space
from winnow.outliers import outlier_scores


def _scores(references: np.ndarray, queries: np.ndarray, *, method: str, k: int) -> np.ndarray:
    """Normality of ``queries`` held out against ``references`` (folds mode: no query is a reference row)."""
    return outlier_scores(Space(np.arange(1000, 1000 + len(queries)), queries, np.arange(len(references)), references,
                                np.zeros(len(references), np.int64)), method=method, k=k)


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.hostile("outliers")
def test_a_held_out_image_with_no_copy_keeps_every_knn_neighbour_beside_another_images_copy():
    # six reference pictures, k = 6: an image with no copy among them has all six as neighbours; a second query, a
    # copy of reference 0, has five. before: once that copy was in the space, the first image was held to five as well
    # (0.517 where its mean over the six is 0.496)
    rng = np.random.default_rng(0)
    references = rng.normal(size=(6, 8)).astype(np.float32)
    odd = rng.normal(size=(1, 8)).astype(np.float32)
    scores = _scores(references, np.concatenate([odd, references[:1]]), method="knn", k=6)
    cosine = _unit(references) @ _unit(odd)[0]
    assert scores[0] == pytest.approx(1 - (1 - cosine).mean() / 2, rel=1e-6)


@pytest.mark.hostile("outliers")
def test_an_image_unlike_the_one_reference_picture_is_no_knn_normal_for_another_images_copy():
    # the references are three copies of one picture (one point), k = 1. before: with a copy of that picture among
    # the queries no neighbour was left to any query, and the image unlike it scored 1, the most normal of all
    rng = np.random.default_rng(0)
    picture = rng.normal(size=(1, 8)).astype(np.float32)
    odd = rng.normal(size=(1, 8)).astype(np.float32)
    scores = _scores(np.repeat(picture, 3, axis=0), np.concatenate([odd, picture]), method="knn", k=1)
    cosine = float(_unit(picture)[0] @ _unit(odd)[0])
    assert scores.tolist() == [pytest.approx(1 - (1 - cosine) / 2, rel=1e-6), 1.0]


@pytest.mark.hostile("outliers")
def test_held_out_images_with_no_copy_score_lof_as_without_another_images_copy():
    # points of a small integer lattice (distances tie at the k-th neighbour), 30 held-out images none of which is a
    # copy of one. before: a 31st, a copy of reference 0, sent every query through the hand-written LOF, which takes
    # other tied neighbours than scikit-learn's, and images with no copy scored up to 0.027 apart
    rng = np.random.default_rng(3)
    lattice = np.unique(rng.integers(-2, 3, size=(40, 3)), axis=0)
    references = lattice[np.abs(lattice).sum(axis=1) > 0].astype(np.float32)
    queries = (rng.integers(-2, 3, size=(30, 3)) + 0.01).astype(np.float32)
    assert (np.linalg.norm(_unit(queries)[:, None] - _unit(references)[None], axis=2) > 1e-3).all()  # no copy
    alone = _scores(references, queries, method="lof", k=5)
    beside = _scores(references, np.concatenate([queries, references[:1]]), method="lof", k=5)
    assert beside[:-1].tolist() == alone.tolist()


def _damaged_npz(tmp_path, *, offset: int, value: bytes):
    """An .npz of 4 images and labels whose last zip central directory entry has ``value`` at ``offset``."""
    path = tmp_path / "set.npz"
    np.savez(path, images=np.zeros((4, 8, 8, 3), np.uint8), labels=np.array([0, 1, 0, 1]))
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")
    data[entry + offset : entry + offset + len(value)] = value
    path.write_bytes(bytes(data))
    return path


@pytest.mark.hostile("sources")
@pytest.mark.parametrize(("offset", "value", "reason"), [
    (2, b"\x09\x02", "Bad magic number for central directory"),
    (6, (108).to_bytes(2, "little"), "zip file version 10.8")])
def test_an_npz_whose_member_list_is_damaged_is_refused_in_one_line(tmp_path, monkeypatch, offset, value, reason):
    # before: the check for a zipped image folder opened the zip before np.load did, and zipfile.BadZipFile ("Bad magic
    # number for central directory") stopped ingest with a traceback; a member list asking for zip version 10.8 was
    # one at np.load already (NotImplementedError)
    path = _damaged_npz(tmp_path, offset=offset, value=value)
    project = project_of(tmp_path, source="npz", path=str(path))
    assert refused(project, monkeypatch) == f"{path}: not a readable .npz without pickles ({reason})"


@pytest.mark.hostile("sources")
@pytest.mark.parametrize(("key", "source"), [("file", "file"), ("pretrained.torchscript", "pretrained"),
                                             ("pretrained.path", "pretrained")])
def test_a_represent_path_holding_a_line_break_is_refused_in_one_line(tmp_path, monkeypatch, key, source):
    # before (a YAML block scalar, `file: |`, keeps the break): the params check passed it, and represent refused
    # "represent.file: emb.npy\n not found; write the embeddings there or point represent.file at them", one error
    # printed on two lines
    params = default_params()
    params["represent"]["source"] = source
    if key == "pretrained.path":
        params["represent"]["pretrained"]["model"] = "timm:resnet18"
    where, _, name = key.rpartition(".")
    (params["represent"][where] if where else params["represent"])[name] = "emb.npy\n"
    project = make_project(tmp_path / "project", params)
    assert refused(project, monkeypatch) == (
        f"params.yaml: represent.{key}: \"emb.npy\\n\" holds the control character '\\n', which no path typed on one "
        "line holds (a YAML block scalar keeps its line break); write the path on one line, as a plain or quoted "
        "string")


def _project_with_outputs(tmp_path, **ingest):
    """A project with the pipeline's dvc.yaml (its outputs known to the params check) reading ``ingest``."""
    project = project_of(tmp_path, **ingest)
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    return project


@pytest.mark.hostile("sources")
def test_a_source_path_holding_a_nul_in_a_project_is_refused_by_its_reader_in_one_line(tmp_path, monkeypatch):
    # a YAML "\0" in ingest.path of a project with its dvc.yaml. before: the check of outputs below the folder resolved
    # it (os.path.realpath) and stopped with "ValueError: embedded null byte", a traceback; and the line-break check
    # before it said the NUL was "a YAML block scalar's line break"
    data = image_folder(tmp_path / "data", {"cat": 10, "dog": 10})
    project = _project_with_outputs(tmp_path, path=f"{data}\0")
    assert refused(project, monkeypatch) == (
        f"ingest.path: {ascii(str(data) + chr(0))} holds a NUL character, which no path can; fix it in params.yaml")


@pytest.mark.hostile("sources")
def test_a_source_path_holding_a_tab_is_not_said_to_be_a_line_break(tmp_path, monkeypatch):
    # a double-quoted YAML "\t" in ingest.trusted_path. before: "... holds the control character '\t', which no path
    # typed on one line holds (a YAML block scalar keeps its line break); write the path on one line", a cause it
    # does not have
    data = image_folder(tmp_path / "data", {"cat": 10, "dog": 10})
    project = _project_with_outputs(tmp_path, path=str(data), trusted_path="book\tone")
    assert refused(project, monkeypatch) == (
        "params.yaml: ingest.trusted_path: \"book\\tone\" holds the control character '\\t', which a path typed by "
        "hand does not hold (a double-quoted YAML string reads \\t or \\x.. as one); write the path as its folders and "
        "file are named")
