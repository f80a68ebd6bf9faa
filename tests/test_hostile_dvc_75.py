"""Hostile inputs of a user driving winnow through DVC's experiments, found at probe 75 (dvc):

- ``dvc exp run --queue`` (or ``--temp``) of a project whose ``ingest.path`` (or ``ingest.trusted_path``,
  ``represent.file``) is a relative path to a folder or file in the project that neither git nor DVC tracks: the
  experiment runs in DVC's copy of the project (``.dvc/tmp/exps/<tmp>/``), which lacks it, and ``dvc queue logs``
  said "ingest.path: raw does not exist" of a folder the user saw there; now one line says it is missing from the
  experiment's copy and how to give it one. A path missing from the project too is refused by its reader as before.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError
from winnow.output_paths import check_input_file


def _images(folder):
    for c in range(2):
        (folder / f"c{c}").mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((8, 8), 40 * c + i, np.uint8)).save(folder / f"c{c}" / f"{i}.png")


def _queued_copy(tmp_path, **ingest):
    """A project holding ``raw/`` (class folders no one tracks) and, as `dvc exp run --queue` makes it, the copy of it
    a queued experiment runs in: params.yaml, dvc.yaml and .dvc/, but no raw/."""
    project = tmp_path / "project"
    _images(project / "raw")
    (project / ".dvc").mkdir()
    params = default_params()
    params["ingest"].update({"source": "imagefolder", "path": "raw", **ingest})
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline", "pruned"]
    copy = make_project(project / ".dvc/tmp/exps/tmpq7x2", params)
    (copy / ".dvc").mkdir()
    (copy / "dvc.yaml").write_text("stages: {}\n")
    return project, copy


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize(("param", "ingest"), [
    ("ingest.path", {}),
    ("ingest.trusted_path", {"path": "/nowhere/a/path/read/after/the/trusted/one", "trusted_path": "raw"}),
])
def test_a_relative_path_the_queued_copy_lacks_is_said_to_be_missing_from_the_copy(tmp_path, monkeypatch, capsys,
                                                                                  param, ingest):
    # before: "error: ingest.path: raw does not exist (expected root/<class>/<image files>)" in `dvc queue logs`,
    # of the folder the user's project holds (and "ingest.trusted_path: raw does not exist; give ...")
    project, copy = _queued_copy(tmp_path, **ingest)
    before = files_under(copy)
    done = _stage_in_process(copy, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {param}: raw is not in the copy of the project this experiment runs in ({copy}), though "
        f"{project / 'raw'} is there: `dvc exp run --queue` and `--temp` copy only what git and DVC track; give its "
        "absolute path, or commit it to git or DVC (dvc add raw, then commit raw.dvc)"])
    assert_nothing_left(copy, before)


@pytest.mark.hostile("ingest")
def test_a_relative_path_missing_from_the_project_too_is_refused_by_its_reader(tmp_path, monkeypatch, capsys):
    # nothing to say of the copy: the reader's line, as in the project itself
    project, copy = _queued_copy(tmp_path)
    (project / "raw").rename(project / "elsewhere")
    before = files_under(copy)
    done = _stage_in_process(copy, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: ingest.path: raw does not exist (expected root/<class>/<image files>)"])
    assert_nothing_left(copy, before)


@pytest.mark.hostile("represent")
def test_a_represent_file_the_copy_of_a_subdir_project_lacks_is_said_to_be_missing_from_the_copy(tmp_path,
                                                                                                 monkeypatch):
    # `dvc init --subdir`: DVC copies the git repository, so the experiment runs in <tmp>/<subdir>. Before:
    # "represent.file: emb.npy not found; write the embeddings there or ..."
    project = tmp_path / "repo" / "vision"
    (project / ".dvc").mkdir(parents=True)
    (project / "emb.npy").write_bytes(b"embeddings")
    copy = project / ".dvc/tmp/exps/tmpa1b2" / "vision"
    (copy / ".dvc").mkdir(parents=True)
    monkeypatch.chdir(copy)
    with pytest.raises(WinnowError) as refused:
        check_input_file(Path("emb.npy"), option="represent.file", fix="write them there")
    assert str(refused.value) == (
        f"represent.file: emb.npy is not in the copy of the project this experiment runs in "
        f"({project / '.dvc/tmp/exps/tmpa1b2'}), though {project / 'emb.npy'} is there: `dvc exp run --queue` and "
        "`--temp` copy only what git and DVC track; give its absolute path, or commit it to git or DVC (dvc add "
        "emb.npy, then commit emb.npy.dvc)")
