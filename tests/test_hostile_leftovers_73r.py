"""Review of stop 73's mends: what they left.

- ingest.path edited to another folder, then ingest run by itself (`dvc repro -s ingest`): refused before any image
  is decoded, not once the whole set was read;
- ingest.path spelt otherwise for the folder the source stage listed (``../images`` for its absolute path): read when
  its files are those listed, and where they changed while ingest read them, said so, not that the path was edited;
- a data/source.json of an earlier winnow (no paths record) with ingest.path edited: refused after the reading, as
  before the record.
"""

from __future__ import annotations

import json
import runpy
import shutil

import numpy as np
import pytest
from PIL import Image

import winnow.sources
from hostile_harness import ROOT, assert_nothing_left, files_under, imagefolder_project, make_project
from test_streaming_ingest import ingest_in_process
from winnow.errors import WinnowError


def _listed(tmp_path, monkeypatch, path: str):
    """(project, params): the source stage listed the project's images (tmp_path/images), then params.yaml's
    ingest.path was set to ``path`` (``{tmp}`` stands for tmp_path)."""
    project, params = imagefolder_project(tmp_path)
    monkeypatch.chdir(project)
    runpy.run_path(str(ROOT / "stages/source.py"), run_name="source")["main"]()
    params["ingest"]["path"] = path.format(tmp=tmp_path)
    make_project(project, params)
    return project, params


def _loads(monkeypatch, then=None) -> list:
    """The calls of ingest's load_source, recorded (the real one runs, then ``then``)."""
    calls, real = [], winnow.sources.load_source

    def load(*args, **kwargs):
        calls.append(kwargs.get("path"))
        loaded = real(*args, **kwargs)
        if then is not None:
            then()
        return loaded

    monkeypatch.setattr(winnow.sources, "load_source", load)
    return calls


@pytest.mark.hostile("ingest")
def test_an_edited_ingest_path_is_refused_before_any_image_is_decoded(tmp_path, monkeypatch):
    # before: the edit was found by the check after the reading, so every image of the new folder was decoded first
    # (hours on a large set) for the same refusal
    project, params = _listed(tmp_path, monkeypatch, "{tmp}/other")
    for c in range(3):
        (tmp_path / "other" / f"c{c}").mkdir(parents=True)
        for i in range(12):
            Image.fromarray(np.full((8, 8), 100 + 10 * c + i, np.uint8)).save(tmp_path / "other" / f"c{c}" / f"{i}.png")
    before = files_under(project)
    calls = _loads(monkeypatch)
    with pytest.raises(WinnowError) as refused:
        ingest_in_process(project, monkeypatch)
    assert str(refused.value) == (
        f"ingest.path: the source stage listed {tmp_path / 'images'} (data/source.json), params.yaml names "
        f"{tmp_path / 'other'} now: edited since, and ingest run by itself; nothing was ingested: run `dvc repro "
        "ingest`, which lists it first")
    assert calls == []
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_ingest_path_spelt_otherwise_is_read_and_a_change_while_reading_is_named_as_such(tmp_path, monkeypatch):
    # the source stage listed tmp/images by its absolute path; params.yaml now names it ../images from the project.
    # Before: a file added while ingest read the folder was refused as "the source stage listed <tmp>/images,
    # params.yaml names ../images now: edited since, and ingest run by itself", two spellings of one folder
    project, params = _listed(tmp_path, monkeypatch, "../images")
    calls = _loads(monkeypatch)
    ingest_in_process(project, monkeypatch)  # the files listed: read
    assert calls == ["../images"]
    before = files_under(project)
    added = tmp_path / "images" / "c0" / "new.png"
    _loads(monkeypatch, then=lambda: Image.fromarray(np.full((8, 8), 200, np.uint8)).save(added))
    with pytest.raises(WinnowError) as refused:
        ingest_in_process(project, monkeypatch)
    assert str(refused.value) == (
        "ingest.path: ../images changed after the source stage listed it (36 file(s) then, 37 now, or edited) and "
        "before ingest had read it, so what ingest read is not what data/source.json records; nothing was ingested: "
        "run `dvc repro` again once the data is no longer being written")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_an_edited_ingest_path_with_a_listing_of_an_earlier_winnow_is_refused_as_before(tmp_path, monkeypatch):
    # data/source.json without the paths record (an earlier winnow's): nothing to compare before the reading, so the
    # check after it refuses the new folder's files as it did before the record, and nothing is left behind
    project, params = _listed(tmp_path, monkeypatch, "{tmp}/other")
    listed = json.loads((project / "data/source.json").read_text())
    del listed["listed_paths"]
    (project / "data/source.json").write_text(json.dumps(listed))
    shutil.copytree(tmp_path / "images", tmp_path / "other")
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        ingest_in_process(project, monkeypatch)
    assert str(refused.value) == (
        f"ingest.path: {tmp_path / 'other'} changed after the source stage listed it (36 file(s) then, 36 now, or "
        "edited) and before ingest had read it, so what ingest read is not what data/source.json records; nothing was "
        "ingested: run `dvc repro` again once the data is no longer being written")
    assert_nothing_left(project, before)
